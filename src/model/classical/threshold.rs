//! `threshold`: a level (Otsu's, or a manual grey one) splits the pixels inside a box or
//! around a click; the side of the level the positive prompts fall on is the object.
//!
//! - Level: the config's `level` (a grey level), else Otsu over the box, else over a
//!   square of `window` px around the prompts (a local level suits uneven lighting).
//! - Axis: with Otsu's level, the pixels are thresholded along grey, or along the main
//!   colour axis of the region when that separates clearly better (a red object on a
//!   grey background of the same brightness has no grey edge at all).
//! - Object side: the side most positive seed pixels fall on; with a box only, the side
//!   rarer on the box's edge (the background surrounds the object).
//! - With positive prompts, only the connected parts touching them are kept; negative
//!   prompts are barriers (their pixels are cut out) and drop the parts they touch
//!   unless a positive prompt touches them too.
//!
//! [`threshold_mask`] is the core, cheap enough to rerun on every move of a level
//! slider (about a millisecond at 481x321).

use image::{GrayImage, RgbImage};
use imageproc::region_labelling::connected_components;
use serde::Deserialize;

use super::{
    BACKGROUND, Connectivity, FOREGROUND, box_pixels, check_prompts, prediction, seed_map,
};
use crate::core::geometry::{BitMask, PixelRect};
use crate::model::config::ModelConfig;
use crate::model::prompt::{PromptKind, Prompts};
use crate::model::{MaskPredictor, ModelError, Prediction};

/// Settings of the `threshold` backend (all optional).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ThresholdParams {
    /// Manual grey level (0-255, pixels above it are "bright"); `null` = Otsu.
    pub level: Option<u8>,
    /// Half side of the square around the prompts that Otsu's level is computed over
    /// when there is no box.
    pub window: u32,
    /// Radius of a click's seed disk, px.
    pub click_radius: f32,
    /// Radius of a stroke, px.
    pub stroke_radius: f32,
    /// Connectivity of the kept parts.
    pub connectivity: Connectivity,
}

impl Default for ThresholdParams {
    fn default() -> Self {
        ThresholdParams {
            level: None,
            window: 60,
            click_radius: 2.0,
            stroke_radius: 1.5,
            connectivity: Connectivity::Eight,
        }
    }
}

/// The `threshold` backend.
pub struct ThresholdPredictor {
    params: ThresholdParams,
    prompts: Vec<PromptKind>,
}

impl ThresholdPredictor {
    /// Reads the settings of `config`.
    pub fn load(config: &ModelConfig) -> Result<Self, ModelError> {
        Ok(ThresholdPredictor {
            params: config.backend()?,
            prompts: config.prompts.clone(),
        })
    }

    /// A predictor with explicit settings.
    pub fn new(params: ThresholdParams) -> Self {
        ThresholdPredictor {
            params,
            prompts: vec![PromptKind::Click, PromptKind::Scribble, PromptKind::Box],
        }
    }

    /// Sets the manual level (`None` = Otsu): the app's level slider.
    pub fn set_level(&mut self, level: Option<u8>) {
        self.params.level = level;
    }
}

/// Otsu's level over the pixels of `gray` inside `r`.
pub fn otsu_in(gray: &GrayImage, r: PixelRect) -> u8 {
    let sub = image::imageops::crop_imm(gray, r.x0, r.y0, r.width(), r.height()).to_image();
    imageproc::contrast::otsu_level(&sub)
}

/// How well `level` splits the pixels of `gray` in `r`: between-class variance over
/// total variance (Otsu's effectiveness, 0 = no split, 1 = two flat classes).
fn separation(gray: &GrayImage, r: PixelRect, level: u8) -> f64 {
    let mut hist = [0u64; 256];
    for y in r.y0..r.y1 {
        for x in r.x0..r.x1 {
            hist[usize::from(gray.get_pixel(x, y)[0])] += 1;
        }
    }
    let n: u64 = hist.iter().sum();
    let (mut sum, mut sum_low, mut n_low) = (0f64, 0f64, 0u64);
    for (v, &c) in hist.iter().enumerate() {
        sum += v as f64 * c as f64;
        if v <= usize::from(level) {
            sum_low += v as f64 * c as f64;
            n_low += c;
        }
    }
    let n_high = n - n_low;
    if n_low == 0 || n_high == 0 {
        return 0.0;
    }
    let mean = sum / n as f64;
    let total: f64 = hist
        .iter()
        .enumerate()
        .map(|(v, &c)| c as f64 * (v as f64 - mean).powi(2))
        .sum::<f64>()
        / n as f64;
    if total <= 0.0 {
        return 0.0;
    }
    let (m_low, m_high) = (sum_low / n_low as f64, (sum - sum_low) / n_high as f64);
    let (w_low, w_high) = (n_low as f64 / n as f64, n_high as f64 / n as f64);
    w_low * w_high * (m_low - m_high).powi(2) / total
}

