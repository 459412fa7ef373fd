//! Pre-labeling models: a whole image in, class-labeled segments out (no prompts).
//!
//! Two config kinds beside the prompt models in `models/`:
//! - `semantic`: image -> class logits `[1, C, H, W]` (SegFormer, DeepLab, U-Net exports).
//!   The argmax label map is mapped to ontology ids by `classes`; a thing class gives one
//!   segment per 8-connected component, a stuff class one segment per class.
//! - `yolo-seg`: Ultralytics YOLOv8 / YOLO11 segmentation exports: `output0`
//!   `[1, 4 + nc + nm, N]` (box centre/size in input pixels, class scores, mask
//!   coefficients) and `output1` `[1, nm, mh, mw]` (prototypes). Boxes above `min_score`
//!   go through class-wise NMS (`iou`), each kept box's mask is
//!   `sigmoid(coefficients . prototypes)` cropped to the box, upsampled, above 0.5
//!   (Ultralytics' `process_mask`).
//!   The input is letterboxed as Ultralytics does (aspect kept, grey 114 padding, centred).
//!
//! ```json
//! {"name": "segformer-b0-ade", "kind": "semantic", "prompts": [],
//!  "files": {"model": "segformer-b0.onnx"},
//!  "input": {"name": "pixel_values", "mean": [0.485, 0.456, 0.406],
//!            "std": [0.229, 0.224, 0.225], "size": [512, 512]},
//!  "output": {"name": "logits"},
//!  "classes": {"0": 12, "1": null, "2": 7}}
//! ```

use std::collections::HashMap;

use ort::session::Session;
use ort::value::TensorRef;
use serde::Deserialize;

use super::config::{ModelConfig, ModelFiles, ModelKind};
use super::{ModelError, runtime};
use crate::core::geometry::BitMask;

/// The model input.
#[derive(Debug, Clone, Deserialize)]
pub struct InputSpec {
    /// Input tensor name.
    pub name: String,
    /// Only `NCHW` is supported.
    #[serde(default = "nchw")]
    pub layout: String,
    /// Per-channel mean after scaling (default 0).
    #[serde(default)]
    pub mean: [f32; 3],
    /// Per-channel std after scaling (default 1).
    #[serde(default = "ones")]
    pub std: [f32; 3],
    /// Factor from 0-255 values to the model's range (default 1/255).
    #[serde(default = "inv255")]
    pub scale: f32,
    /// Fixed input size `[height, width]`; without it the image keeps its size, padded
    /// to `multiple`.
    #[serde(default)]
    pub size: Option<[u32; 2]>,
    /// Padding multiple when `size` is not given (default 32).
    #[serde(default = "thirty_two")]
    pub multiple: u32,
}

fn nchw() -> String {
    "NCHW".into()
}
fn ones() -> [f32; 3] {
    [1.0; 3]
}
fn inv255() -> f32 {
    1.0 / 255.0
}
fn thirty_two() -> u32 {
    32
}
fn min_score() -> f32 {
    0.25
}
fn nms_iou() -> f32 {
    0.7
}

/// Output tensor names.
#[derive(Debug, Clone, Deserialize)]
pub struct OutputSpec {
    /// Logits (semantic) or detections (yolo-seg).
    pub name: String,
    /// Prototypes (yolo-seg only; default `output1`).
    #[serde(default)]
    pub protos: Option<String>,
}

/// A pre-labeling config (see the module docs).
#[derive(Debug, Clone, Deserialize)]
pub struct PrelabelConfig {
    pub files: ModelFiles,
    pub input: InputSpec,
    pub output: OutputSpec,
    /// Model class index (as a string key) -> ontology id, or null for void.
    pub classes: HashMap<String, Option<u32>>,
    /// yolo-seg: lowest class score kept.
    #[serde(default = "min_score")]
    pub min_score: f32,
    /// yolo-seg: NMS IoU threshold.
    #[serde(default = "nms_iou")]
    pub iou: f32,
}

/// One predicted segment: its ontology class and its pixels (image size).
#[derive(Debug, Clone)]
pub struct PredictedSegment {
    pub category_id: u32,
    pub mask: BitMask,
    /// Detection score (yolo-seg), or the mean max-probability (semantic).
    pub score: f32,
}

