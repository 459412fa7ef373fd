//! The `sam` backend: user-supplied Segment-Anything-family exports (SAM, MobileSAM,
//! EfficientSAM, SAM-HQ) with the segment-anything ONNX decoder interface.
//!
//! Encoder: one input, the image resized so its longest side is `long_side` (1024; new
//! size per axis `int(old * scale + 0.5)` as SAM's `ResizeLongestSide`), normalized by
//! mean/std, zero-padded bottom/right to `long_side`², f32 [1,3,L,L]; output
//! `image_embeddings` (e.g. [1,256,64,64]).
//! Decoder: `image_embeddings`, `point_coords` [1,N,2] (x, y scaled by new/old per
//! axis), `point_labels` [1,N] (1 positive, 0 negative, 2/3 box corners, -1 padding
//! point when there is no box), `mask_input` [1,1,256,256], `has_mask_input` [1],
//! `orig_im_size` [2] (H, W) → `masks` [1,K,H,W] logits at full resolution,
//! `iou_predictions` [1,K]; the mask with the best predicted IoU is used.
//!
//! The encoder is the slow part (seconds on a CPU), so embeddings are cached per image
//! (LRU, keyed by a hash of the pixels) and [`MaskPredictor::prepare`] encodes an image
//! ahead of the first click. Scribbles become points sampled along the stroke; the
//! previous mask is fed back as `mask_input` (logits in the 256² low-res frame).

use std::collections::VecDeque;
use std::sync::Arc;

use image::RgbImage;
use ort::session::Session;
use ort::value::TensorRef;
use rayon::prelude::*;
use serde::Deserialize;

use super::config::{ModelConfig, Normalization};
use super::prompt::{PromptKind, Prompts};
use super::{MaskPredictor, ModelError, Prediction, image_key, runtime};
use crate::core::geometry::BitMask;

/// Side of the decoder's `mask_input` / `low_res_masks`.
pub const LOW_RES: usize = 256;

/// Files of a SAM export, relative to the config.
#[derive(Debug, Clone, Deserialize)]
pub struct SamFiles {
    pub encoder: String,
    pub decoder: String,
}

/// The `sam` settings of a model config.
#[derive(Debug, Clone, Deserialize)]
pub struct SamConfig {
    pub files: SamFiles,
    /// Longest side of the encoder input.
    #[serde(default = "default_long_side")]
    pub long_side: u32,
    /// Applied to RGB in [0, 1]; SAM's pixel mean/std (123.675, … / 58.395, …) divided by 255.
    #[serde(default = "default_normalization")]
    pub normalization: Normalization,
    /// Logit threshold of the mask.
    #[serde(default)]
    pub threshold: f32,
    /// Images whose embeddings are kept.
    #[serde(default = "default_cache")]
    pub cache_images: usize,
    /// Points sampled along each scribble.
    #[serde(default = "default_stroke_points")]
    pub stroke_points: usize,
}

fn default_long_side() -> u32 {
    1024
}
fn default_normalization() -> Normalization {
    Normalization {
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
    }
}
fn default_cache() -> usize {
    4
}
fn default_stroke_points() -> usize {
    6
}

/// SAM's resize rule: the longest side becomes `long`, each side `int(old * s + 0.5)`.
pub fn resized_size(width: u32, height: u32, long: u32) -> (u32, u32) {
    let s = long as f64 / width.max(height) as f64;
    let r = |v: u32| ((v as f64 * s + 0.5) as u32).max(1);
    (r(width), r(height))
}

/// One image's encoder output.
pub struct Embedding {
    key: u64,
    shape: Vec<usize>,
    data: Vec<f32>,
}

/// Least-recently-used cache of image embeddings.
pub struct EmbeddingCache {
    capacity: usize,
    entries: VecDeque<Arc<Embedding>>,
}

impl EmbeddingCache {
    /// A cache holding at most `capacity` images (at least one).
    pub fn new(capacity: usize) -> Self {
        EmbeddingCache {
            capacity: capacity.max(1),
            entries: VecDeque::new(),
        }
    }