/// The image projected on the main colour axis of region `r` (the principal component
/// of its RGB values), stretched so the region spans 0-255.
fn main_colour_axis(image: &RgbImage, r: PixelRect) -> GrayImage {
    let pixels = || {
        (r.y0..r.y1)
            .flat_map(move |y| (r.x0..r.x1).map(move |x| image.get_pixel(x, y).0.map(f64::from)))
    };
    let n = (r.area() as f64).max(1.0);
    let mut mean = [0f64; 3];
    for p in pixels() {
        for c in 0..3 {
            mean[c] += p[c] / n;
        }
    }
    let mut cov = [[0f64; 3]; 3];
    for p in pixels() {
        let d = [p[0] - mean[0], p[1] - mean[1], p[2] - mean[2]];
        for i in 0..3 {
            for j in 0..3 {
                cov[i][j] += d[i] * d[j] / n;
            }
        }
    }
    // Power iteration: the covariance is 3x3 and symmetric, a few dozen steps settle it.
    let mut axis = [0.577f64, 0.577, 0.577];
    for _ in 0..50 {
        let next: Vec<f64> = (0..3)
            .map(|i| (0..3).map(|j| cov[i][j] * axis[j]).sum())
            .collect();
        let len = next.iter().map(|v| v * v).sum::<f64>().sqrt();
        if len <= f64::EPSILON {
            break;
        }
        axis = [next[0] / len, next[1] / len, next[2] / len];
    }
    let project = |p: [f64; 3]| (0..3).map(|c| (p[c] - mean[c]) * axis[c]).sum::<f64>();
    let (lo, hi) = pixels()
        .map(project)
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let scale = if hi > lo { 255.0 / (hi - lo) } else { 0.0 };
    GrayImage::from_fn(image.width(), image.height(), |x, y| {
        let v = (project(image.get_pixel(x, y).0.map(f64::from)) - lo) * scale;
        image::Luma([v.round().clamp(0.0, 255.0) as u8])
    })
}

/// How much better (in Otsu's effectiveness) the colour axis must split the region
/// before it replaces grey, so images that split well on grey keep their grey result.
const COLOUR_AXIS_MARGIN: f64 = 0.15;

/// The channel to threshold and Otsu's level on it over `region`: grey, or the main
/// colour axis when that separates clearly better.
fn otsu_channel(image: &RgbImage, gray: GrayImage, region: PixelRect) -> (GrayImage, u8) {
    let grey_level = otsu_in(&gray, region);
    let grey_split = separation(&gray, region, grey_level);
    let colour = main_colour_axis(image, region);
    let colour_level = otsu_in(&colour, region);
    if separation(&colour, region, colour_level) > grey_split + COLOUR_AXIS_MARGIN {
        (colour, colour_level)
    } else {
        (gray, grey_level)
    }
}

/// The object mask for a level: pixels in `region` on the object side (`bright`: above
/// `level`, else at or below), cut by negative seeds, keeping the parts touching a
/// positive seed (all parts when there is none) and dropping those touching only
/// negative seeds. `seeds` is a [`seed_map`].
pub fn threshold_mask(
    gray: &GrayImage,
    region: PixelRect,
    level: u8,
    bright: bool,
    seeds: &[u8],
    connectivity: Connectivity,
) -> BitMask {
    let (w, h) = gray.dimensions();
    let wu = w as usize;
    let candidate = GrayImage::from_fn(w, h, |x, y| {
        let inside = x >= region.x0 && x < region.x1 && y >= region.y0 && y < region.y1;
        let on_side = (gray.get_pixel(x, y)[0] > level) == bright;
        let barrier = seeds[y as usize * wu + x as usize] == BACKGROUND;
        image::Luma([u8::from(inside && on_side && !barrier)])
    });
    let conn = match connectivity {
        Connectivity::Four => imageproc::region_labelling::Connectivity::Four,
        Connectivity::Eight => imageproc::region_labelling::Connectivity::Eight,
    };
    let labels = connected_components(&candidate, conn, image::Luma([0u8]));
    let n = labels.as_raw().iter().copied().max().unwrap_or(0) as usize;
    let (mut pos, mut neg) = (vec![false; n + 1], vec![false; n + 1]);
    let any_positive = seeds.contains(&FOREGROUND);
    for (i, &s) in seeds.iter().enumerate() {
        let (x, y) = ((i % wu) as i64, (i / wu) as i64);
        match s {
            FOREGROUND => pos[labels.as_raw()[i] as usize] = true,
            // A barrier pixel is not in any part: mark the parts next to it.
            BACKGROUND => {
                for &(dx, dy) in Connectivity::Eight.offsets() {
                    let (nx, ny) = (x + i64::from(dx), y + i64::from(dy));
                    if nx >= 0 && ny >= 0 && nx < i64::from(w) && ny < i64::from(h) {
                        neg[labels.as_raw()[ny as usize * wu + nx as usize] as usize] = true;
                    }
                }
            }
            _ => {}
        }
    }
    let keep: Vec<bool> = (0..=n)
        .map(|l| l != 0 && (pos[l] || (!any_positive && !neg[l])))
        .collect();
    BitMask {
        width: w,
        height: h,
        data: labels
            .as_raw()
            .iter()
            .map(|&l| u8::from(keep[l as usize]))
            .collect(),
    }
}

