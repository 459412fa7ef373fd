//! NoC benchmark with the standard click simulation (as in RITM / FocalClick).
//!
//! First click: the interior-most point of the object. Next click: the interior-most
//! point of the larger error region, measured by the distance transform of the 1-px
//! zero-padded error mask (false negatives give a positive click, false positives a
//! negative one); the previous prediction is fed back. NoC@85 / NoC@90 = the first click
//! count with IoU >= 0.85 / 0.90, or `max_clicks` when never reached.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::prompt::{Click, PromptKind, Prompts};
use super::{MaskPredictor, ModelError};
use crate::core::geometry::BitMask;

/// The interior-most pixel of `region` (largest distance to a non-region pixel, the
/// image border counting as outside) and that distance; `None` when empty. Ties go to
/// the first pixel in row-major order.
pub fn interior_most(region: &BitMask) -> Option<(u32, u32, f64)> {
    let (w, h) = (region.width, region.height);
    // Foreground of the transform = outside the region, plus a 1-px frame.
    let padded = image::GrayImage::from_fn(w + 2, h + 2, |x, y| {
        let inside =
            x >= 1 && y >= 1 && x <= w && y <= h && region.get(i64::from(x) - 1, i64::from(y) - 1);
        image::Luma([if inside { 0 } else { 255 }])
    });
    let dt = imageproc::distance_transform::euclidean_squared_distance_transform(&padded);
    let mut best: Option<(u32, u32, f64)> = None;
    for y in 0..h {
        for x in 0..w {
            if !region.get(i64::from(x), i64::from(y)) {
                continue;
            }
            let d = dt.get_pixel(x + 1, y + 1)[0];
            if best.is_none_or(|b| d > b.2) {
                best = Some((x, y, d));
            }
        }
    }
    best.map(|(x, y, d)| (x, y, d.sqrt()))
}

/// The next simulated click for prediction `pred` of ground truth `gt`.
pub fn next_click(gt: &BitMask, pred: &BitMask) -> Option<Click> {
    let mut fneg = BitMask::new(gt.width, gt.height);
    let mut fpos = BitMask::new(gt.width, gt.height);
    for i in 0..gt.data.len() {
        fneg.data[i] = u8::from(gt.data[i] != 0 && pred.data[i] == 0);
        fpos.data[i] = u8::from(gt.data[i] == 0 && pred.data[i] != 0);
    }
    let a = interior_most(&fneg);
    let b = interior_most(&fpos);
    let (pick, positive) = match (a, b) {
        (Some(a), Some(b)) => {
            if a.2 >= b.2 {
                (a, true)
            } else {
                (b, false)
            }
        }
        (Some(a), None) => (a, true),
        (None, Some(b)) => (b, false),
        (None, None) => return None,
    };
    Some(Click {
        x: pick.0 as f32 + 0.5,
        y: pick.1 as f32 + 0.5,
        positive,
    })
}

/// Intersection over union of two masks (1.0 when both are empty).
pub fn iou(a: &BitMask, b: &BitMask) -> f64 {
    let (mut inter, mut union) = (0u64, 0u64);
    for (x, y) in a.data.iter().zip(&b.data) {
        let (x, y) = (*x != 0, *y != 0);
        inter += u64::from(x && y);
        union += u64::from(x || y);
    }
    if union == 0 {
        1.0
    } else {
        inter as f64 / union as f64
    }
}

/// One object's run: IoU after each click and time per click.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ObjectRun {
    pub name: String,
    pub ious: Vec<f64>,
    pub ms: Vec<f64>,
    /// IoU from the object's tight box alone ([`box_only_iou`]), when measured.
    pub box_only_iou: Option<f64>,
}

impl ObjectRun {
    /// Clicks needed to reach `target` IoU, `max_clicks` when never.
    pub fn noc(&self, target: f64, max_clicks: usize) -> usize {
        self.ious
            .iter()
            .position(|&v| v >= target)
            .map(|i| i + 1)
            .unwrap_or(max_clicks)
    }
}

