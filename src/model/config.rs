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
    /// Classical: Otsu or manual grey level (`model::classical::threshold`).
    #[serde(rename = "threshold")]
    Threshold,
    /// Classical: L*a*b* region growing (`model::classical::region_grow`).
    #[serde(rename = "region-grow")]
    RegionGrow,
    /// Classical: marker watershed on the gradient (`model::classical::watershed`).
    #[serde(rename = "watershed")]
    Watershed,
    /// Classical: GrabCut, GMMs + graph cut (`model::classical::grabcut`).
    #[serde(rename = "grabcut")]
    GrabCut,
    /// Classical: SLIC superpixel selection (`model::classical::superpixel`).
    #[serde(rename = "superpixel")]
    Superpixel,
    /// A Segment-Anything-family encoder + decoder pair (segment-anything ONNX interface).
    #[serde(rename = "sam")]
    Sam,
    /// Pre-labeling: image -> class logits (`model::prelabel`); takes no prompts.
    #[serde(rename = "semantic")]
    Semantic,
    /// Pre-labeling: an Ultralytics YOLO segmentation export (`model::prelabel`).
    #[serde(rename = "yolo-seg")]
    YoloSeg,
}

/// Input size rules.
#[derive(Debug, Clone, Deserialize)]
pub struct InputSize {
    /// Long side of the model input for a zoom-in crop (once there is a mask).
    pub long_side: u32,
    /// Long side for the first prompt, which sees the whole image (default: `long_side`).
    #[serde(default)]
    pub first_long_side: Option<u32>,
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

/// The part of a model config every backend shares. The rest of the file holds the
/// backend's own settings, read by [`ModelConfig::backend`] into the backend's type.
#[derive(Debug, Clone, Deserialize)]
pub struct ModelConfig {
    pub name: String,
    pub kind: ModelKind,
    /// Prompt kinds the model understands.
    pub prompts: Vec<PromptKind>,
    /// The config file.
    #[serde(skip)]
    pub path: PathBuf,
    /// Folder of the config; files are resolved against it.
    #[serde(skip)]
    pub dir: PathBuf,
    /// The file's bytes, for [`ModelConfig::backend`].
    #[serde(skip)]
    raw: Vec<u8>,
}

impl ModelConfig {
    /// Reads a config; errors name the file and field.
    pub fn load(path: &Path) -> Result<ModelConfig, ModelError> {
        let raw = std::fs::read(path).map_err(|e| ModelError::Config {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let mut c: ModelConfig =
            crate::core::io::parse_json(path, &raw).map_err(|e| config_error(path, e))?;
        c.path = path.to_path_buf();
        c.dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        c.raw = raw;
        Ok(c)
    }

    /// The backend's own settings, read from the same file (errors name file and field).
    pub fn backend<T: serde::de::DeserializeOwned>(&self) -> Result<T, ModelError> {
        crate::core::io::parse_json(&self.path, &self.raw).map_err(|e| config_error(&self.path, e))
    }

    /// A file named in the config, resolved against the config's folder.
    pub fn resolve(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }
}

fn config_error(path: &Path, e: crate::core::error::Error) -> ModelError {
    ModelError::Config {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Every model config in `dir` (`*.json` files that parse as one), as `(name, path)`
/// sorted by name; files that are not model configs are skipped.
pub fn list_models(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, PathBuf)> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| ModelConfig::load(&p).ok())
        // The model picker is for prompt models; pre-labeling models run from the CLI.
        .filter(|c| !matches!(c.kind, ModelKind::Semantic | ModelKind::YoloSeg))
        .map(|c| (c.name, c.path))
        .collect();
    out.sort();
    out
}

/// The pre-labeling model configs (`semantic`, `yolo-seg`) in `dir`, as `(name, path)`
/// sorted by name.
pub fn list_prelabel_models(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, PathBuf)> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| ModelConfig::load(&p).ok())
        .filter(|c| matches!(c.kind, ModelKind::Semantic | ModelKind::YoloSeg))
        .map(|c| (c.name, c.path))
        .collect();
    out.sort();
    out
}

/// The shipped default model's config, relative to the crate root.
pub const DEFAULT_MODEL_CONFIG: &str = "models/limner-click-v2.json";

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

/// The model config `--model` names: a config file, or a model's name as the model
/// picker shows it (`grabcut`, `limner-click-v1`), looked up beside the default model;
/// `None` is the default model.
pub fn resolve_model(arg: Option<&Path>) -> Result<PathBuf, ModelError> {
    let Some(arg) = arg else {
        return default_model_config().ok_or_else(|| ModelError::Config {
            path: DEFAULT_MODEL_CONFIG.into(),
            message: "no model config found; pass --model".into(),
        });
    };
    if arg.is_file() {
        return Ok(arg.to_path_buf());
    }
    let models = default_model_config()
        .as_deref()
        .and_then(Path::parent)
        .map(list_models)
        .unwrap_or_default();
    let name = arg.to_string_lossy();
    if let Some((_, path)) = models.iter().find(|(n, _)| *n == name) {
        return Ok(path.clone());
    }
    let names: Vec<&str> = models.iter().map(|(n, _)| n.as_str()).collect();
    Err(ModelError::Config {
        path: arg.display().to_string(),
        message: if names.is_empty() {
            "no such model config file, and no models folder to look the name up in".into()
        } else {
            format!(
                "no such model config file or model name (models: {})",
                names.join(", ")
            )
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_is_found_by_its_picker_name_or_its_file() {
        let by_name = resolve_model(Some(Path::new("grabcut"))).unwrap();
        assert_eq!(
            ModelConfig::load(&by_name).unwrap().kind,
            ModelKind::GrabCut
        );
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/threshold.json");
        assert_eq!(resolve_model(Some(&file)).unwrap(), file);
        let e = resolve_model(Some(Path::new("no-such-model")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("grabcut") && e.contains("no-such-model"), "{e}");
        assert!(resolve_model(None).is_ok());
    }
}
