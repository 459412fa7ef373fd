//! `superpixel`: SLIC superpixels (Achanta et al. 2012), and a predictor that returns
//! the superpixels under the positive clicks / strokes minus those under the negative
//! ones. The app's superpixel brush paints with the same label image.
//!
//! [`slic`] is the core: k-means in (L*a*b*, x, y) with each centre searching a 2S x 2S
//! window (S = the grid step), then small or disconnected fragments merged into a
//! neighbour so that every label is one connected piece. The predictor keeps the label
//! image of the last image it saw, so repeated prompts on one image pay for SLIC once.

use std::collections::VecDeque;

use image::{ImageBuffer, Luma, RgbImage};
use serde::Deserialize;

use super::{BACKGROUND, FOREGROUND, check_prompts, lab_image, prediction, seed_map};
use crate::core::geometry::BitMask;
use crate::model::config::ModelConfig;
use crate::model::prompt::{PromptKind, Prompts};
use crate::model::{MaskPredictor, ModelError, Prediction};

/// A label image: one superpixel id per pixel, ids `0..n` with no gaps.
pub type Labels = ImageBuffer<Luma<u32>, Vec<u32>>;

/// SLIC k-means rounds; 10 is the paper's choice (residual error settles by then).
const ROUNDS: usize = 10;

/// SLIC superpixels of `image`: about `n_segments` of them; `compactness` (the paper's
/// m, 1-40; 10 is usual) weighs spatial against L*a*b* distance.
pub fn slic(image: &RgbImage, n_segments: u32, compactness: f32) -> Labels {
    let (w, h) = image.dimensions();
    let (wu, hu) = (w as usize, h as usize);
    if w == 0 || h == 0 {
        return Labels::new(w, h);
    }
    let lab = lab_image(image);
    let step = ((wu * hu) as f32 / n_segments.max(1) as f32)
        .sqrt()
        .max(1.0);
    // Centres: [L, a, b, x, y] on a grid, offset by half a step.
    let mut centres: Vec<[f32; 5]> = Vec::new();
    let mut y = step / 2.0;
    while y < h as f32 {
        let mut x = step / 2.0;
        while x < w as f32 {
            let (cx, cy) = (x as usize, y as usize);
            let c = lab[cy * wu + cx];
            centres.push([c[0], c[1], c[2], cx as f32, cy as f32]);
            x += step;
        }
        y += step;
    }
    let m2s2 = (compactness / step).powi(2);
    let mut label = vec![0u32; wu * hu];
    let mut best = vec![f32::INFINITY; wu * hu];
    let reach = step.ceil() as i64;
    for _ in 0..ROUNDS {
        best.fill(f32::INFINITY);
        for (k, c) in centres.iter().enumerate() {
            let (cx, cy) = (c[3] as i64, c[4] as i64);
            for y in (cy - reach).max(0)..(cy + reach + 1).min(h as i64) {
                for x in (cx - reach).max(0)..(cx + reach + 1).min(w as i64) {
                    let i = y as usize * wu + x as usize;
                    let p = lab[i];
                    let dc = (p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2) + (p[2] - c[2]).powi(2);
                    let ds = (x as f32 - c[3]).powi(2) + (y as f32 - c[4]).powi(2);
                    let d = dc + ds * m2s2;
                    if d < best[i] {
                        best[i] = d;
                        label[i] = k as u32;
                    }
                }
            }
        }
        let mut sum = vec![[0f64; 6]; centres.len()];
        for (i, &l) in label.iter().enumerate() {
            let p = lab[i];
            let s = &mut sum[l as usize];
            s[0] += f64::from(p[0]);
            s[1] += f64::from(p[1]);
            s[2] += f64::from(p[2]);
            s[3] += (i % wu) as f64;
            s[4] += (i / wu) as f64;
            s[5] += 1.0;
        }
        for (c, s) in centres.iter_mut().zip(&sum) {
            if s[5] > 0.0 {
                for d in 0..5 {
                    c[d] = (s[d] / s[5]) as f32;
                }
            }
        }
    }
    enforce_connectivity(&label, w, h, ((step * step) as usize / 4).max(1))
}