/// A loaded pre-labeling model.
pub struct Prelabeler {
    session: Session,
    kind: ModelKind,
    config: PrelabelConfig,
    /// The config's name, recorded in each labeled image's log.
    pub name: String,
}

fn bad(config: &ModelConfig, message: String) -> ModelError {
    ModelError::Config {
        path: config.path.display().to_string(),
        message,
    }
}

impl Prelabeler {
    /// Loads a `semantic` or `yolo-seg` config.
    pub fn load(config: &ModelConfig) -> Result<Prelabeler, ModelError> {
        if !matches!(config.kind, ModelKind::Semantic | ModelKind::YoloSeg) {
            return Err(bad(
                config,
                "kind: a pre-labeling model must be `semantic` or `yolo-seg` (this one takes prompts)".into(),
            ));
        }
        let c: PrelabelConfig = config.backend()?;
        if c.input.layout != "NCHW" {
            return Err(bad(
                config,
                format!(
                    "input.layout: only NCHW is supported, found {:?}",
                    c.input.layout
                ),
            ));
        }
        for k in c.classes.keys() {
            if k.parse::<usize>().is_err() {
                return Err(bad(
                    config,
                    format!("classes: key {k:?} is not a model class index"),
                ));
            }
        }
        let session = runtime::session(&config.resolve(&c.files.model), 2)?;
        Ok(Prelabeler {
            session,
            kind: config.kind,
            config: c,
            name: config.name.clone(),
        })
    }

    /// Segments of one image; `is_thing(ontology id)` says which classes are countable.
    pub fn predict(
        &mut self,
        image: &image::RgbImage,
        is_thing: &dyn Fn(u32) -> bool,
    ) -> Result<Vec<PredictedSegment>, ModelError> {
        match self.kind {
            ModelKind::YoloSeg => self.predict_yolo(image),
            _ => self.predict_semantic(image, is_thing),
        }
    }

    /// The input tensor and where the image sits in it: (data, h, w, scale, pad x, pad y).
    fn encode(
        &self,
        image: &image::RgbImage,
        letterbox: bool,
    ) -> (Vec<f32>, u32, u32, f32, u32, u32) {
        let spec = &self.config.input;
        let (w, h) = image.dimensions();
        let (ih, iw) = match spec.size {
            Some([sh, sw]) => (sh, sw),
            None => {
                let m = spec.multiple.max(1);
                (h.div_ceil(m) * m, w.div_ceil(m) * m)
            }
        };
        let (scale, nw, nh, px, py) = if letterbox || spec.size.is_none() {
            let s = if spec.size.is_none() {
                1.0
            } else {
                (iw as f32 / w as f32).min(ih as f32 / h as f32)
            };
            let (nw, nh) = (
                ((w as f32 * s).round() as u32).clamp(1, iw),
                ((h as f32 * s).round() as u32).clamp(1, ih),
            );
            let (px, py) = if spec.size.is_none() {
                (0, 0)
            } else {
                ((iw - nw) / 2, (ih - nh) / 2)
            };
            (s, nw, nh, px, py)
        } else {
            (0.0, iw, ih, 0, 0) // stretched to the fixed size
        };
        let resized = if (nw, nh) == (w, h) {
            image.clone()
        } else {
            image::imageops::resize(image, nw, nh, image::imageops::FilterType::Triangle)
        };
        let plane = (ih * iw) as usize;
        let mut data = vec![0f32; 3 * plane];
        for c in 0..3 {
            let pad = (114.0 * spec.scale - spec.mean[c]) / spec.std[c];
            data[c * plane..(c + 1) * plane].fill(if letterbox {
                pad
            } else {
                (0.0 - spec.mean[c]) / spec.std[c]
            });
        }
        for (x, y, p) in resized.enumerate_pixels() {
            let i = ((y + py) * iw + x + px) as usize;
            for c in 0..3 {
                data[c * plane + i] = (f32::from(p[c]) * spec.scale - spec.mean[c]) / spec.std[c];
            }
        }
        (data, ih, iw, scale, px, py)
    }

