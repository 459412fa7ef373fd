//! `watershed`: marker-based watershed. Positive prompts are object markers, negative
//! prompts (and the outside of a box) background markers; both flood the colour
//! gradient magnitude from low to high, and each pixel takes the label of the flood
//! that reaches it first. The object is where the object markers' flood went.
//!
//! Without any background marker the flood has nothing to stop it: the call is refused
//! unless `border_background` is set, in which case the image border is the background
//! marker (what `limner bench noc`'s first click needs).
//!
//! The flood uses a bucket queue over the quantized gradient (FIFO inside a level), so
//! it is linear in the pixel count.

use std::collections::VecDeque;

use image::RgbImage;
use rayon::prelude::*;
use serde::Deserialize;

use super::{
    BACKGROUND, Connectivity, FOREGROUND, UNKNOWN, box_pixels, check_prompts, prediction, seed_map,
};
use crate::core::geometry::BitMask;
use crate::model::config::ModelConfig;
use crate::model::prompt::{PromptKind, Prompts};
use crate::model::{MaskPredictor, ModelError, Prediction};

/// Settings of the `watershed` backend (all optional).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct WatershedParams {
    /// Radius of a click's marker disk, px.
    pub click_radius: f32,
    /// Radius of a stroke marker, px.
    pub stroke_radius: f32,
    /// Gaussian smoothing before the gradient (σ in px; 0 = none): texture otherwise
    /// makes many small basins.
    pub smooth_sigma: f32,
    /// Use the image border as the background marker when no prompt gives one.
    pub border_background: bool,
    /// Neighbours the flood moves to.
    pub connectivity: Connectivity,
}

impl Default for WatershedParams {
    fn default() -> Self {
        WatershedParams {
            click_radius: 3.0,
            stroke_radius: 2.0,
            smooth_sigma: 1.0,
            border_background: false,
            connectivity: Connectivity::Four,
        }
    }
}

/// The `watershed` backend.
pub struct WatershedPredictor {
    params: WatershedParams,
    prompts: Vec<PromptKind>,
}

impl WatershedPredictor {
    /// Reads the settings of `config`.
    pub fn load(config: &ModelConfig) -> Result<Self, ModelError> {
        Ok(WatershedPredictor {
            params: config.backend()?,
            prompts: config.prompts.clone(),
        })
    }

    /// A predictor with explicit settings.
    pub fn new(params: WatershedParams) -> Self {
        WatershedPredictor {
            params,
            prompts: vec![PromptKind::Click, PromptKind::Scribble, PromptKind::Box],
        }
    }
}

/// Colour gradient magnitude: per-channel Sobel, the largest channel's magnitude
/// (0..=1443), after an optional Gaussian blur.
///
/// The same numbers as `imageproc::filter::gaussian_blur_f32` followed by
/// `imageproc::gradients::sobel_gradient_map` (same kernel, same f32 sums in the same
/// order, edge pixels repeated, truncation to u8 / u16), computed on flat buffers with
/// rows in parallel: the generic per-pixel filters were most of a watershed call.
pub fn gradient_magnitude(image: &RgbImage, sigma: f32) -> Vec<u16> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    if w == 0 || h == 0 {
        return Vec::new();
    }
    let blurred;
    let src: &[u8] = if sigma > 0.0 {
        blurred = gaussian_blur_rgb(image.as_raw(), w, h, &gaussian_kernel(sigma));
        &blurred
    } else {
        image.as_raw()
    };
    let mut out = vec![0u16; w * h];
    out.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        let up = &src[3 * w * y.saturating_sub(1)..][..3 * w];
        let mid = &src[3 * w * y..][..3 * w];
        let down = &src[3 * w * (y + 1).min(h - 1)..][..3 * w];
        for (x, o) in row.iter_mut().enumerate() {
            let (l, r) = (3 * x.saturating_sub(1), 3 * (x + 1).min(w - 1));
            let c = 3 * x;
            let mut best = 0i32;
            for ch in 0..3 {
                let p = |row: &[u8], i: usize| i32::from(row[i + ch]);
                let gx =
                    (p(up, r) - p(up, l)) + 2 * (p(mid, r) - p(mid, l)) + (p(down, r) - p(down, l));
                let gy =
                    (p(down, l) - p(up, l)) + 2 * (p(down, c) - p(up, c)) + (p(down, r) - p(up, r));
                best = best.max(gx * gx + gy * gy);
            }
            // Exact in f32 (< 2^24); sqrt and truncation are monotone, so the largest
            // squared magnitude gives the largest channel magnitude.
            *o = (best as f32).sqrt() as u16;
        }
    });
    out
}