/// Relabels `label` so that each id is one 4-connected piece; pieces smaller than
/// `min_size` join the piece left of / above their first pixel.
fn enforce_connectivity(label: &[u32], w: u32, h: u32, min_size: usize) -> Labels {
    let (wu, hu) = (w as usize, h as usize);
    const NONE: u32 = u32::MAX;
    let mut out = vec![NONE; wu * hu];
    let mut next = 0u32;
    let mut piece = Vec::new();
    let mut queue = VecDeque::new();
    for start in 0..wu * hu {
        if out[start] != NONE {
            continue;
        }
        // The already-labelled neighbour a too-small piece joins.
        let (sx, sy) = (start % wu, start / wu);
        let adjacent = if sx > 0 {
            Some(out[start - 1])
        } else if sy > 0 {
            Some(out[start - wu])
        } else {
            None
        };
        piece.clear();
        out[start] = next;
        queue.push_back(start);
        while let Some(i) = queue.pop_front() {
            piece.push(i);
            let (x, y) = (i % wu, i / wu);
            let mut visit = |j: usize| {
                if out[j] == NONE && label[j] == label[start] {
                    out[j] = next;
                    queue.push_back(j);
                }
            };
            if x > 0 {
                visit(i - 1);
            }
            if x + 1 < wu {
                visit(i + 1);
            }
            if y > 0 {
                visit(i - wu);
            }
            if y + 1 < hu {
                visit(i + wu);
            }
        }
        match adjacent {
            Some(a) if piece.len() < min_size => {
                for &i in &piece {
                    out[i] = a;
                }
            }
            _ => next += 1,
        }
    }
    Labels::from_raw(w, h, out).expect("one label per pixel")
}

/// Settings of the `superpixel` backend (all optional).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct SuperpixelParams {
    /// About this many superpixels per image.
    pub n_segments: u32,
    /// SLIC compactness m.
    pub compactness: f32,
    /// Radius of a click, px (the brush's radius in the app).
    pub click_radius: f32,
    /// Radius of a stroke, px.
    pub stroke_radius: f32,
}

impl Default for SuperpixelParams {
    fn default() -> Self {
        SuperpixelParams {
            n_segments: 400,
            compactness: 10.0,
            click_radius: 0.0,
            stroke_radius: 1.0,
        }
    }
}

/// The `superpixel` backend.
pub struct SuperpixelPredictor {
    params: SuperpixelParams,
    prompts: Vec<PromptKind>,
    /// Fingerprints of recent images and their labels, least recently used first: the
    /// current image and the next one (pre-computed by `prepare`).
    cache: Vec<(u64, Labels)>,
}

impl SuperpixelPredictor {
    /// Reads the settings of `config`.
    pub fn load(config: &ModelConfig) -> Result<Self, ModelError> {
        let params: SuperpixelParams = config.backend()?;
        if params.n_segments == 0 {
            return Err(ModelError::Config {
                path: config.path.display().to_string(),
                message: "field `n_segments`: must be at least 1".into(),
            });
        }
        Ok(SuperpixelPredictor {
            params,
            prompts: config.prompts.clone(),
            cache: Vec::new(),
        })
    }

    /// A predictor with explicit settings.
    pub fn new(params: SuperpixelParams) -> Self {
        SuperpixelPredictor {
            params,
            prompts: vec![PromptKind::Click, PromptKind::Scribble],
            cache: Vec::new(),
        }
    }

    /// The superpixels of `image`, computed on first use and kept for the same image.
    pub fn labels(&mut self, image: &RgbImage) -> &Labels {
        let key = crate::model::image_key(image);
        match self.cache.iter().position(|(k, _)| *k == key) {
            Some(i) => {
                let hit = self.cache.remove(i);
                self.cache.push(hit);
            }
            None => {
                let l = slic(image, self.params.n_segments, self.params.compactness);
                if self.cache.len() >= 2 {
                    self.cache.remove(0);
                }
                self.cache.push((key, l));
            }
        }
        &self.cache.last().expect("just filled").1
    }
}

/// The superpixels marked [`FOREGROUND`] in `seeds` minus those marked [`BACKGROUND`].
pub fn select(labels: &Labels, seeds: &[u8]) -> BitMask {
    let n = labels
        .as_raw()
        .iter()
        .copied()
        .max()
        .map_or(0, |m| m as usize + 1);
    let mut state = vec![0u8; n];
    for (&l, &s) in labels.as_raw().iter().zip(seeds) {
        match s {
            FOREGROUND if state[l as usize] == 0 => state[l as usize] = FOREGROUND,
            BACKGROUND => state[l as usize] = BACKGROUND,
            _ => {}
        }
    }
    BitMask {
        width: labels.width(),
        height: labels.height(),
        data: labels
            .as_raw()
            .iter()
            .map(|&l| u8::from(state[l as usize] == FOREGROUND))
            .collect(),
    }
}

impl MaskPredictor for SuperpixelPredictor {
    fn supports(&self) -> &[PromptKind] {
        &self.prompts
    }

    /// SLIC runs once per image on the worker, before the first stroke.
    fn prepare(&mut self, image: &RgbImage) -> Result<(), ModelError> {
        self.labels(image);
        Ok(())
    }

