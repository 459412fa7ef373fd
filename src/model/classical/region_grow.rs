//! `region-grow`: grows from the positive clicks and strokes over neighbours whose
//! L*a*b* colour lies within `tolerance` (ΔE*76) of a seed colour.
//!
//! Negative clicks and strokes are barriers twice over: their pixels are never entered,
//! and a pixel whose colour is nearer a negative seed's colour than every positive
//! seed's is refused (so one negative click stops a leak into a similar background). A
//! box confines the growth.

use std::collections::VecDeque;

use image::RgbImage;
use serde::Deserialize;

use super::{
    BACKGROUND, Connectivity, FOREGROUND, box_pixels, check_prompts, dist2, prediction, seed_map,
};
use crate::core::geometry::{BitMask, PixelRect};
use crate::model::config::ModelConfig;
use crate::model::prompt::{PromptKind, Prompts};
use crate::model::{MaskPredictor, ModelError, Prediction};

/// Settings of the `region-grow` backend (all optional).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RegionGrowParams {
    /// Largest L*a*b* distance (ΔE*76) from a seed colour a grown pixel may have.
    pub tolerance: f32,
    /// Neighbours grown into.
    pub connectivity: Connectivity,
    /// Radius of a click's seed disk, px (its colours are the seed colours).
    pub click_radius: f32,
    /// Radius of a stroke, px.
    pub stroke_radius: f32,
    /// At most this many seed colours per sign (strokes are subsampled), to bound the
    /// per-pixel cost.
    pub max_seed_colours: usize,
}

impl Default for RegionGrowParams {
    fn default() -> Self {
        RegionGrowParams {
            tolerance: 14.0,
            connectivity: Connectivity::Eight,
            click_radius: 2.0,
            stroke_radius: 1.5,
            max_seed_colours: 64,
        }
    }
}

/// The `region-grow` backend.
pub struct RegionGrowPredictor {
    params: RegionGrowParams,
    prompts: Vec<PromptKind>,
}

impl RegionGrowPredictor {
    /// Reads the settings of `config`.
    pub fn load(config: &ModelConfig) -> Result<Self, ModelError> {
        let params: RegionGrowParams = config.backend()?;
        if params.tolerance.is_nan() || params.tolerance <= 0.0 {
            return Err(ModelError::Config {
                path: config.path.display().to_string(),
                message: format!("field `tolerance`: {} must be > 0", params.tolerance),
            });
        }
        Ok(RegionGrowPredictor {
            params,
            prompts: config.prompts.clone(),
        })
    }

    /// A predictor with explicit settings.
    pub fn new(params: RegionGrowParams) -> Self {
        RegionGrowPredictor {
            params,
            prompts: vec![PromptKind::Click, PromptKind::Scribble, PromptKind::Box],
        }
    }
}

/// Up to `max` colours of the pixels marked `which` in `seeds`, evenly subsampled.
fn seed_colours(
    lab: &dyn Fn(usize) -> [f32; 3],
    seeds: &[u8],
    which: u8,
    max: usize,
) -> Vec<[f32; 3]> {
    let all: Vec<usize> = (0..seeds.len()).filter(|&i| seeds[i] == which).collect();
    let step = all.len().div_ceil(max.max(1)).max(1);
    all.iter().step_by(step).map(|&i| lab(i)).collect()
}

/// Grows the region (see the module docs); `seeds` is a [`seed_map`], `region` the
/// pixels growth may enter.
pub fn region_grow(
    image: &RgbImage,
    seeds: &[u8],
    region: PixelRect,
    params: &RegionGrowParams,
) -> BitMask {
    let (w, h) = image.dimensions();
    let wu = w as usize;
    // Colours are converted when first looked at: growth usually visits a fraction of
    // the image, and the conversion is most of the cost.
    let lin = super::srgb_to_linear_table();
    let raw = image.as_raw();
    let lab_at = |i: usize| super::lab_with(&lin, [raw[3 * i], raw[3 * i + 1], raw[3 * i + 2]]);
    let pos = seed_colours(&lab_at, seeds, FOREGROUND, params.max_seed_colours);
    let neg = seed_colours(&lab_at, seeds, BACKGROUND, params.max_seed_colours);
    let tol2 = params.tolerance * params.tolerance;
    let accept = |c: [f32; 3]| {
        let dp = pos
            .iter()
            .map(|&s| dist2(c, s))
            .fold(f32::INFINITY, f32::min);
        dp <= tol2 && neg.iter().all(|&s| dist2(c, s) > dp)
    };
    let mut mask = BitMask::new(w, h);
    let mut queue = VecDeque::new();
    for (i, &s) in seeds.iter().enumerate() {
        if s == FOREGROUND {
            mask.data[i] = 1;
            queue.push_back(i);
        }
    }
    let offsets = params.connectivity.offsets();
    while let Some(i) = queue.pop_front() {
        let (x, y) = ((i % wu) as i64, (i / wu) as i64);
        for &(dx, dy) in offsets {
            let (nx, ny) = (x + i64::from(dx), y + i64::from(dy));
            if nx < i64::from(region.x0)
                || ny < i64::from(region.y0)
                || nx >= i64::from(region.x1)
                || ny >= i64::from(region.y1)
            {
                continue;
            }
            let j = ny as usize * wu + nx as usize;
            if mask.data[j] == 0 && seeds[j] != BACKGROUND && accept(lab_at(j)) {
                mask.data[j] = 1;
                queue.push_back(j);
            }
        }
    }
    mask
}