/// imageproc's Gaussian kernel (radius ⌈2σ⌉, normalised), value for value.
fn gaussian_kernel(sigma: f32) -> Vec<f32> {
    let radius = (2.0 * sigma).ceil() as usize;
    let pdf = |x: f32| {
        (sigma * (2.0 * std::f32::consts::PI).sqrt()).recip()
            * (-x.powi(2) / (2.0 * sigma.powi(2))).exp()
    };
    let mut k = vec![0.0f32; 2 * radius + 1];
    for i in 0..=radius {
        let v = pdf(i as f32);
        k[radius + i] = v;
        k[radius - i] = v;
    }
    let sum: f32 = k.iter().sum();
    k.iter_mut().for_each(|x| *x /= sum);
    k
}

/// Separable blur of an RGB buffer: horizontal then vertical pass, each rounded down to
/// u8 (as imageproc's `separable_filter`), edges repeated.
fn gaussian_blur_rgb(src: &[u8], w: usize, h: usize, k: &[f32]) -> Vec<u8> {
    let half = (k.len() / 2) as isize;
    let mut horizontal = vec![0u8; src.len()];
    horizontal
        .par_chunks_mut(3 * w)
        .zip(src.par_chunks(3 * w))
        .for_each(|(out, row)| {
            for x in 0..w {
                let mut acc = [0f32; 3];
                for (i, &kv) in k.iter().enumerate() {
                    let xp = (x as isize + i as isize - half).clamp(0, w as isize - 1) as usize;
                    for ch in 0..3 {
                        acc[ch] += f32::from(row[3 * xp + ch]) * kv;
                    }
                }
                for ch in 0..3 {
                    out[3 * x + ch] = acc[ch] as u8;
                }
            }
        });
    let mut out = vec![0u8; src.len()];
    out.par_chunks_mut(3 * w).enumerate().for_each(|(y, row)| {
        let mut acc = vec![0f32; 3 * w];
        for (i, &kv) in k.iter().enumerate() {
            let yp = (y as isize + i as isize - half).clamp(0, h as isize - 1) as usize;
            for (a, &v) in acc
                .iter_mut()
                .zip(&horizontal[3 * w * yp..3 * w * (yp + 1)])
            {
                *a += f32::from(v) * kv;
            }
        }
        for (o, a) in row.iter_mut().zip(&acc) {
            *o = *a as u8;
        }
    });
    out
}

