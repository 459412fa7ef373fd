//! Quality assurance: gold-set comparison, inter-annotator agreement, class-frequency
//! drift, targeted re-labeling, slice tags and the gold flag. No GUI types.
//!
//! | module | what lives there |
//! |---|---|
//! | [`metrics`] | per-image PQ / mIoU / Boundary IoU counts and the scores read off them |
//! | [`compare`] | `qa compare`: a prediction against the gold set, by class, slice, annotator |
//! | [`html`] | the self-contained HTML report (inline CSS and SVG, thumbnails as data URIs) |
//! | [`workflow`] | `qa agreement`, `qa stats` (drift), `qa relabel` (re-review queue) |
//! | [`tags`] | slice tags from CSV or `key=value`, and the gold flag |
//!
//! A *label set* is a Limner project or a COCO panoptic JSON (read with the formats
//! reader); images are matched by file name.

pub mod compare;
pub mod html;
pub mod metrics;
pub mod tags;
pub mod workflow;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::core::document::ImageDocument;
use crate::core::error::{Error, Result};
use crate::core::formats::coco_panoptic;
use crate::core::ontology::Ontology;
use crate::core::project::{Project, SETTINGS_FILE};

/// Where a label set came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetKind {
    /// A Limner project folder.
    Project,
    /// A COCO panoptic JSON with its PNG folder.
    CocoPanoptic,
}

/// Labels of a set of images: a project's annotated documents, or a COCO panoptic file.
#[derive(Debug, Clone)]
pub struct LabelSet {
    /// The project folder or JSON file.
    pub origin: PathBuf,
    /// Project or COCO panoptic.
    pub kind: SetKind,
    /// The categories.
    pub ontology: Ontology,
    /// One document per image (projects: only images with an annotation file).
    pub documents: Vec<ImageDocument>,
    /// Folder the images' file names are relative to, when known.
    pub images_dir: Option<PathBuf>,
    /// The open project, for a project set.
    pub project: Option<Project>,
}

impl LabelSet {
    /// Loads a project folder (it must hold `limner.json`; nothing is created) or a COCO
    /// panoptic JSON. `images` is where the image files are (thumbnails); a project
    /// knows its own.
    pub fn load(path: &Path, images: Option<&Path>) -> Result<LabelSet> {
        if path.is_dir() {
            if !path.join(SETTINGS_FILE).exists() {
                return Err(Error::invalid(
                    path,
                    SETTINGS_FILE,
                    "not a Limner project (no limner.json) nor a COCO panoptic JSON",
                ));
            }
            let project = Project::open(path)?;
            let documents = project.load_all_documents()?.into_values().collect();
            Ok(LabelSet {
                origin: path.to_path_buf(),
                kind: SetKind::Project,
                ontology: project.ontology.clone(),
                documents,
                images_dir: Some(
                    images
                        .map(Path::to_path_buf)
                        .unwrap_or_else(|| project.images_dir()),
                ),
                project: Some(project),
            })
        } else {
            let data = coco_panoptic::read(path, None)?;
            Ok(LabelSet {
                origin: path.to_path_buf(),
                kind: SetKind::CocoPanoptic,
                ontology: data.ontology,
                documents: data.documents,
                images_dir: images.map(Path::to_path_buf),
                project: None,
            })
        }
    }

    /// The file an image's labels are in, for messages.
    pub fn document_origin(&self, file_name: &str) -> PathBuf {
        match &self.project {
            Some(p) => p.annotation_path(file_name),
            None => self.origin.clone(),
        }
    }

    /// The gold set: in a project, the documents marked gold, or every document with a
    /// segment when none is marked; in a COCO file, every image. The string says which.
    pub fn gold_set(&self) -> (Vec<&ImageDocument>, String) {
        match self.kind {
            SetKind::CocoPanoptic => (
                self.documents.iter().collect(),
                format!(
                    "all {} images of the COCO panoptic file",
                    self.documents.len()
                ),
            ),
            SetKind::Project => {
                let gold: Vec<&ImageDocument> = self.documents.iter().filter(|d| d.gold).collect();
                if gold.is_empty() {
                    let all: Vec<&ImageDocument> = self
                        .documents
                        .iter()
                        .filter(|d| !d.segments.is_empty())
                        .collect();
                    let n = all.len();
                    (
                        all,
                        format!(
                            "no image is marked gold: all {n} annotated images are used (mark gold images with `limner gold`)"
                        ),
                    )
                } else {
                    let n = gold.len();
                    (gold, format!("{n} images marked gold"))
                }
            }
        }
    }

    /// A file-name lookup: exact names, then base names that are unique in the set.
    pub fn index(&self) -> NameIndex<'_> {
        let mut exact = HashMap::new();
        let mut base: HashMap<&str, Option<&ImageDocument>> = HashMap::new();
        for d in &self.documents {
            exact.insert(d.image.file_name.as_str(), d);
            base.entry(base_name(&d.image.file_name))
                .and_modify(|e| *e = None)
                .or_insert(Some(d));
        }
        NameIndex { exact, base }
    }
}

/// Looks documents up by image file name (see [`LabelSet::index`]).
pub struct NameIndex<'a> {
    exact: HashMap<&'a str, &'a ImageDocument>,
    base: HashMap<&'a str, Option<&'a ImageDocument>>,
}

impl<'a> NameIndex<'a> {
    /// The document for `file_name`: the same name, else the only one with the same
    /// base name.
    pub fn get(&self, file_name: &str) -> Option<&'a ImageDocument> {
        self.exact
            .get(file_name)
            .copied()
            .or_else(|| self.base.get(base_name(file_name)).copied().flatten())
    }
}

fn base_name(file_name: &str) -> &str {
    file_name.rsplit('/').next().unwrap_or(file_name)
}

/// The user name recorded in audit logs: `explicit`, else `LIMNER_USER`, else `USER`,
/// else "unknown".
pub fn user_name(explicit: Option<&str>) -> String {
    explicit
        .map(str::to_string)
        .filter(|s| !s.trim().is_empty())
        .or_else(|| std::env::var("LIMNER_USER").ok().filter(|s| !s.is_empty()))
        .or_else(|| std::env::var("USER").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}