    /// The embedding for `key`, marked as most recently used.
    pub fn get(&mut self, key: u64) -> Option<Arc<Embedding>> {
        let i = self.entries.iter().position(|e| e.key == key)?;
        let e = self.entries.remove(i)?;
        self.entries.push_back(e.clone());
        Some(e)
    }

    /// Adds an embedding, evicting the least recently used one when full.
    pub fn insert(&mut self, e: Arc<Embedding>) {
        self.entries.retain(|x| x.key != e.key);
        while self.entries.len() >= self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(e);
    }

    /// Number of cached images.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Decoder points `(coords [x, y] in the resized frame, labels)` for the prompts.
pub fn decoder_points(
    prompts: &Prompts,
    scale: (f32, f32),
    stroke_points: usize,
) -> (Vec<f32>, Vec<f32>) {
    let (sx, sy) = scale;
    let mut coords = Vec::new();
    let mut labels = Vec::new();
    let mut push = |x: f32, y: f32, label: f32| {
        coords.extend_from_slice(&[x * sx, y * sy]);
        labels.push(label);
    };
    for c in &prompts.clicks {
        push(c.x, c.y, if c.positive { 1.0 } else { 0.0 });
    }
    for s in &prompts.strokes {
        let n = s.points.len();
        let k = stroke_points.max(1).min(n);
        for i in 0..k {
            // Evenly spaced vertices, both ends included.
            let j = if k == 1 { n / 2 } else { i * (n - 1) / (k - 1) };
            let p = s.points[j];
            push(p[0], p[1], if s.positive { 1.0 } else { 0.0 });
        }
    }
    match prompts.bbox {
        Some(b) => {
            push(b[0], b[1], 2.0);
            push(b[2], b[3], 3.0);
        }
        None => {
            coords.extend_from_slice(&[0.0, 0.0]);
            labels.push(-1.0);
        }
    }
    (coords, labels)
}

/// The previous probability map as decoder `mask_input` logits (256² over the padded
/// `long`² frame; outside the image: strongly negative).
pub fn mask_input(
    previous: &[f32],
    width: u32,
    height: u32,
    scale: (f32, f32),
    long: u32,
) -> Vec<f32> {
    let cell = long as f32 / LOW_RES as f32;
    let (w, h) = (width as usize, height as usize);
    let mut out = vec![-20.0f32; LOW_RES * LOW_RES];
    out.par_chunks_mut(LOW_RES)
        .enumerate()
        .for_each(|(i, row)| {
            let y = ((i as f32 + 0.5) * cell / scale.1) as usize;
            if y >= h {
                return;
            }
            for (j, v) in row.iter_mut().enumerate() {
                let x = ((j as f32 + 0.5) * cell / scale.0) as usize;
                if x < w {
                    let p = previous[y * w + x].clamp(1e-6, 1.0 - 1e-6);
                    *v = (p / (1.0 - p)).ln().clamp(-20.0, 20.0);
                }
            }
        });
    out
}

/// A SAM-family model: encoder and decoder sessions and the embedding cache.
pub struct SamPredictor {
    encoder: Session,
    decoder: Session,
    config: SamConfig,
    prompts: Vec<PromptKind>,
    cache: EmbeddingCache,
}

impl SamPredictor {
    /// Loads both models of `model_config`.
    pub fn load(model_config: &ModelConfig) -> Result<Self, ModelError> {
        let config: SamConfig = model_config.backend()?;
        if config.long_side == 0 || !config.long_side.is_multiple_of(LOW_RES as u32) {
            return Err(ModelError::Config {
                path: model_config.path.display().to_string(),
                message: format!(
                    "field `long_side`: {} is not a positive multiple of {LOW_RES}",
                    config.long_side
                ),
            });
        }
        let encoder = runtime::session(&model_config.resolve(&config.files.encoder), 2)?;
        let decoder = runtime::session(&model_config.resolve(&config.files.decoder), 2)?;
        Ok(SamPredictor {
            encoder,
            decoder,
            cache: EmbeddingCache::new(config.cache_images),
            config,
            prompts: model_config.prompts.clone(),
        })
    }