    fn predict_semantic(
        &mut self,
        image: &image::RgbImage,
        is_thing: &dyn Fn(u32) -> bool,
    ) -> Result<Vec<PredictedSegment>, ModelError> {
        let (w, h) = image.dimensions();
        let (data, ih, iw, _, _, _) = self.encode(image, false);
        let err = |e: ort::Error| ModelError::Inference(e.to_string());
        let input =
            TensorRef::from_array_view(([1usize, 3, ih as usize, iw as usize], data.as_slice()))
                .map_err(err)?;
        let name = self.config.input.name.clone();
        let classes = self.config.classes.clone();
        let class_of = |i: usize| classes.get(&i.to_string()).copied().flatten();
        let outputs = self
            .session
            .run(ort::inputs![name.as_str() => input])
            .map_err(err)?;
        let (shape, logits) = outputs[self.config.output.name.as_str()]
            .try_extract_tensor::<f32>()
            .map_err(err)?;
        if shape.len() != 4 || shape[0] != 1 {
            return Err(ModelError::Inference(format!(
                "logits shape {shape:?}, expected [1, C, H, W]"
            )));
        }
        let (nc, oh, ow) = (shape[1] as usize, shape[2] as usize, shape[3] as usize);
        let plane = oh * ow;
        // The image's part of the input, in output pixels (outputs may be smaller, e.g. /4).
        let (sx, sy) = (ow as f64 / f64::from(iw), oh as f64 / f64::from(ih));
        let fixed = self.config.input.size.is_some();
        let mut label = vec![u32::MAX; (w * h) as usize];
        let mut sure = vec![0f32; (w * h) as usize];
        for y in 0..h {
            for x in 0..w {
                // Nearest output pixel for this image pixel's centre.
                let (fx, fy) = if fixed {
                    (
                        (f64::from(x) + 0.5) / f64::from(w) * ow as f64,
                        (f64::from(y) + 0.5) / f64::from(h) * oh as f64,
                    )
                } else {
                    ((f64::from(x) + 0.5) * sx, (f64::from(y) + 0.5) * sy)
                };
                let (ox, oy) = ((fx as usize).min(ow - 1), (fy as usize).min(oh - 1));
                let o = oy * ow + ox;
                let (mut best, mut bi) = (f32::NEG_INFINITY, 0usize);
                let mut sum = 0f32;
                for c in 0..nc {
                    let v = logits[c * plane + o];
                    if v > best {
                        best = v;
                        bi = c;
                    }
                }
                for c in 0..nc {
                    sum += (logits[c * plane + o] - best).exp();
                }
                let i = (y * w + x) as usize;
                if let Some(id) = class_of(bi) {
                    label[i] = id;
                    sure[i] = 1.0 / sum;
                }
            }
        }
        let mut classes: Vec<u32> = label.iter().copied().filter(|&v| v != u32::MAX).collect();
        classes.sort_unstable();
        classes.dedup();
        let mut out = Vec::new();
        for id in classes {
            let mut m = BitMask::new(w, h);
            for (v, &l) in m.data.iter_mut().zip(&label) {
                *v = u8::from(l == id);
            }
            let parts = if is_thing(id) {
                components(&m)
            } else {
                vec![m]
            };
            for part in parts {
                let n = part.area().max(1) as f32;
                let score = part
                    .data
                    .iter()
                    .zip(&sure)
                    .filter(|(v, _)| **v != 0)
                    .map(|(_, s)| s)
                    .sum::<f32>()
                    / n;
                out.push(PredictedSegment {
                    category_id: id,
                    mask: part,
                    score,
                });
            }
        }
        Ok(out)
    }

