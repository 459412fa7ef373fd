//! The `limner-click` backend: Limner's own click / scribble / box model.
//!
//! Contract `limner-click/1` (see `models/README.md`): inputs `image` f32 [1,3,H,W]
//! (RGB in [0,1], normalized by the config's mean/std) and `guidance` f32 [1,4,H,W]
//! (positive prompts, negative prompts, previous-mask probability, box inside); output
//! `logits` f32 [1,1,H,W]; H and W padded (bottom/right, zeros) to a multiple of 32.
//!
//! Zoom-in: the first prompt on an empty mask (click, scribble or box) runs on the
//! whole image; once there is a mask, prompts run on a crop around the mask and the
//! prompts (expanded 1.4x, at least 200 px), so the cost per click does not grow with
//! image size. The crop is resized so its
//! long side equals the config's `long_side`, and the result is pasted back.

use image::RgbImage;
use ort::session::Session;
use ort::value::TensorRef;
use rayon::prelude::*;

use serde::Deserialize;

use super::config::{InputSize, ModelConfig, ModelFiles, Normalization};
use super::prompt::{PromptKind, Prompts};
use super::{MaskPredictor, ModelError, Prediction, runtime};
use crate::core::geometry::BitMask;

/// The contract this backend implements.
pub const CONTRACT: &str = "limner-click/1";
/// Crop expansion around the mask and prompts.
pub const CROP_EXPAND: f32 = 1.4;
/// Smallest crop side, in image pixels.
pub const MIN_CROP: f32 = 200.0;

/// The `limner-click` settings of a model config (see `models/README.md`).
#[derive(Debug, Clone, Deserialize)]
pub struct ClickConfig {
    pub contract: String,
    pub files: ModelFiles,
    pub input_size: InputSize,
    pub normalization: Normalization,
    pub prompts: Vec<PromptKind>,
    pub click_radius: f32,
    pub stroke_radius: f32,
    pub threshold: f32,
}

/// The embedded model, loaded in an ONNX Runtime session.
pub struct ClickPredictor {
    session: Session,
    config: ClickConfig,
}

/// A crop of the image in image pixels and its scale to model pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CropPlan {
    pub x0: u32,
    pub y0: u32,
    pub w: u32,
    pub h: u32,
    /// Model pixels per image pixel.
    pub scale: f32,
    /// Resized crop size (before padding).
    pub model_w: u32,
    pub model_h: u32,
    /// Padded input size.
    pub input_w: u32,
    pub input_h: u32,
}

impl ClickPredictor {
    /// Loads the model of `config` (ONNX Runtime is located or fetched on first use).
    pub fn load(model_config: &ModelConfig) -> Result<Self, ModelError> {
        let config: ClickConfig = model_config.backend()?;
        let config_path = &model_config.path;
        if config.contract != CONTRACT {
            return Err(ModelError::Config {
                path: config_path.display().to_string(),
                message: format!(
                    "field `contract`: {:?} is not {CONTRACT:?}",
                    config.contract
                ),
            });
        }
        let session = runtime::session(&model_config.resolve(&config.files.model), 2)?;
        Ok(ClickPredictor { session, config })
    }

    /// The config the model was loaded with.
    pub fn config(&self) -> &ClickConfig {
        &self.config
    }
}

fn round_up(v: u32, m: u32) -> u32 {
    v.div_ceil(m) * m
}

