//! Model-assisted masks: prompts in, mask out, behind one [`MaskPredictor`] trait.
//!
//! | module | what lives there |
//! |---|---|
//! | [`prompt`] | clicks, scribbles, boxes, the previous mask |
//! | [`config`] | one JSON config per model in `models/` |
//! | [`runtime`] | finding and loading the ONNX Runtime library |
//! | [`click`] | the `limner-click` backend (the embedded model) |
//! | [`sam`] | the `sam` backend: Segment-Anything-family exports, embedding cache |
//! | [`noc`] | the NoC@85 / NoC@90 click-simulation benchmark |
//! | [`prelabel`] | pre-labeling models (`semantic`, `yolo-seg`): image in, segments out |
//! | [`request`] | the prompt file of `limner predict` |
//! | [`region`] | classical assists (flood fill by colour) |
//! | [`classical`] | classical backends: `threshold`, `region-grow`, `watershed`, `grabcut`, `superpixel` |
//! | [`postprocess`] | keep prompted components, fill small holes |
//! | [`suspects`] | model-assisted QA: labels a confident click model disagrees with |
//!
//! One backend per kind, chosen by the single `match` in [`load_predictor`].

pub mod classical;
pub mod click;
pub mod config;
pub mod noc;
pub mod postprocess;
pub mod prelabel;
pub mod prompt;
pub mod region;
pub mod request;
pub mod runtime;
pub mod sam;
pub mod suspects;

use std::path::Path;

pub use config::{ModelConfig, ModelKind};
pub use prompt::{Click, Prompts, Stroke};

use crate::core::geometry::BitMask;

/// What a predictor returns: per-pixel foreground probability over the whole image and
/// the thresholded mask.
#[derive(Debug, Clone)]
pub struct Prediction {
    pub width: u32,
    pub height: u32,
    /// Row-major probabilities in [0, 1]; fed back as the previous mask on the next call.
    pub probability: Vec<f32>,
    pub mask: BitMask,
}

/// Errors of model loading and inference.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// ONNX Runtime is not installed; the message says how to install it.
    #[error("{0}")]
    RuntimeMissing(String),
    #[error("{path}: {message}")]
    Config { path: String, message: String },
    #[error("inference failed: {0}")]
    Inference(String),
    #[error("bad prompt: {0}")]
    Prompt(String),
}

/// Turns an image and prompts into a mask.
pub trait MaskPredictor: Send {
    /// Prompt kinds this backend understands.
    fn supports(&self) -> &[prompt::PromptKind];
    /// Does per-image work ahead of the first prompt (a SAM encoder pass, cached);
    /// backends without such work do nothing.
    fn prepare(&mut self, _image: &image::RgbImage) -> Result<(), ModelError> {
        Ok(())
    }
    /// True when [`MaskPredictor::prepare`] does work worth doing ahead of time.
    fn has_per_image_work(&self) -> bool {
        false
    }
    /// Sets a runtime option of the backend (the `threshold` backend's `level`: 0 =
    /// Otsu, 1-255 a manual level), kept for the next predictions; false when the
    /// backend has no such option.
    fn set_option(&mut self, _name: &str, _value: f64) -> bool {
        false
    }
    /// Predicts a mask for `image` from `prompts`.
    fn predict(
        &mut self,
        image: &image::RgbImage,
        prompts: &Prompts,
    ) -> Result<Prediction, ModelError>;
}

/// Identity of an image's pixels: the key of per-image caches (SAM embeddings, superpixels).
pub fn image_key(image: &image::RgbImage) -> u64 {
    use rayon::prelude::*;
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    image.dimensions().hash(&mut h);
    // Hash rows in parallel, then the row hashes: a 12 MP photo takes a few ms.
    let row = image.width() as usize * 3;
    let rows: Vec<u64> = image
        .as_raw()
        .par_chunks(row.max(1) * 64)
        .map(|c| {
            let mut h = std::hash::DefaultHasher::new();
            c.hash(&mut h);
            h.finish()
        })
        .collect();
    rows.hash(&mut h);
    h.finish()
}

/// Builds the backend for a model config: one backend per kind.
pub fn load_predictor(config_path: &Path) -> Result<Box<dyn MaskPredictor>, ModelError> {
    let config = ModelConfig::load(config_path)?;
    match config.kind {
        ModelKind::LimnerClick => Ok(Box::new(click::ClickPredictor::load(&config)?)),
        ModelKind::Threshold => Ok(Box::new(classical::threshold::ThresholdPredictor::load(
            &config,
        )?)),
        ModelKind::RegionGrow => Ok(Box::new(classical::region_grow::RegionGrowPredictor::load(
            &config,
        )?)),
        ModelKind::Watershed => Ok(Box::new(classical::watershed::WatershedPredictor::load(
            &config,
        )?)),
        ModelKind::GrabCut => Ok(Box::new(classical::grabcut::GrabCutPredictor::load(
            &config,
        )?)),
        ModelKind::Superpixel => Ok(Box::new(classical::superpixel::SuperpixelPredictor::load(
            &config,
        )?)),
        ModelKind::Sam => Ok(Box::new(sam::SamPredictor::load(&config)?)),
        ModelKind::Semantic | ModelKind::YoloSeg => Err(ModelError::Config {
            path: config_path.display().to_string(),
            message: "a pre-labeling model takes no prompts: use it with `limner prelabel`".into(),
        }),
    }
}