/// Floods `gradient` from the labelled pixels of `markers` (row-major, 0 = unlabelled);
/// returns the label of every pixel (pixels no flood reaches stay 0).
pub fn flood(
    width: u32,
    height: u32,
    gradient: &[u16],
    markers: &[u8],
    connectivity: Connectivity,
) -> Vec<u8> {
    let wu = width as usize;
    let mut labels = markers.to_vec();
    let max = gradient.iter().copied().max().unwrap_or(0) as usize;
    let mut buckets: Vec<VecDeque<u32>> = vec![VecDeque::new(); max + 1];
    let offsets = connectivity.offsets();
    // A neighbour lower than the water level is queued at the level: the water never
    // goes down, so the current bucket is the lowest non-empty one.
    let push_neighbours =
        |i: usize, level: usize, labels: &mut [u8], buckets: &mut [VecDeque<u32>]| {
            let (x, y) = ((i % wu) as i64, (i / wu) as i64);
            for &(dx, dy) in offsets {
                let (nx, ny) = (x + i64::from(dx), y + i64::from(dy));
                if nx < 0 || ny < 0 || nx >= i64::from(width) || ny >= i64::from(height) {
                    continue;
                }
                let j = ny as usize * wu + nx as usize;
                if labels[j] == UNKNOWN {
                    // Labelled on push (not on pop): each pixel is queued once, and the
                    // flood that reaches it first owns it.
                    labels[j] = labels[i];
                    buckets[level.max(gradient[j] as usize)].push_back(j as u32);
                }
            }
        };
    for i in 0..labels.len() {
        if labels[i] != UNKNOWN && markers[i] != UNKNOWN {
            push_neighbours(i, 0, &mut labels, &mut buckets);
        }
    }
    let mut level = 0;
    while level <= max {
        match buckets[level].pop_front() {
            Some(i) => push_neighbours(i as usize, level, &mut labels, &mut buckets),
            None => level += 1,
        }
    }
    labels
}

impl MaskPredictor for WatershedPredictor {
    fn supports(&self) -> &[PromptKind] {
        &self.prompts
    }

    fn predict(&mut self, image: &RgbImage, prompts: &Prompts) -> Result<Prediction, ModelError> {
        check_prompts("watershed", image, prompts)?;
        let (w, h) = image.dimensions();
        let p = &self.params;
        let mut markers = seed_map(w, h, prompts, p.click_radius, p.stroke_radius);
        if !markers.contains(&FOREGROUND) {
            return Err(ModelError::Prompt(
                "watershed: give a positive click or scribble on the object (the object \
                 marker)"
                    .into(),
            ));
        }
        if let Some(b) = prompts.bbox {
            let r = box_pixels(b, w, h).ok_or_else(|| {
                ModelError::Prompt(format!("watershed: the box {b:?} covers no pixel"))
            })?;
            for y in 0..h {
                for x in 0..w {
                    if x < r.x0 || y < r.y0 || x >= r.x1 || y >= r.y1 {
                        markers[y as usize * w as usize + x as usize] = BACKGROUND;
                    }
                }
            }
        }
        if !markers.contains(&BACKGROUND) {
            if !p.border_background {
                return Err(ModelError::Prompt(
                    "watershed: needs a background marker too: add a negative click or \
                     scribble outside the object, or a box (its outside is background); \
                     without one the object's flood fills the whole image"
                        .into(),
                ));
            }
            for y in 0..h {
                for x in 0..w {
                    let i = y as usize * w as usize + x as usize;
                    if (x == 0 || y == 0 || x + 1 == w || y + 1 == h) && markers[i] == UNKNOWN {
                        markers[i] = BACKGROUND;
                    }
                }
            }
        }
        let gradient = gradient_magnitude(image, p.smooth_sigma);
        let labels = flood(w, h, &gradient, &markers, p.connectivity);
        let mask = BitMask {
            width: w,
            height: h,
            data: labels.iter().map(|&l| u8::from(l == FOREGROUND)).collect(),
        };
        Ok(prediction(mask))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::classical::fixtures;
    use crate::model::noc::iou;
    use crate::model::prompt::Click;

    fn with_border() -> WatershedPredictor {
        WatershedPredictor::new(WatershedParams {
            border_background: true,
            ..Default::default()
        })
    }

    #[test]
    fn one_click_with_the_border_as_background_segments_the_object() {
        let (img, gt, extra) = fixtures::scene();
        let m = with_border()
            .predict(&img, &fixtures::click_in_object())
            .unwrap()
            .mask;
        // No edge between ellipse and appendage: the flood takes both.
        let mut both = gt.clone();
        for (d, e) in both.data.iter_mut().zip(&extra.data) {
            *d |= e;
        }
        let v = iou(&both, &m);
        assert!(v >= 0.9, "IoU {v:.3}");
    }

    #[test]
    fn a_negative_click_in_the_appendage_shrinks_the_mask() {
        let (img, gt, _) = fixtures::scene();
        let mut ws = with_border();
        let before = ws.predict(&img, &fixtures::click_in_object()).unwrap().mask;
        let mut p = fixtures::click_in_object();
        p.clicks.push(fixtures::negative_click_on_appendage());
        let after = ws.predict(&img, &p).unwrap().mask;
        assert!(after.area() < before.area());
        // The seam has no gradient, so the split lands somewhere between the markers:
        // most of the appendage goes, the ellipse stays.
        let v = iou(&gt, &after);
        assert!(v >= 0.85, "IoU {v:.3}");
    }

    #[test]
    fn a_box_gives_the_background_marker() {
        let (img, gt, _) = fixtures::scene();
        let mut ws = WatershedPredictor::new(WatershedParams::default());
        let mut p = fixtures::click_in_object();
        p.bbox = Some([55.0, 60.0, 226.0, 182.0]);
        let v = iou(&gt, &ws.predict(&img, &p).unwrap().mask);
        assert!(v >= 0.9, "IoU {v:.3}");
    }

    #[test]
    fn no_background_marker_is_refused_with_an_explanation() {
        let (img, _, _) = fixtures::scene();
        let mut ws = WatershedPredictor::new(WatershedParams::default());
        let e = ws
            .predict(&img, &fixtures::click_in_object())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("background marker") && e.contains("negative"),
            "{e}"
        );
        let only_negative = Prompts {
            clicks: vec![Click {
                x: 5.0,
                y: 5.0,
                positive: false,
            }],
            ..Default::default()
        };
        let e = ws.predict(&img, &only_negative).unwrap_err().to_string();
        assert!(e.contains("object marker"), "{e}");
    }