/// Chooses the crop for a prediction (see the module docs).
pub fn plan_crop(
    width: u32,
    height: u32,
    prompts: &Prompts,
    threshold: f32,
    config: &ClickConfig,
) -> CropPlan {
    let (fw, fh) = (width as f32, height as f32);
    let mut region = prompts.bounds();
    let mut has_mask = false;
    if let Some(prev) = &prompts.previous
        && let Some(b) = mask_bounds(prev, width, threshold)
    {
        has_mask = true;
        region = Some(match region {
            None => b,
            Some(r) => [
                r[0].min(b[0]),
                r[1].min(b[1]),
                r[2].max(b[2]),
                r[3].max(b[3]),
            ],
        });
    }
    let (x0, y0, x1, y1) = match region {
        Some(r) if has_mask => {
            let (cx, cy) = ((r[0] + r[2]) / 2.0, (r[1] + r[3]) / 2.0);
            let side_w = ((r[2] - r[0]) * CROP_EXPAND).max(MIN_CROP).min(fw);
            let side_h = ((r[3] - r[1]) * CROP_EXPAND).max(MIN_CROP).min(fh);
            let x0 = (cx - side_w / 2.0).clamp(0.0, fw - side_w);
            let y0 = (cy - side_h / 2.0).clamp(0.0, fh - side_h);
            (
                x0.floor(),
                y0.floor(),
                (x0 + side_w).ceil().min(fw),
                (y0 + side_h).ceil().min(fh),
            )
        }
        _ => (0.0, 0.0, fw, fh),
    };
    let (w, h) = ((x1 - x0).max(1.0) as u32, (y1 - y0).max(1.0) as u32);
    let size = &config.input_size;
    let long = if has_mask {
        size.long_side
    } else {
        size.first_long_side.unwrap_or(size.long_side)
    };
    let long = long.clamp(size.min, size.max) as f32;
    let scale = long / w.max(h) as f32;
    let model_w = ((w as f32 * scale).round() as u32).max(1);
    let model_h = ((h as f32 * scale).round() as u32).max(1);
    let m = config.input_size.multiple.max(1);
    let min = config.input_size.min;
    CropPlan {
        x0: x0 as u32,
        y0: y0 as u32,
        w,
        h,
        scale,
        model_w,
        model_h,
        input_w: round_up(model_w.max(min), m),
        input_h: round_up(model_h.max(min), m),
    }
}

/// Bounds `[x0, y0, x1, y1]` of pixels above `threshold` in a row-major map. Rows are
/// scanned in parallel, each from both ends, so a 12 MP map costs a few milliseconds.
fn mask_bounds(prob: &[f32], width: u32, threshold: f32) -> Option<[f32; 4]> {
    let w = width as usize;
    if w == 0 {
        return None;
    }
    prob.par_chunks(w)
        .enumerate()
        .filter_map(|(y, row)| {
            let first = row.iter().position(|&p| p > threshold)?;
            let last = row.iter().rposition(|&p| p > threshold)?;
            let y = y as f32;
            Some([first as f32, y, last as f32 + 1.0, y + 1.0])
        })
        .reduce_with(|a, b| {
            [
                a[0].min(b[0]),
                a[1].min(b[1]),
                a[2].max(b[2]),
                a[3].max(b[3]),
            ]
        })
}

/// Builds the `image` and `guidance` tensors for a crop.
pub fn encode_inputs(
    image: &RgbImage,
    prompts: &Prompts,
    plan: &CropPlan,
    config: &ClickConfig,
) -> (Vec<f32>, Vec<f32>) {
    let (iw, ih) = (plan.input_w as usize, plan.input_h as usize);
    let plane = iw * ih;
    let crop = image::imageops::crop_imm(image, plan.x0, plan.y0, plan.w, plan.h);
    // Large reductions (a 4000 px photo to 480) use the box-averaging thumbnail filter,
    // which reads each source pixel once; small ones keep the triangle filter.
    let resized = if plan.scale < 0.5 {
        image::imageops::thumbnail(&*crop, plan.model_w, plan.model_h)
    } else {
        image::imageops::resize(
            &*crop,
            plan.model_w,
            plan.model_h,
            image::imageops::FilterType::Triangle,
        )
    };
    let mut img = vec![0f32; 3 * plane];
    let n = &config.normalization;
    for (x, y, p) in resized.enumerate_pixels() {
        let i = y as usize * iw + x as usize;
        for c in 0..3 {
            img[c * plane + i] = (f32::from(p[c]) / 255.0 - n.mean[c]) / n.std[c];
        }
    }
    let mut guide = vec![0f32; 4 * plane];
    let to_model = |x: f32, y: f32| {
        (
            (x - plan.x0 as f32) * plan.scale,
            (y - plan.y0 as f32) * plan.scale,
        )
    };
    let (mw, mh) = (plan.model_w as usize, plan.model_h as usize);
    for c in &prompts.clicks {
        let (mx, my) = to_model(c.x, c.y);
        let ch = if c.positive { 0 } else { 1 };
        paint_segment(
            &mut guide[ch * plane..(ch + 1) * plane],
            iw,
            mw,
            mh,
            (mx, my),
            (mx, my),
            config.click_radius,
        );
    }
    for s in &prompts.strokes {
        let ch = if s.positive { 0 } else { 1 };
        let pts: Vec<(f32, f32)> = s.points.iter().map(|p| to_model(p[0], p[1])).collect();
        let pairs: Vec<((f32, f32), (f32, f32))> = match pts.len() {
            0 => vec![],
            1 => vec![(pts[0], pts[0])],
            _ => pts.windows(2).map(|w| (w[0], w[1])).collect(),
        };
        for (a, b) in pairs {
            paint_segment(
                &mut guide[ch * plane..(ch + 1) * plane],
                iw,
                mw,
                mh,
                a,
                b,
                config.stroke_radius,
            );
        }
    }
    if let Some(prev) = &prompts.previous {
        let w = image.width() as usize;
        for y in 0..mh {
            for x in 0..mw {
                let sx = (plan.x0 as f32 + (x as f32 + 0.5) / plan.scale).floor() as usize;
                let sy = (plan.y0 as f32 + (y as f32 + 0.5) / plan.scale).floor() as usize;
                let sx = sx.min(image.width() as usize - 1);
                let sy = sy.min(image.height() as usize - 1);
                guide[2 * plane + y * iw + x] = prev[sy * w + sx];
            }
        }
    }
    if let Some(b) = prompts.bbox {
        let (bx0, by0) = to_model(b[0].min(b[2]), b[1].min(b[3]));
        let (bx1, by1) = to_model(b[0].max(b[2]), b[1].max(b[3]));
        for y in 0..mh {
            let yc = y as f32 + 0.5;
            if yc < by0 || yc > by1 {
                continue;
            }
            for x in 0..mw {
                let xc = x as f32 + 0.5;
                if xc >= bx0 && xc <= bx1 {
                    guide[3 * plane + y * iw + x] = 1.0;
                }
            }
        }
    }
    (img, guide)
}