    fn predict_yolo(
        &mut self,
        image: &image::RgbImage,
    ) -> Result<Vec<PredictedSegment>, ModelError> {
        let (w, h) = image.dimensions();
        if self.config.input.size.is_none() {
            return Err(ModelError::Inference(
                "a yolo-seg config needs input.size".into(),
            ));
        }
        let (data, ih, iw, scale, px, py) = self.encode(image, true);
        let err = |e: ort::Error| ModelError::Inference(e.to_string());
        let input =
            TensorRef::from_array_view(([1usize, 3, ih as usize, iw as usize], data.as_slice()))
                .map_err(err)?;
        let name = self.config.input.name.clone();
        let classes = self.config.classes.clone();
        let class_of = |i: usize| classes.get(&i.to_string()).copied().flatten();
        let (min_score, nms_threshold) = (self.config.min_score, self.config.iou);
        let protos_name = self
            .config
            .output
            .protos
            .clone()
            .unwrap_or_else(|| "output1".into());
        let det_name = self.config.output.name.clone();
        let outputs = self
            .session
            .run(ort::inputs![name.as_str() => input])
            .map_err(err)?;
        let (dshape, det) = outputs[det_name.as_str()]
            .try_extract_tensor::<f32>()
            .map_err(err)?;
        let (pshape, protos) = outputs[protos_name.as_str()]
            .try_extract_tensor::<f32>()
            .map_err(err)?;
        if dshape.len() != 3 || pshape.len() != 4 {
            return Err(ModelError::Inference(format!(
                "yolo-seg outputs {dshape:?} and {pshape:?}, expected [1, 4+nc+nm, N] and [1, nm, mh, mw]"
            )));
        }
        let (rows, n) = (dshape[1] as usize, dshape[2] as usize);
        let (nm, mh, mw) = (pshape[1] as usize, pshape[2] as usize, pshape[3] as usize);
        if rows < 4 + nm + 1 {
            return Err(ModelError::Inference(format!(
                "{rows} rows cannot hold 4 + classes + {nm} coefficients"
            )));
        }
        let nc = rows - 4 - nm;
        let at = |r: usize, j: usize| det[r * n + j];
        let params = Detections {
            min_score,
            iou: nms_threshold,
        };
        let mut cands: Vec<Detection> = Vec::new();
        for j in 0..n {
            let (mut best, mut c) = (f32::NEG_INFINITY, 0);
            for k in 0..nc {
                if at(4 + k, j) > best {
                    best = at(4 + k, j);
                    c = k;
                }
            }
            if best < params.min_score {
                continue;
            }
            let (cx, cy, bw, bh) = (at(0, j), at(1, j), at(2, j), at(3, j));
            cands.push(Detection {
                class: c,
                score: best,
                bbox: [cx - bw / 2.0, cy - bh / 2.0, cx + bw / 2.0, cy + bh / 2.0],
                coef: (0..nm).map(|k| at(4 + nc + k, j)).collect(),
            });
        }
        let kept = nms(cands, params.iou);
        let mut out = Vec::new();
        for d in kept {
            let Some(id) = class_of(d.class) else {
                continue;
            };
            let mask = yolo_mask(&d, protos, nm, mh, mw, iw, ih, scale, px, py, w, h);
            if mask.area() > 0 {
                out.push(PredictedSegment {
                    category_id: id,
                    mask,
                    score: d.score,
                });
            }
        }
        Ok(out)
    }
}

struct Detections {
    min_score: f32,
    iou: f32,
}

/// One yolo-seg detection in input pixels.
#[derive(Debug, Clone)]
struct Detection {
    class: usize,
    score: f32,
    bbox: [f32; 4],
    coef: Vec<f32>,
}

fn box_iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let area = |r: &[f32; 4]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let union = area(a) + area(b) - inter;
    if union <= 0.0 { 0.0 } else { inter / union }
}

/// Class-wise non-maximum suppression, highest score first (ties by input order).
fn nms(mut cands: Vec<Detection>, iou: f32) -> Vec<Detection> {
    cands.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::new();
    for d in cands {
        if kept
            .iter()
            .all(|k| k.class != d.class || box_iou(&k.bbox, &d.bbox) <= iou)
        {
            kept.push(d);
        }
    }
    kept
}