    #[test]
    fn gradient_matches_imageproc() {
        // The hand-written blur + Sobel must give imageproc's numbers exactly.
        let reference = |img: &RgbImage, sigma: f32| {
            let src = if sigma > 0.0 {
                imageproc::filter::gaussian_blur_f32(img, sigma)
            } else {
                img.clone()
            };
            imageproc::gradients::sobel_gradient_map(&src, |p| {
                image::Luma([p[0].max(p[1]).max(p[2])])
            })
            .into_raw()
        };
        let (scene, _, _) = fixtures::scene();
        let noisy = RgbImage::from_fn(67, 41, |x, y| {
            let v = ((x * 2_654_435_761u32) ^ y.wrapping_mul(40_503)).wrapping_mul(2_246_822_519);
            image::Rgb([(v >> 24) as u8, (v >> 16) as u8, (v >> 8) as u8])
        });
        let tiny = RgbImage::from_fn(2, 3, |x, y| {
            image::Rgb([(x * 200) as u8, (y * 90) as u8, 7])
        });
        for img in [&scene, &noisy, &tiny] {
            for sigma in [0.0, 0.6, 1.0, 2.5] {
                assert!(
                    gradient_magnitude(img, sigma) == reference(img, sigma),
                    "{}x{} sigma {sigma}",
                    img.width(),
                    img.height()
                );
            }
        }
    }

    #[test]
    fn flood_splits_at_the_ridge() {
        // A 1-D ridge at x = 5: markers at both ends meet there.
        let grad: Vec<u16> = (0..10).map(|x| if x == 5 { 100 } else { 1 }).collect();
        let mut markers = vec![0u8; 10];
        markers[0] = FOREGROUND;
        markers[9] = BACKGROUND;
        let l = flood(10, 1, &grad, &markers, Connectivity::Four);
        assert_eq!(&l[..5], &[FOREGROUND; 5]);
        assert_eq!(&l[6..], &[BACKGROUND; 4]);
    }
}