/// Sets to 1 every pixel (inside `mw` x `mh`) whose centre is within `r` of segment a-b.
fn paint_segment(
    channel: &mut [f32],
    stride: usize,
    mw: usize,
    mh: usize,
    a: (f32, f32),
    b: (f32, f32),
    r: f32,
) {
    crate::core::stroke::for_each_pixel_near_segment(mw, mh, [a.0, a.1], [b.0, b.1], r, |x, y| {
        channel[y * stride + x] = 1.0;
    });
}

fn sigmoid(v: f32) -> f32 {
    1.0 / (1.0 + (-v).exp())
}

/// Pastes model logits back into a full-image probability map (bilinear sampling) and
/// thresholds it, in one parallel pass over the rows: rows outside
/// the crop are copied from `base` (the previous probabilities) and thresholded, rows
/// through it are sampled from the logits. At 12 MP this pass is memory-bound, so doing
/// both at once halves the per-click cost of large photos.
pub fn paste_back_and_threshold(
    logits: &[f32],
    plan: &CropPlan,
    width: u32,
    height: u32,
    base: Option<&[f32]>,
    threshold: f32,
) -> (Vec<f32>, BitMask) {
    let (w, h) = (width as usize, height as usize);
    let base = base.filter(|b| b.len() == w * h);
    let mut prob = vec![0f32; w * h];
    let mut mask = vec![0u8; w * h];
    let iw = plan.input_w as usize;
    let (mw, mh) = (plan.model_w as usize, plan.model_h as usize);
    let (y0, y1) = (plan.y0 as usize, (plan.y0 + plan.h) as usize);
    let (x0, x1) = (plan.x0 as usize, (plan.x0 + plan.w) as usize);
    // Bilinear sampling, separated: the horizontal taps are the same for every row, and
    // each row first blends its two model rows (so a pixel costs one lerp and a sigmoid).
    let taps: Vec<(usize, usize, f32)> = (0..x1 - x0)
        .map(|dx| {
            let u = ((dx as f32 + 0.5) * plan.scale - 0.5).clamp(0.0, mw as f32 - 1.0);
            let u0 = u.floor() as usize;
            (u0, (u0 + 1).min(mw - 1), u.fract())
        })
        .collect();
    prob.par_chunks_mut(w.max(1))
        .zip(mask.par_chunks_mut(w.max(1)))
        .enumerate()
        .for_each_init(
            || vec![0f32; mw],
            |line, (y, (row, mrow))| {
                if let Some(b) = base {
                    row.copy_from_slice(&b[y * w..(y + 1) * w]);
                }
                if (y0..y1).contains(&y) {
                    let v = ((y as f32 - plan.y0 as f32 + 0.5) * plan.scale - 0.5)
                        .clamp(0.0, mh as f32 - 1.0);
                    let (v0, fv) = (v.floor() as usize, v.fract());
                    let v1 = (v0 + 1).min(mh - 1);
                    let (r0, r1) = (
                        &logits[v0 * iw..v0 * iw + mw],
                        &logits[v1 * iw..v1 * iw + mw],
                    );
                    for ((l, &a), &b) in line.iter_mut().zip(r0).zip(r1) {
                        *l = a * (1.0 - fv) + b * fv;
                    }
                    for (out, &(u0, u1, fu)) in row[x0..x1].iter_mut().zip(&taps) {
                        *out = sigmoid(line[u0] * (1.0 - fu) + line[u1] * fu);
                    }
                }
                for (m, &p) in mrow.iter_mut().zip(row.iter()) {
                    *m = u8::from(p > threshold);
                }
            },
        );
    (
        prob,
        BitMask {
            width,
            height,
            data: mask,
        },
    )
}