    fn has_per_image_work(&self) -> bool {
        true
    }

    fn predict(&mut self, image: &RgbImage, prompts: &Prompts) -> Result<Prediction, ModelError> {
        check_prompts("superpixel", image, prompts)?;
        if prompts.bbox.is_some() {
            return Err(ModelError::Prompt(
                "superpixel: a box is not a brush stroke: click or paint on the superpixels \
                 to take"
                    .into(),
            ));
        }
        let (w, h) = image.dimensions();
        let (cr, sr) = (self.params.click_radius, self.params.stroke_radius);
        let seeds = seed_map(w, h, prompts, cr, sr);
        if !seeds.contains(&FOREGROUND) {
            return Err(ModelError::Prompt(
                "superpixel: give a positive click or stroke (negative ones only remove \
                 superpixels)"
                    .into(),
            ));
        }
        let labels = self.labels(image);
        Ok(prediction(select(labels, &seeds)))
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn prepare_keeps_the_current_and_the_next_image() {
        let img = |v: u8| RgbImage::from_pixel(40, 30, image::Rgb([v, v, v]));
        let mut p = SuperpixelPredictor::new(Default::default());
        let (a, b, c) = (img(10), img(20), img(30));
        p.prepare(&a).unwrap();
        p.prepare(&b).unwrap();
        assert_eq!(p.cache.len(), 2);
        let key_a = p.cache[0].0;
        p.labels(&a); // a is used again: b becomes the oldest
        p.prepare(&c).unwrap();
        assert_eq!(p.cache.len(), 2);
        assert!(
            p.cache.iter().any(|(k, _)| *k == key_a),
            "the image in use stays cached"
        );
    }
    use super::*;
    use crate::model::classical::fixtures;
    use crate::model::noc::iou;
    use crate::model::prompt::Stroke;

    #[test]
    fn slic_gives_about_n_compact_connected_segments() {
        let (img, _, _) = fixtures::scene();
        let l = slic(&img, 200, 10.0);
        let n = l.as_raw().iter().copied().max().unwrap() + 1;
        assert!((120..=260).contains(&n), "{n} segments");
        // Every id is one 4-connected piece.
        let parts = imageproc::region_labelling::connected_components(
            &l,
            imageproc::region_labelling::Connectivity::Four,
            Luma([u32::MAX]),
        );
        let pieces = parts.as_raw().iter().copied().max().unwrap();
        assert_eq!(pieces, n);
    }

    #[test]
    fn a_stroke_across_the_object_takes_its_superpixels() {
        let (img, gt, _) = fixtures::scene();
        // Coarse superpixels: few enough that a stroke along the long axis touches all
        // of the ellipse's, and superpixels follow its edge.
        let mut sp = SuperpixelPredictor::new(SuperpixelParams {
            n_segments: 60,
            compactness: 20.0,
            ..Default::default()
        });
        let p = Prompts {
            strokes: vec![
                Stroke {
                    points: vec![
                        [75.0, 120.0],
                        [140.0, 80.0],
                        [205.0, 120.0],
                        [140.0, 160.0],
                        [75.0, 120.0],
                    ],
                    positive: true,
                },
                Stroke {
                    points: vec![[75.0, 120.0], [205.0, 120.0]],
                    positive: true,
                },
            ],
            ..Default::default()
        };
        let m = sp.predict(&img, &p).unwrap().mask;
        let v = iou(&gt, &m);
        eprintln!("superpixel: area {} of {}, IoU {v:.3}", m.area(), gt.area());
        assert!(v >= 0.9, "IoU {v:.3}");
        let mut p2 = p.clone();
        p2.clicks.push(crate::model::prompt::Click {
            x: 140.5,
            y: 120.5,
            positive: false,
        });
        let m2 = sp.predict(&img, &p2).unwrap().mask;
        assert!(m2.area() < m.area());
    }

    #[test]
    fn bad_prompts_are_refused() {
        let (img, _, _) = fixtures::scene();
        let mut sp = SuperpixelPredictor::new(SuperpixelParams::default());
        let boxed = Prompts {
            bbox: Some([10.0, 10.0, 50.0, 50.0]),
            ..Default::default()
        };
        let e = sp.predict(&img, &boxed).unwrap_err().to_string();
        assert!(e.contains("box is not a brush"), "{e}");
        let neg = Prompts {
            clicks: vec![fixtures::negative_click_on_appendage()],
            ..Default::default()
        };
        let e = sp.predict(&img, &neg).unwrap_err().to_string();
        assert!(e.contains("positive click or stroke"), "{e}");
    }
}