/// A detection's mask at image size, as Ultralytics' `process_mask` makes it:
/// sigmoid(coef . protos) at prototype resolution, zero outside the box (scaled to the
/// prototypes, pixel centres), bilinearly upsampled to the input (align_corners false),
/// above 0.5; then each image pixel takes its input pixel through the letterbox.
#[allow(clippy::too_many_arguments)]
fn yolo_mask(
    d: &Detection,
    protos: &[f32],
    nm: usize,
    mh: usize,
    mw: usize,
    iw: u32,
    ih: u32,
    scale: f32,
    px: u32,
    py: u32,
    w: u32,
    h: u32,
) -> BitMask {
    let plane = mh * mw;
    let (bx, by) = (mw as f32 / iw as f32, mh as f32 / ih as f32);
    let b = [
        d.bbox[0] * bx,
        d.bbox[1] * by,
        d.bbox[2] * bx,
        d.bbox[3] * by,
    ];
    let mut prob = vec![0f32; plane];
    for (i, v) in prob.iter_mut().enumerate() {
        let (x, y) = ((i % mw) as f32, (i / mw) as f32);
        if x < b[0] || x >= b[2] || y < b[1] || y >= b[3] {
            continue;
        }
        let mut s = 0f32;
        for (k, &c) in d.coef.iter().enumerate().take(nm) {
            s += c * protos[k * plane + i];
        }
        *v = 1.0 / (1.0 + (-s).exp());
    }
    let sample = |x: f32, y: f32| {
        let fx = ((x + 0.5) * mw as f32 / iw as f32 - 0.5).clamp(0.0, (mw - 1) as f32);
        let fy = ((y + 0.5) * mh as f32 / ih as f32 - 0.5).clamp(0.0, (mh - 1) as f32);
        let (x0, y0) = (fx.floor() as usize, fy.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(mw - 1), (y0 + 1).min(mh - 1));
        let (ax, ay) = (fx - x0 as f32, fy - y0 as f32);
        let v = |xx: usize, yy: usize| prob[yy * mw + xx];
        (v(x0, y0) * (1.0 - ax) + v(x1, y0) * ax) * (1.0 - ay)
            + (v(x0, y1) * (1.0 - ax) + v(x1, y1) * ax) * ay
    };
    let mut m = BitMask::new(w, h);
    for y in 0..h {
        for x in 0..w {
            let ix = ((x as f32 + 0.5) * scale + px as f32)
                .floor()
                .min(iw as f32 - 1.0);
            let iy = ((y as f32 + 0.5) * scale + py as f32)
                .floor()
                .min(ih as f32 - 1.0);
            if sample(ix, iy) > 0.5 {
                m.set(i64::from(x), i64::from(y), true);
            }
        }
    }
    m
}

/// 8-connected components of `m`, each as its own mask, in scan order.
fn components(m: &BitMask) -> Vec<BitMask> {
    let (w, h) = (i64::from(m.width), i64::from(m.height));
    let mut seen = vec![false; m.data.len()];
    let mut out = Vec::new();
    for start in 0..m.data.len() {
        if m.data[start] == 0 || seen[start] {
            continue;
        }
        let mut part = BitMask::new(m.width, m.height);
        let mut stack = vec![start];
        seen[start] = true;
        while let Some(i) = stack.pop() {
            part.data[i] = 1;
            let (x, y) = (i as i64 % w, i as i64 / w);
            for dy in -1..=1 {
                for dx in -1..=1 {
                    let (qx, qy) = (x + dx, y + dy);
                    if qx >= 0 && qy >= 0 && qx < w && qy < h {
                        let j = (qy * w + qx) as usize;
                        if m.data[j] != 0 && !seen[j] {
                            seen[j] = true;
                            stack.push(j);
                        }
                    }
                }
            }
        }
        out.push(part);
    }
    out
}

/// What `limner prelabel` does with images that already have model segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Only images without any segment are labeled.
    Add,
    /// Earlier model segments are replaced; images with a person's segments are kept.
    ReplaceModel,
}

/// What [`prelabel_project`] did.
#[derive(Debug, Default, Clone)]
pub struct PrelabelReport {
    /// Images labeled now.
    pub labeled: usize,
    /// Segments added.
    pub segments: usize,
    /// Images skipped because a person has labeled them.
    pub kept_human: usize,
    /// Images this model had already labeled (a re-run continues after them).
    pub already_done: usize,
    /// Images with segments of another model (`--mode add`).
    pub kept_model: usize,
    /// Images that failed, with the reason; the others went on.
    pub failed: Vec<String>,
    /// Images left out because the caller asked (the image open in the app).
    pub skipped: usize,
    /// True when the run was stopped before the last image.
    pub cancelled: bool,
}