impl MaskPredictor for RegionGrowPredictor {
    fn supports(&self) -> &[PromptKind] {
        &self.prompts
    }

    fn predict(&mut self, image: &RgbImage, prompts: &Prompts) -> Result<Prediction, ModelError> {
        check_prompts("region-grow", image, prompts)?;
        let (w, h) = image.dimensions();
        let p = &self.params;
        let seeds = seed_map(w, h, prompts, p.click_radius, p.stroke_radius);
        if !seeds.contains(&FOREGROUND) {
            return Err(ModelError::Prompt(
                "region-grow: give a positive click or scribble to grow from (negative \
                 prompts are barriers, a box only confines the growth)"
                    .into(),
            ));
        }
        let region = match prompts.bbox {
            Some(b) => box_pixels(b, w, h).ok_or_else(|| {
                ModelError::Prompt(format!("region-grow: the box {b:?} covers no pixel"))
            })?,
            None => PixelRect::full(w, h),
        };
        Ok(prediction(region_grow(image, &seeds, region, p)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::classical::fixtures;
    use crate::model::noc::iou;

    #[test]
    fn one_click_then_a_negative_click_segments_the_object() {
        let (img, gt, extra) = fixtures::scene();
        let mut g = RegionGrowPredictor::new(RegionGrowParams::default());
        let first = g.predict(&img, &fixtures::click_in_object()).unwrap().mask;
        // The appendage's colour is within tolerance: one click takes both.
        let mut both = gt.clone();
        for (d, e) in both.data.iter_mut().zip(&extra.data) {
            *d |= e;
        }
        let v = iou(&both, &first);
        assert!(v >= 0.9, "IoU {v:.3}");
        // A negative stroke on the appendage: its colours are refused.
        let mut p = fixtures::click_in_object();
        p.strokes.push(fixtures::negative_stroke_on_appendage());
        let second = g.predict(&img, &p).unwrap().mask;
        assert!(second.area() < first.area());
        let v = iou(&gt, &second);
        assert!(v >= 0.9, "IoU after the negative stroke {v:.3}");
    }

    #[test]
    fn a_tight_tolerance_grows_less_and_a_box_confines() {
        let (img, gt, _) = fixtures::scene();
        // One seed pixel and a tolerance below the texture's colour steps.
        let tight = RegionGrowParams {
            tolerance: 2.0,
            click_radius: 0.0,
            ..Default::default()
        };
        let m = RegionGrowPredictor::new(tight)
            .predict(&img, &fixtures::click_in_object())
            .unwrap()
            .mask;
        assert!(m.area() < gt.area() / 2, "{}", m.area());
        let mut p = fixtures::click_in_object();
        p.bbox = Some([55.0, 60.0, 200.0, 180.0]);
        let m = RegionGrowPredictor::new(RegionGrowParams::default())
            .predict(&img, &p)
            .unwrap()
            .mask;
        assert!(!m.get(205, 120) && m.get(195, 120));
    }

    #[test]
    fn bad_prompts_are_refused() {
        let (img, _, _) = fixtures::scene();
        let mut g = RegionGrowPredictor::new(RegionGrowParams::default());
        let p = Prompts {
            bbox: Some([55.0, 60.0, 200.0, 180.0]),
            ..Default::default()
        };
        let e = g.predict(&img, &p).unwrap_err().to_string();
        assert!(e.contains("positive click or scribble"), "{e}");
        let e = g
            .predict(&img, &Prompts::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("at least one"), "{e}");
    }
}
