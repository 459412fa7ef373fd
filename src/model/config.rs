//! Model configs: one JSON file per model in `models/`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ModelError;
use super::prompt::PromptKind;

/// Backend kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ModelKind {
    /// Limner's own click / scribble / box model (contract `limner-click/1`).
    #[serde(rename = "limner-click")]
    LimnerClick,
}

/// Input size rules.
#[derive(Debug, Clone, Deserialize)]
pub struct InputSize {
    /// Long side of the model input for a crop.
    pub long_side: u32,
    /// Padding multiple of H and W.
    pub multiple: u32,
    pub min: u32,
    pub max: u32,
}

/// Per-channel normalization of the RGB input (after scaling to [0, 1]).
#[derive(Debug, Clone, Deserialize)]
pub struct Normalization {
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

/// Files of a model, relative to its config.
#[derive(Debug, Clone, Deserialize)]
pub struct ModelFiles {
    pub model: String,
}

/// A model config file.
#[derive(Debug, Clone, Deserialize)]
pub struct ModelConfig {
    pub name: String,
    pub kind: ModelKind,
    pub contract: String,
    pub files: ModelFiles,
    pub input_size: InputSize,
    pub normalization: Normalization,
    pub prompts: Vec<PromptKind>,
    pub click_radius: f32,
    pub stroke_radius: f32,
    pub threshold: f32,
    /// Folder of the config; files are resolved against it.
    #[serde(skip)]
    pub dir: PathBuf,
}

impl ModelConfig {
    /// Reads a config; errors name the file and field.
    pub fn load(path: &Path) -> Result<ModelConfig, ModelError> {
        let mut c: ModelConfig =
            crate::core::io::read_json(path).map_err(|e| ModelError::Config {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
        c.dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(c)
    }

    /// Absolute path of the model file.
    pub fn model_path(&self) -> PathBuf {
        self.dir.join(&self.files.model)
    }
}

/// The shipped default model's config, relative to the crate root.
pub const DEFAULT_MODEL_CONFIG: &str = "models/limner-click-v1.json";

/// Finds the default model config: next to the executable (`models/`), in the current
/// folder, or in the source tree this binary was built from.
pub fn default_model_config() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        candidates.push(dir.join(DEFAULT_MODEL_CONFIG));
    }
    candidates.push(PathBuf::from(DEFAULT_MODEL_CONFIG));
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_MODEL_CONFIG));
    candidates.into_iter().find(|p| p.exists())
}