impl MaskPredictor for ClickPredictor {
    fn supports(&self) -> &[PromptKind] {
        &self.config.prompts
    }

    fn predict(&mut self, image: &RgbImage, prompts: &Prompts) -> Result<Prediction, ModelError> {
        let (w, h) = image.dimensions();
        if prompts.is_empty() {
            return Err(ModelError::Prompt(
                "give at least one click, scribble or box".into(),
            ));
        }
        if let Some(prev) = &prompts.previous
            && prev.len() != w as usize * h as usize
        {
            return Err(ModelError::Prompt(format!(
                "previous mask has {} values, the image {w}x{h} needs {}",
                prev.len(),
                w as usize * h as usize
            )));
        }
        let plan = plan_crop(w, h, prompts, self.config.threshold, &self.config);
        let (img, guide) = encode_inputs(image, prompts, &plan, &self.config);
        let shape3 = [1usize, 3, plan.input_h as usize, plan.input_w as usize];
        let shape4 = [1usize, 4, plan.input_h as usize, plan.input_w as usize];
        let err = |e: ort::Error| ModelError::Inference(e.to_string());
        let image_t = TensorRef::from_array_view((shape3, img.as_slice())).map_err(err)?;
        let guide_t = TensorRef::from_array_view((shape4, guide.as_slice())).map_err(err)?;
        let outputs = self
            .session
            .run(ort::inputs!["image" => image_t, "guidance" => guide_t])
            .map_err(err)?;
        let (shape, logits) = outputs["logits"].try_extract_tensor::<f32>().map_err(err)?;
        if logits.len() != plan.input_w as usize * plan.input_h as usize {
            return Err(ModelError::Inference(format!(
                "unexpected logits shape {shape:?}"
            )));
        }
        let full = plan.w == w && plan.h == h;
        let base = if full {
            None
        } else {
            prompts.previous.as_deref()
        };
        let (probability, mask) =
            paste_back_and_threshold(logits, &plan, w, h, base, self.config.threshold);
        Ok(Prediction {
            width: w,
            height: h,
            probability,
            mask,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::prompt::Click;

    fn config() -> ClickConfig {
        serde_json::from_str(
            r#"{"name":"t","kind":"limner-click","contract":"limner-click/1","files":{"model":"m.onnx"},
            "input_size":{"long_side":480,"multiple":32,"min":64,"max":1024},
            "normalization":{"mean":[0.485,0.456,0.406],"std":[0.229,0.224,0.225]},
            "prompts":["click","scribble","box"],"click_radius":5,"stroke_radius":3,"threshold":0.5}"#,
        )
        .unwrap()
    }

    #[test]
    fn first_click_uses_the_whole_image_later_ones_a_crop() {
        let c = config();
        let mut p = Prompts::default();
        p.clicks.push(Click {
            x: 100.5,
            y: 50.5,
            positive: true,
        });
        let plan = plan_crop(1000, 800, &p, 0.5, &c);
        assert_eq!((plan.x0, plan.y0, plan.w, plan.h), (0, 0, 1000, 800));
        assert_eq!((plan.model_w, plan.model_h), (480, 384));
        assert_eq!((plan.input_w % 32, plan.input_h % 32), (0, 0));
        let mut prev = vec![0f32; 1000 * 800];
        for y in 40..60 {
            for x in 90..110 {
                prev[y * 1000 + x] = 1.0;
            }
        }
        p.previous = Some(prev);
        let plan = plan_crop(1000, 800, &p, 0.5, &c);
        assert_eq!(
            (plan.w, plan.h),
            (200, 200),
            "small object: the minimum crop"
        );
        assert!(plan.x0 <= 90 && plan.x0 + plan.w >= 110);
        assert_eq!(plan.input_w, 480);
    }

    #[test]
    fn click_disk_has_the_contract_radius() {
        let c = config();
        let img = RgbImage::new(480, 320);
        let mut p = Prompts::default();
        p.clicks.push(Click {
            x: 100.0,
            y: 100.0,
            positive: true,
        });
        p.clicks.push(Click {
            x: 300.0,
            y: 200.0,
            positive: false,
        });
        let plan = plan_crop(480, 320, &p, 0.5, &c);
        assert_eq!(plan.scale, 1.0);
        let (_, g) = encode_inputs(&img, &p, &plan, &c);
        let plane = (plan.input_w * plan.input_h) as usize;
        let pos: f32 = g[..plane].iter().sum();
        let neg: f32 = g[plane..2 * plane].iter().sum();
        // Pixel centres within 5 px of an integer point: 80 pixels (disk of radius 5 about a corner).
        assert_eq!(pos, 80.0);
        assert_eq!(neg, 80.0);
        assert_eq!(g[plane + 200 * plan.input_w as usize + 300], 1.0);
    }

    #[test]
    fn paste_back_inverts_the_crop_mapping() {
        let c = config();
        let p = Prompts {
            bbox: Some([100.0, 100.0, 200.0, 160.0]),
            ..Default::default()
        };
        let plan = plan_crop(400, 300, &p, 0.5, &c);
        // Logits: +10 inside the box (in model coordinates), -10 outside.
        let mut logits = vec![-10f32; (plan.input_w * plan.input_h) as usize];
        let (_, g) = encode_inputs(&RgbImage::new(400, 300), &p, &plan, &c);
        let plane = logits.len();
        for i in 0..plane {
            if g[3 * plane + i] > 0.0 {
                logits[i] = 10.0;
            }
        }
        let (prob, m) = paste_back_and_threshold(&logits, &plan, 400, 300, None, 0.5);
        // Against plain 4-tap bilinear sampling of the logits, then the sigmoid.
        let iw = plan.input_w as usize;
        let (mw, mh) = (plan.model_w as f32, plan.model_h as f32);
        for y in (0..300usize).step_by(7) {
            for x in (0..400usize).step_by(5) {
                let v = ((y as f32 + 0.5) * plan.scale - 0.5).clamp(0.0, mh - 1.0);
                let u = ((x as f32 + 0.5) * plan.scale - 0.5).clamp(0.0, mw - 1.0);
                let (u0, v0, fu, fv) = (u as usize, v as usize, u.fract(), v.fract());
                let (u1, v1) = ((u0 + 1).min(mw as usize - 1), (v0 + 1).min(mh as usize - 1));
                let at = |x: usize, y: usize| logits[y * iw + x];
                let l = at(u0, v0) * (1.0 - fu) * (1.0 - fv)
                    + at(u1, v0) * fu * (1.0 - fv)
                    + at(u0, v1) * (1.0 - fu) * fv
                    + at(u1, v1) * fu * fv;
                assert!((prob[y * 400 + x] - sigmoid(l)).abs() < 1e-5, "({x}, {y})");
            }
        }
        // With a base, rows and columns outside the crop keep it, and the mask follows.
        let base: Vec<f32> = (0..400 * 300).map(|i| (i % 7) as f32 / 6.0).collect();
        let (pb, mb) = paste_back_and_threshold(&logits, &plan, 400, 300, Some(&base), 0.5);
        for y in 0..300usize {
            for x in 0..400usize {
                let i = y * 400 + x;
                let inside = (plan.x0 as usize..(plan.x0 + plan.w) as usize).contains(&x)
                    && (plan.y0 as usize..(plan.y0 + plan.h) as usize).contains(&y);
                if !inside {
                    assert_eq!(pb[i], base[i]);
                }
                assert_eq!(mb.data[i], u8::from(pb[i] > 0.5));
            }
        }
        let area = m.area() as f32;
        assert!((area - 100.0 * 60.0).abs() / 6000.0 < 0.05, "area {area}");
        assert!(m.get(150, 130) && !m.get(90, 130) && !m.get(150, 170));
    }
}