    /// Number of images whose embeddings are cached.
    pub fn cached_images(&self) -> usize {
        self.cache.len()
    }

    /// The image's embedding, from the cache or the encoder.
    fn embedding(&mut self, image: &RgbImage) -> Result<Arc<Embedding>, ModelError> {
        let key = image_key(image);
        if let Some(e) = self.cache.get(key) {
            return Ok(e);
        }
        let long = self.config.long_side as usize;
        let (w, h) = image.dimensions();
        let (nw, nh) = resized_size(w, h, self.config.long_side);
        let resized = image::imageops::resize(image, nw, nh, image::imageops::FilterType::Triangle);
        let plane = long * long;
        let mut input = vec![0f32; 3 * plane];
        let n = &self.config.normalization;
        let (a, rest) = input.split_at_mut(plane);
        let (b, c) = rest.split_at_mut(plane);
        let planes = [a, b, c];
        for (ch, dst) in planes.into_iter().enumerate() {
            dst.par_chunks_mut(long)
                .take(nh as usize)
                .enumerate()
                .for_each(|(y, row)| {
                    for (x, v) in row.iter_mut().take(nw as usize).enumerate() {
                        let p = resized.get_pixel(x as u32, y as u32)[ch] as f32 / 255.0;
                        *v = (p - n.mean[ch]) / n.std[ch];
                    }
                });
        }
        let err = |e: ort::Error| ModelError::Inference(format!("encoder: {e}"));
        let name = self.encoder.inputs()[0].name().to_string();
        let tensor =
            TensorRef::from_array_view(([1usize, 3, long, long], input.as_slice())).map_err(err)?;
        let outputs = self
            .encoder
            .run(ort::inputs![name => tensor])
            .map_err(err)?;
        let out = match outputs.get("image_embeddings") {
            Some(v) => v,
            None => &outputs[0],
        };
        let (shape, data) = out.try_extract_tensor::<f32>().map_err(err)?;
        let e = Arc::new(Embedding {
            key,
            shape: shape.iter().map(|&d| d as usize).collect(),
            data: data.to_vec(),
        });
        self.cache.insert(e.clone());
        Ok(e)
    }
}

impl MaskPredictor for SamPredictor {
    fn supports(&self) -> &[PromptKind] {
        &self.prompts
    }

    fn prepare(&mut self, image: &RgbImage) -> Result<(), ModelError> {
        self.embedding(image).map(|_| ())
    }