/// Pre-labels the project's images (those matching `pattern`, a glob on the file name
/// relative to the images folder). Each image is saved atomically as soon as it is
/// done, so an interrupted run loses nothing and a re-run skips what this model already
/// labeled. An image with any segment a person made is never changed, nor one `skip`
/// names (the app's open image). `progress(done, total)` is called after each image;
/// when it returns false the run stops there (cancel), everything done so far kept.
pub fn prelabel_project(
    project: &crate::core::project::Project,
    model: &mut Prelabeler,
    pattern: Option<&str>,
    mode: Mode,
    user: &str,
    skip: &dyn Fn(&str) -> bool,
    mut progress: impl FnMut(usize, usize) -> bool,
) -> crate::core::error::Result<PrelabelReport> {
    use crate::core::document::{Action, Geometry, Segment, Source};
    use crate::core::error::Error;
    let pattern = pattern
        .map(|p| {
            glob::Pattern::new(p).map_err(|e| {
                Error::invalid(&project.root, "--images", format!("bad pattern {p:?}: {e}"))
            })
        })
        .transpose()?;
    let (names, _) = project.list_images()?;
    let names: Vec<String> = names
        .into_iter()
        .filter(|n| pattern.as_ref().is_none_or(|p| p.matches(n)))
        .collect();
    let things: std::collections::HashSet<u32> = project
        .ontology
        .categories
        .iter()
        .filter(|c| c.isthing)
        .map(|c| c.id)
        .collect();
    let known: std::collections::HashSet<u32> =
        project.ontology.active_categories().map(|c| c.id).collect();
    let mut r = PrelabelReport::default();
    for (k, name) in names.iter().enumerate() {
        if skip(name) {
            r.skipped += 1;
            if !progress(k + 1, names.len()) {
                r.cancelled = k + 1 < names.len();
                break;
            }
            continue;
        }
        let step = (|| -> Result<(), String> {
            let mut doc = project.load_document(name).map_err(|e| e.to_string())?;
            if doc.segments.iter().any(|s| s.source != Source::Model) {
                r.kept_human += 1;
                return Ok(());
            }
            let done = doc.log.iter().rev().find_map(|e| match &e.action {
                Action::Prelabel { model: m } => Some(m == &model.name),
                _ => None,
            });
            if done == Some(true) {
                r.already_done += 1;
                return Ok(());
            }
            if !doc.segments.is_empty() && mode == Mode::Add {
                r.kept_model += 1;
                return Ok(());
            }
            let path = project.images_dir().join(name);
            let image = crate::core::io::read_rgb_image(&path).map_err(|e| e.to_string())?;
            if image.dimensions() != (doc.image.width, doc.image.height) {
                return Err(format!(
                    "{}: image is {}x{}, its document says {}x{}",
                    path.display(),
                    image.width(),
                    image.height(),
                    doc.image.width,
                    doc.image.height
                ));
            }
            let found = model
                .predict(&image, &|id| things.contains(&id))
                .map_err(|e| format!("{}: {e}", path.display()))?;
            doc.segments.clear();
            let mut next = 0u32;
            for p in found {
                if !known.contains(&p.category_id) {
                    return Err(format!(
                        "the model's class map gives ontology id {}, which the project does not have (or has retired)",
                        p.category_id
                    ));
                }
                next += 1;
                doc.segments.push(Segment::new(
                    next,
                    p.category_id,
                    Geometry::from_mask(&p.mask),
                    Source::Model,
                ));
            }
            r.segments += doc.segments.len();
            doc.record(
                user,
                Action::Prelabel {
                    model: model.name.clone(),
                },
            );
            project.save_document(&doc).map_err(|e| e.to_string())?;
            r.labeled += 1;
            Ok(())
        })();
        if let Err(e) = step {
            r.failed.push(format!("{name}: {e}"));
        }
        if !progress(k + 1, names.len()) {
            r.cancelled = k + 1 < names.len();
            break;
        }
    }
    Ok(r)
}