/// Runs the click simulation on one object. Stops early once IoU >= 0.90 is reached
/// and kept for the remaining thresholds' purposes (NoC only needs the first crossing).
pub fn run_object(
    predictor: &mut dyn MaskPredictor,
    image: &image::RgbImage,
    gt: &BitMask,
    max_clicks: usize,
    name: &str,
) -> Result<ObjectRun, ModelError> {
    let mut prompts = Prompts::default();
    let mut pred = BitMask::new(gt.width, gt.height);
    let mut run = ObjectRun {
        name: name.into(),
        ious: Vec::new(),
        ms: Vec::new(),
        box_only_iou: None,
    };
    for _ in 0..max_clicks {
        let Some(click) = next_click(gt, &pred) else {
            break;
        };
        prompts.clicks.push(click);
        let t = Instant::now();
        let p = predictor.predict(image, &prompts)?;
        run.ms.push(t.elapsed().as_secs_f64() * 1e3);
        pred = p.mask;
        prompts.previous = Some(p.probability);
        run.ious.push(iou(gt, &pred));
        if run.ious.last().is_some_and(|&v| v >= 0.90) {
            break;
        }
    }
    Ok(run)
}

/// IoU of the mask predicted from a box prompt alone: the object's tight bounding box, no
/// click. `None` when the predictor takes no boxes, or no box alone, or the object is
/// empty. The box tool's first preview is exactly this, so a model that learns clicks but
/// forgets boxes shows here.
pub fn box_only_iou(
    predictor: &mut dyn MaskPredictor,
    image: &image::RgbImage,
    gt: &BitMask,
) -> Result<Option<f64>, ModelError> {
    let b = gt.bounds();
    if b.is_empty() || !predictor.supports().contains(&PromptKind::Box) {
        return Ok(None);
    }
    let prompts = Prompts {
        bbox: Some([b.x0 as f32, b.y0 as f32, b.x1 as f32, b.y1 as f32]),
        ..Prompts::default()
    };
    match predictor.predict(image, &prompts) {
        Ok(p) => Ok(Some(iou(gt, &p.mask))),
        // Some backends take a box only as a bound on other prompts (region-grow).
        Err(ModelError::Prompt(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Summary over objects.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NocSummary {
    pub objects: usize,
    pub noc85: f64,
    pub noc90: f64,
    pub miou_at_1: f64,
    /// Mean IoU from the tight box alone, over the objects that have it.
    pub miou_box_only: Option<f64>,
    pub ms_per_click_median: f64,
    pub ms_per_click_mean: f64,
}

/// Averages NoC@85, NoC@90 and IoU after one click; median and mean ms per click.
pub fn summarize(runs: &[ObjectRun], max_clicks: usize) -> NocSummary {
    let boxes: Vec<f64> = runs.iter().filter_map(|r| r.box_only_iou).collect();
    let n = runs.len().max(1) as f64;
    let mut ms: Vec<f64> = runs.iter().flat_map(|r| r.ms.iter().copied()).collect();
    ms.sort_by(f64::total_cmp);
    NocSummary {
        objects: runs.len(),
        noc85: runs
            .iter()
            .map(|r| r.noc(0.85, max_clicks) as f64)
            .sum::<f64>()
            / n,
        noc90: runs
            .iter()
            .map(|r| r.noc(0.90, max_clicks) as f64)
            .sum::<f64>()
            / n,
        miou_at_1: runs
            .iter()
            .map(|r| r.ious.first().copied().unwrap_or(0.0))
            .sum::<f64>()
            / n,
        miou_box_only: (!boxes.is_empty()).then(|| boxes.iter().sum::<f64>() / boxes.len() as f64),
        ms_per_click_median: ms.get(ms.len() / 2).copied().unwrap_or(0.0),
        ms_per_click_mean: ms.iter().sum::<f64>() / ms.len().max(1) as f64,
    }
}

/// Pairs every mask in `masks_dir` with its image: `<stem>__<k>.png` (or `<stem>.png`)
/// belongs to the image `<stem>.*` in `images_dir`. Masks are 8-bit, nonzero = object.
pub fn eval_pairs(images_dir: &Path, masks_dir: &Path) -> Result<Vec<(PathBuf, PathBuf)>, String> {
    let mut images = std::collections::HashMap::new();
    for e in std::fs::read_dir(images_dir).map_err(|e| format!("{}: {e}", images_dir.display()))? {
        let p = e.map_err(|e| e.to_string())?.path();
        if crate::core::io::is_image_file(&p)
            && let Some(stem) = p.file_stem().and_then(|s| s.to_str())
        {
            images.insert(stem.to_string(), p.clone());
        }
    }
    let mut pairs = Vec::new();
    for e in std::fs::read_dir(masks_dir).map_err(|e| format!("{}: {e}", masks_dir.display()))? {
        let m = e.map_err(|e| e.to_string())?.path();
        let Some(stem) = m.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if m.extension().is_none_or(|x| x != "png") {
            continue;
        }
        let key = stem.split("__").next().unwrap_or(stem);
        match images.get(key) {
            Some(i) => pairs.push((i.clone(), m.clone())),
            None => {
                return Err(format!(
                    "{}: no image named {key}.* in {}",
                    m.display(),
                    images_dir.display()
                ));
            }
        }
    }
    pairs.sort();
    Ok(pairs)
}

/// Reads a binary mask PNG (nonzero = object).
pub fn read_mask(path: &Path) -> Result<BitMask, String> {
    crate::core::io::image_dimensions(path).map_err(|e| e.to_string())?;
    let img = image::open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .to_luma8();
    Ok(BitMask {
        width: img.width(),
        height: img.height(),
        data: img.as_raw().iter().map(|&v| u8::from(v != 0)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect_mask(w: u32, h: u32, x0: u32, y0: u32, x1: u32, y1: u32) -> BitMask {
        let mut m = BitMask::new(w, h);
        for y in y0..y1 {
            for x in x0..x1 {
                m.set(i64::from(x), i64::from(y), true);
            }
        }
        m
    }

    #[test]
    fn first_click_is_the_interior_most_point() {
        let gt = rect_mask(50, 40, 10, 10, 31, 21);
        let c = next_click(&gt, &BitMask::new(50, 40)).unwrap();
        assert!(c.positive);
        // Ties go to the first pixel in row-major order, as RITM's np.where(...)[0].
        assert_eq!((c.x, c.y), (15.5, 15.5));
    }

    #[test]
    fn border_counts_as_outside_because_of_the_padding() {
        let gt = rect_mask(20, 20, 0, 0, 20, 20);
        let c = next_click(&gt, &BitMask::new(20, 20)).unwrap();
        assert!(
            (c.x - 10.0).abs() <= 1.0 && (c.y - 10.0).abs() <= 1.0,
            "{c:?}"
        );
    }

    #[test]
    fn false_positive_region_gives_negative_click() {
        let gt = rect_mask(60, 40, 5, 5, 15, 15);
        let pred = rect_mask(60, 40, 5, 5, 45, 35);
        let c = next_click(&gt, &pred).unwrap();
        assert!(!c.positive);
        assert!(c.x > 15.0);
        assert!(next_click(&gt, &gt).is_none());
        assert_eq!(iou(&gt, &gt), 1.0);
    }

    /// Predicts the box itself, filled: the IoU with a shape is then its share of the box.
    struct FillBox(Vec<PromptKind>);

    impl MaskPredictor for FillBox {
        fn supports(&self) -> &[PromptKind] {
            &self.0
        }
        fn predict(
            &mut self,
            image: &image::RgbImage,
            prompts: &Prompts,
        ) -> Result<super::super::Prediction, ModelError> {
            let [x0, y0, x1, y1] = prompts.bbox.expect("box-only prompt");
            assert!(prompts.clicks.is_empty() && prompts.previous.is_none());
            let (w, h) = image.dimensions();
            let mask = rect_mask(w, h, x0 as u32, y0 as u32, x1 as u32, y1 as u32);
            let probability = mask.data.iter().map(|&v| f32::from(v)).collect();
            Ok(super::super::Prediction {
                width: w,
                height: h,
                probability,
                mask,
            })
        }
    }

    #[test]
    fn box_only_prompt_is_the_tight_box() {
        let image = image::RgbImage::new(40, 30);
        let rect = rect_mask(40, 30, 5, 7, 21, 19);
        let mut fill = FillBox(vec![PromptKind::Box]);
        assert_eq!(box_only_iou(&mut fill, &image, &rect).unwrap(), Some(1.0));
        // a plus sign fills 9 of the 25 pixels of its box
        let mut plus = BitMask::new(40, 30);
        for i in 0..5 {
            plus.set(10 + i, 12, true);
            plus.set(12, 10 + i, true);
        }
        let v = box_only_iou(&mut fill, &image, &plus).unwrap().unwrap();
        assert!((v - 9.0 / 25.0).abs() < 1e-12, "{v}");
        let mut clicks_only = FillBox(vec![PromptKind::Click]);
        assert_eq!(box_only_iou(&mut clicks_only, &image, &rect).unwrap(), None);
        let empty = BitMask::new(40, 30);
        assert_eq!(box_only_iou(&mut fill, &image, &empty).unwrap(), None);
    }

    #[test]
    fn noc_counts_first_crossing_or_cap() {
        let r = ObjectRun {
            name: "o".into(),
            ious: vec![0.5, 0.86, 0.91],
            ms: vec![1.0; 3],
            box_only_iou: None,
        };
        assert_eq!(r.noc(0.85, 20), 2);
        assert_eq!(r.noc(0.90, 20), 3);
        assert_eq!(r.noc(0.95, 20), 20);
    }
}