    fn has_per_image_work(&self) -> bool {
        true
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
        let emb = self.embedding(image)?;
        let (nw, nh) = resized_size(w, h, self.config.long_side);
        let scale = (nw as f32 / w as f32, nh as f32 / h as f32);
        let (coords, labels) = decoder_points(prompts, scale, self.config.stroke_points);
        let n = labels.len();
        let (mask_in, has_mask) = match &prompts.previous {
            Some(prev) => (mask_input(prev, w, h, scale, self.config.long_side), 1.0f32),
            None => (vec![0f32; LOW_RES * LOW_RES], 0.0),
        };
        let size = [h as f32, w as f32];
        let has = [has_mask];
        let err = |e: ort::Error| ModelError::Inference(format!("decoder: {e}"));
        let outputs = self
            .decoder
            .run(ort::inputs![
                "image_embeddings" => TensorRef::from_array_view((emb.shape.clone(), emb.data.as_slice())).map_err(err)?,
                "point_coords" => TensorRef::from_array_view(([1usize, n, 2], coords.as_slice())).map_err(err)?,
                "point_labels" => TensorRef::from_array_view(([1usize, n], labels.as_slice())).map_err(err)?,
                "mask_input" => TensorRef::from_array_view(([1usize, 1, LOW_RES, LOW_RES], mask_in.as_slice())).map_err(err)?,
                "has_mask_input" => TensorRef::from_array_view(([1usize], has.as_slice())).map_err(err)?,
                "orig_im_size" => TensorRef::from_array_view(([2usize], size.as_slice())).map_err(err)?,
            ])
            .map_err(err)?;
        let (shape, masks) = outputs["masks"].try_extract_tensor::<f32>().map_err(err)?;
        let plane = w as usize * h as usize;
        if shape.len() != 4 || shape[2] != h as i64 || shape[3] != w as i64 || masks.is_empty() {
            return Err(ModelError::Inference(format!(
                "decoder returned masks of shape {shape:?}; expected [1, K, {h}, {w}]"
            )));
        }
        let best = match outputs.get("iou_predictions") {
            Some(v) => {
                let (_, iou) = v.try_extract_tensor::<f32>().map_err(err)?;
                iou.iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .map_or(0, |(i, _)| i)
            }
            None => 0,
        };
        let logits = &masks[best.min(masks.len() / plane - 1) * plane..][..plane];
        let t = self.config.threshold;
        let probability: Vec<f32> = logits
            .par_iter()
            .map(|&l| 1.0 / (1.0 + (-l).exp()))
            .collect();
        let mask = BitMask {
            width: w,
            height: h,
            data: logits.par_iter().map(|&l| u8::from(l > t)).collect(),
        };
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
    use crate::model::prompt::{Click, Stroke};

    #[test]
    fn resize_rule_matches_sam() {
        // SAM: 400x600 (h x w) -> scale 1024/600 -> h 682.67 -> int(+0.5) = 683.
        assert_eq!(resized_size(600, 400, 1024), (1024, 683));
        assert_eq!(resized_size(321, 481, 1024), (683, 1024));
        assert_eq!(resized_size(1024, 1024, 1024), (1024, 1024));
    }

    #[test]
    fn points_scale_per_axis_and_pad_without_box() {
        let p = Prompts {
            clicks: vec![Click {
                x: 300.0,
                y: 200.0,
                positive: false,
            }],
            ..Default::default()
        };
        let (c, l) = decoder_points(&p, (2.0, 0.5), 6);
        assert_eq!(c, vec![600.0, 100.0, 0.0, 0.0]);
        assert_eq!(l, vec![0.0, -1.0]);
        let p = Prompts {
            bbox: Some([1.0, 2.0, 3.0, 4.0]),
            strokes: vec![Stroke {
                points: (0..10).map(|i| [i as f32, 0.0]).collect(),
                positive: true,
            }],
            ..Default::default()
        };
        let (c, l) = decoder_points(&p, (1.0, 1.0), 3);
        assert_eq!(l, vec![1.0, 1.0, 1.0, 2.0, 3.0]);
        assert_eq!(&c[..6], &[0.0, 0.0, 4.0, 0.0, 9.0, 0.0]);
    }

    #[test]
    fn lru_evicts_the_least_recently_used() {
        let e = |key| {
            Arc::new(Embedding {
                key,
                shape: vec![1],
                data: vec![0.0],
            })
        };
        let mut c = EmbeddingCache::new(2);
        c.insert(e(1));
        c.insert(e(2));
        assert!(c.get(1).is_some());
        c.insert(e(3));
        assert!(c.get(2).is_none(), "2 was least recently used");
        assert!(c.get(1).is_some() && c.get(3).is_some());
    }

    #[test]
    fn mask_input_marks_the_previous_mask_in_the_low_res_frame() {
        let (w, h) = (512u32, 256u32);
        let mut prev = vec![0.0f32; (w * h) as usize];
        for y in 0..128 {
            for x in 0..256 {
                prev[y * w as usize + x] = 1.0;
            }
        }
        let scale = (2.0, 2.0); // 512x256 -> 1024x512
        let m = mask_input(&prev, w, h, scale, 1024);
        assert!(m[10 * LOW_RES + 10] > 10.0, "inside the previous mask");
        assert!(m[10 * LOW_RES + 200] < -10.0, "outside it");
        assert!(m[200 * LOW_RES + 10] < -10.0, "padding below the image");
    }

    #[test]
    fn image_key_tells_images_apart() {
        let a = RgbImage::from_pixel(8, 8, image::Rgb([1, 2, 3]));
        let mut b = a.clone();
        b.put_pixel(7, 7, image::Rgb([1, 2, 4]));
        assert_eq!(image_key(&a), image_key(&a.clone()));
        assert_ne!(image_key(&a), image_key(&b));
    }
}