impl MaskPredictor for ThresholdPredictor {
    fn supports(&self) -> &[PromptKind] {
        &self.prompts
    }

    fn set_option(&mut self, name: &str, value: f64) -> bool {
        if name != "level" {
            return false;
        }
        // 0 (or below) = Otsu; the app's slider sends whole levels.
        let level = value.round().clamp(0.0, 255.0) as u8;
        self.set_level((level > 0).then_some(level));
        true
    }

    fn predict(&mut self, image: &RgbImage, prompts: &Prompts) -> Result<Prediction, ModelError> {
        check_prompts("threshold", image, prompts)?;
        let (w, h) = image.dimensions();
        let p = &self.params;
        let seeds = seed_map(w, h, prompts, p.click_radius, p.stroke_radius);
        let any_positive = seeds.contains(&FOREGROUND);
        let bbox = match prompts.bbox {
            Some(b) => Some(box_pixels(b, w, h).ok_or_else(|| {
                ModelError::Prompt(format!("threshold: the box {b:?} covers no pixel"))
            })?),
            None => None,
        };
        if bbox.is_none() && !any_positive {
            return Err(ModelError::Prompt(
                "threshold: give a box or a positive click / scribble (negative prompts only \
                 remove parts)"
                    .into(),
            ));
        }
        let gray = image::imageops::grayscale(image);
        // Where the level is measured and where the mask may grow.
        let (level_region, region) = match bbox {
            Some(b) => (b, b),
            None => {
                let pos = Prompts {
                    clicks: prompts
                        .clicks
                        .iter()
                        .filter(|c| c.positive)
                        .copied()
                        .collect(),
                    strokes: prompts
                        .strokes
                        .iter()
                        .filter(|s| s.positive)
                        .cloned()
                        .collect(),
                    ..Default::default()
                };
                let b = pos.bounds().unwrap_or([0.0, 0.0, w as f32, h as f32]);
                let win = p.window as f32;
                let r = box_pixels([b[0] - win, b[1] - win, b[2] + win, b[3] + win], w, h)
                    .unwrap_or(PixelRect::full(w, h));
                (r, PixelRect::full(w, h))
            }
        };
        let (gray, level) = match p.level {
            Some(level) => (gray, level),
            None => otsu_channel(image, gray, level_region),
        };
        let wu = w as usize;
        let bright = if any_positive {
            let (mut above, mut total) = (0usize, 0usize);
            for (i, _) in seeds.iter().enumerate().filter(|(_, s)| **s == FOREGROUND) {
                total += 1;
                above += usize::from(gray.as_raw()[i] > level);
            }
            2 * above >= total
        } else {
            // Box only: the side rarer on the box's edge is the object.
            let r = level_region;
            let (mut above, mut total) = (0usize, 0usize);
            for y in r.y0..r.y1 {
                for x in r.x0..r.x1 {
                    if x == r.x0 || y == r.y0 || x + 1 == r.x1 || y + 1 == r.y1 {
                        total += 1;
                        above += usize::from(gray.as_raw()[y as usize * wu + x as usize] > level);
                    }
                }
            }
            2 * above < total
        };
        let mask = threshold_mask(&gray, region, level, bright, &seeds, p.connectivity);
        Ok(prediction(mask))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::classical::fixtures;
    use crate::model::noc::iou;

    #[test]
    fn one_click_segments_the_object_and_its_touching_twin() {
        let (img, gt, extra) = fixtures::scene();
        let mut t = ThresholdPredictor::new(ThresholdParams::default());
        let m = t.predict(&img, &fixtures::click_in_object()).unwrap().mask;
        // The appendage has the same brightness and touches the ellipse: a threshold
        // cannot tell them apart, so it comes along.
        let mut both = gt.clone();
        for (d, e) in both.data.iter_mut().zip(&extra.data) {
            *d |= e;
        }
        let v = iou(&both, &m);
        assert!(v >= 0.9, "IoU {v:.3}");
    }

    #[test]
    fn a_box_alone_segments_the_object() {
        let (img, gt, _) = fixtures::scene();
        let mut t = ThresholdPredictor::new(ThresholdParams::default());
        let p = Prompts {
            bbox: Some([55.0, 60.0, 212.0, 180.0]),
            ..Default::default()
        };
        let v = iou(&gt, &t.predict(&img, &p).unwrap().mask);
        assert!(v >= 0.9, "IoU {v:.3}");
    }

    /// A red ellipse on a grey background of the same luminance: grey levels see noise
    /// only (IoU 0.35 from a box before the colour axis); the colour axis separates.
    #[test]
    fn a_box_segments_a_colour_object_of_background_brightness() {
        let (w, h) = (240u32, 180u32);
        let mut gt = BitMask::new(w, h);
        let img = RgbImage::from_fn(w, h, |x, y| {
            let (dx, dy) = ((x as f32 - 120.0) / 70.0, (y as f32 - 90.0) / 45.0);
            let inside = dx * dx + dy * dy <= 1.0;
            gt.set(i64::from(x), i64::from(y), inside);
            let noise = ((x * 7 + y * 13) % 17) as u8;
            if inside {
                image::Rgb([190 + noise, noise / 2, noise / 2])
            } else {
                image::Rgb([38 + noise, 38 + noise, 38 + noise])
            }
        });
        let gray = image::imageops::grayscale(&img);
        let mean = |inside: bool| {
            let px: Vec<f64> = gray
                .pixels()
                .zip(&gt.data)
                .filter(|(_, g)| (**g != 0) == inside)
                .map(|(p, _)| f64::from(p[0]))
                .collect();
            px.iter().sum::<f64>() / px.len() as f64
        };
        assert!(
            (mean(true) - mean(false)).abs() < 3.0,
            "the scene must be iso-luminant"
        );
        let mut t = ThresholdPredictor::new(ThresholdParams::default());
        let p = Prompts {
            bbox: Some([40.0, 35.0, 200.0, 145.0]),
            ..Default::default()
        };
        let v = iou(&gt, &t.predict(&img, &p).unwrap().mask);
        assert!(v >= 0.9, "IoU {v:.3}");
    }

    #[test]
    fn a_negative_stroke_cuts_and_a_negative_click_drops_a_part() {
        let (img, gt, extra) = fixtures::scene();
        let mut t = ThresholdPredictor::new(ThresholdParams::default());
        let before = t.predict(&img, &fixtures::click_in_object()).unwrap().mask;
        // A stroke along the seam between ellipse and square cuts the square off.
        let mut p = fixtures::click_in_object();
        p.strokes.push(crate::model::prompt::Stroke {
            points: vec![[218.0, 95.0], [218.0, 145.0]],
            positive: false,
        });
        let after = t.predict(&img, &p).unwrap().mask;
        assert!(after.area() < before.area());
        let v = iou(&gt, &after);
        assert!(v >= 0.9, "IoU {v:.3}");
        let in_square = after
            .data
            .iter()
            .zip(&extra.data)
            .filter(|(a, e)| **a != 0 && **e != 0);
        assert!(in_square.count() < 50);
    }

    #[test]
    fn manual_level_and_bad_prompts() {
        let (img, _, _) = fixtures::scene();
        let mut t = ThresholdPredictor::new(ThresholdParams::default());
        t.set_level(Some(250));
        // Nothing is brighter than 250 in the scene: the click's side is "dark", the
        // background part it touches is the whole dark surround.
        let m = t.predict(&img, &fixtures::click_in_object()).unwrap().mask;
        assert!(m.area() > 30_000);
        let only_negative = Prompts {
            clicks: vec![fixtures::negative_click_on_appendage()],
            ..Default::default()
        };
        let e = t.predict(&img, &only_negative).unwrap_err().to_string();
        assert!(e.contains("box or a positive"), "{e}");
        let e = t
            .predict(&img, &Prompts::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("at least one"), "{e}");
    }

    #[test]
    fn the_level_option_sets_a_manual_level_and_zero_is_otsu() {
        let (img, _, _) = fixtures::scene();
        let mut t = ThresholdPredictor::new(ThresholdParams::default());
        let otsu = t.predict(&img, &fixtures::click_in_object()).unwrap().mask;
        assert!(t.set_option("level", 250.0));
        let manual = t.predict(&img, &fixtures::click_in_object()).unwrap().mask;
        assert!(manual.area() > 30_000 && manual.data != otsu.data);
        assert!(t.set_option("level", 0.0));
        let back = t.predict(&img, &fixtures::click_in_object()).unwrap().mask;
        assert_eq!(back.data, otsu.data);
        assert!(!t.set_option("tolerance", 3.0));
    }
}
