//! A project on disk: a folder a user can copy, back up and version.
//!
//! ```text
//! <root>/limner.json              project settings (schema, name, images_dir)
//! <root>/ontology.json            the lean ontology (see `ontology`)
//! <root>/annotations/<image>.json one document per image, e.g. annotations/sub/a.jpg.json
//! <images_dir>/<image>            images, inside the root or referenced by relative path
//! ```
//! Opening a plain folder of images creates `limner.json` and `ontology.json` in it and
//! never modifies the images.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::document::ImageDocument;
use super::error::{Error, Result};
use super::io;
use super::ontology::Ontology;

/// Schema tag of `limner.json`.
pub const PROJECT_SCHEMA: &str = "limner-project/1";
/// Settings file name.
pub const SETTINGS_FILE: &str = "limner.json";
/// Ontology file name.
pub const ONTOLOGY_FILE: &str = "ontology.json";
/// Folder of per-image annotation files.
pub const ANNOTATIONS_DIR: &str = "annotations";

/// Contents of `limner.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub schema: String,
    pub name: String,
    /// Folder holding the images, relative to the project root ('/'-separated; may
    /// lead outside the root, e.g. "../dataset/images") or absolute.
    pub images_dir: String,
}

/// An open project: its root, settings and ontology. Documents are loaded on demand.
#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    pub settings: Settings,
    pub ontology: Ontology,
}

/// A problem found while listing images that did not stop the listing.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanWarning {
    pub path: PathBuf,
    pub message: String,
}

impl Project {
    /// Creates a new project at `root` (the folder may exist; an existing `limner.json`
    /// is an error so nothing is overwritten).
    pub fn create(
        root: &Path,
        name: &str,
        images_dir: &str,
        ontology: Ontology,
    ) -> Result<Project> {
        let settings_path = root.join(SETTINGS_FILE);
        if settings_path.exists() {
            return Err(Error::invalid(
                &settings_path,
                "(root)",
                "a project already exists here",
            ));
        }
        std::fs::create_dir_all(root).map_err(|e| Error::io(root, e))?;
        let p = Project {
            root: root.to_path_buf(),
            settings: Settings {
                schema: PROJECT_SCHEMA.into(),
                name: name.into(),
                images_dir: images_dir.into(),
            },
            ontology,
        };
        p.save_ontology()?;
        io::write_json_atomic(&settings_path, &p.settings)?;
        Ok(p)
    }

    /// Opens the project at `root`; a plain folder of images becomes a project in place.
    /// An empty folder (no project, no images) is an error and nothing is written.
    pub fn open(root: &Path) -> Result<Project> {
        let settings_path = root.join(SETTINGS_FILE);
        if !settings_path.exists() {
            if !root.is_dir() {
                return Err(Error::io(
                    root,
                    std::io::Error::new(std::io::ErrorKind::NotFound, "no such folder"),
                ));
            }
            let (found, _) = scan_images(root, root)?;
            if found.is_empty() {
                return Err(Error::invalid(
                    root,
                    "(folder)",
                    format!(
                        "no images found (looked for {}) and no {SETTINGS_FILE}",
                        io::IMAGE_EXTENSIONS.join(", ")
                    ),
                ));
            }
            let name = root
                .canonicalize()
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "project".into());
            let ontology_path = root.join(ONTOLOGY_FILE);
            let ontology = if ontology_path.exists() {
                Ontology::load(&ontology_path)?
            } else {
                Ontology::default()
            };
            return Project::create(root, &name, ".", ontology);
        }
        let settings: Settings = io::read_json(&settings_path)?;
        if settings.schema != PROJECT_SCHEMA {
            return Err(Error::invalid(
                &settings_path,
                "schema",
                format!(
                    "unsupported schema {:?}, expected {PROJECT_SCHEMA:?}",
                    settings.schema
                ),
            ));
        }
        let ontology = Ontology::load(&root.join(ONTOLOGY_FILE))?;
        Ok(Project {
            root: root.to_path_buf(),
            settings,
            ontology,
        })
    }

    /// The images folder.
    pub fn images_dir(&self) -> PathBuf {
        self.root.join(&self.settings.images_dir)
    }

    /// Full path of an image given its project file name.
    pub fn image_path(&self, file_name: &str) -> PathBuf {
        self.images_dir().join(file_name)
    }

    /// Path of the annotation file of an image.
    pub fn annotation_path(&self, file_name: &str) -> PathBuf {
        self.root
            .join(ANNOTATIONS_DIR)
            .join(format!("{file_name}.json"))
    }

    /// The project's images (relative, '/'-separated, sorted) and the files it skipped.
    pub fn list_images(&self) -> Result<(Vec<String>, Vec<ScanWarning>)> {
        let dir = self.images_dir();
        scan_images(&dir, &self.root)
    }

    /// Writes the ontology atomically.
    pub fn save_ontology(&self) -> Result<()> {
        self.ontology.save(&self.root.join(ONTOLOGY_FILE))
    }

    /// Loads an image's document, or makes an empty one (size read from the image
    /// header) when the image has none yet.
    pub fn load_document(&self, file_name: &str) -> Result<ImageDocument> {
        let origin = self.annotation_path(file_name);
        let rel = io::safe_relative_path(file_name, &origin, "image.file_name")?;
        if origin.exists() {
            return self.read_document_file(&origin);
        }
        let (w, h) = io::image_dimensions(&self.images_dir().join(rel))?;
        Ok(ImageDocument::new(file_name, w, h))
    }

    /// Reads and schema-checks one annotation file, without the ontology rules.
    pub fn read_document_file(&self, path: &Path) -> Result<ImageDocument> {
        let doc: ImageDocument = io::read_json(path)?;
        let expected = self.annotation_path(&doc.image.file_name);
        if expected != path {
            return Err(Error::invalid(
                path,
                "image.file_name",
                format!(
                    "names {:?}, which belongs in {}",
                    doc.image.file_name,
                    expected.display()
                ),
            ));
        }
        Ok(doc)
    }

    /// Validates and writes a document atomically. A document that breaks a rule is
    /// refused, so a bad edit never replaces a good file.
    pub fn save_document(&self, doc: &ImageDocument) -> Result<()> {
        let path = self.annotation_path(&doc.image.file_name);
        if let Some(e) = doc.validate(&self.ontology, &path).into_iter().next() {
            return Err(e);
        }
        io::write_json_atomic(&path, doc)
    }

    /// Validates and writes several documents so that a failure changes none of them
    /// (see [`io::write_atomic_all`]): every document is checked, then all are staged,
    /// then renamed into place.
    pub fn save_documents(&self, docs: &[ImageDocument]) -> Result<()> {
        let mut files = Vec::with_capacity(docs.len());
        for doc in docs {
            let path = self.annotation_path(&doc.image.file_name);
            if let Some(e) = doc.validate(&self.ontology, &path).into_iter().next() {
                return Err(e);
            }
            let bytes = io::json_bytes(&path, doc)?;
            files.push((path, bytes));
        }
        io::write_atomic_all(&files)
    }

    /// Every annotation file under `annotations/`, as paths.
    pub fn annotation_files(&self) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        let dir = self.root.join(ANNOTATIONS_DIR);
        if dir.is_dir() {
            walk(&dir, &mut |p| {
                if p.extension().is_some_and(|e| e == "json") {
                    out.push(p.to_path_buf());
                }
            })?;
        }
        out.sort();
        Ok(out)
    }

    /// Loads every document, keyed by image file name.
    pub fn load_all_documents(&self) -> Result<BTreeMap<String, ImageDocument>> {
        let mut out = BTreeMap::new();
        for p in self.annotation_files()? {
            let d = self.read_document_file(&p)?;
            out.insert(d.image.file_name.clone(), d);
        }
        Ok(out)
    }

    /// How many segments use each category id, over all documents.
    pub fn category_usage(&self) -> Result<BTreeMap<u32, usize>> {
        let mut usage = BTreeMap::new();
        for d in self.load_all_documents()?.values() {
            for s in &d.segments {
                *usage.entry(s.category_id).or_insert(0) += 1;
            }
        }
        Ok(usage)
    }

    /// Retires a category that no segment uses (merge it instead when it is in use).
    pub fn retire_category(&mut self, id: u32) -> Result<()> {
        let onto = self.root.join(ONTOLOGY_FILE);
        let mut used = 0;
        let mut images = Vec::new();
        for (name, d) in self.load_all_documents()? {
            let n = d.segments.iter().filter(|s| s.category_id == id).count();
            if n > 0 {
                used += n;
                images.push(name);
            }
        }
        if used > 0 {
            let name = self
                .ontology
                .get(id)
                .map_or_else(|| format!("{id}"), |c| format!("“{}” (id {id})", c.name));
            let mut list = images
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            if images.len() > 5 {
                list.push_str(&format!(" and {} more", images.len() - 5));
            }
            return Err(Error::invalid(
                &onto,
                "categories",
                format!(
                    "class {name} is used by {used} segment(s) in {} image(s): {list}; \
                     merge it into another class instead, or delete those segments first",
                    images.len()
                ),
            ));
        }
        self.ontology
            .retire(id)
            .map_err(|m| Error::invalid(&onto, "categories", m))?;
        self.save_ontology()
    }

    /// Merges category `from` into `into`: every segment is remapped (documents are
    /// written first, so a crash leaves segments on the live class), then `from` is
    /// retired with `merged_into`. Returns how many segments moved.
    pub fn merge_category(&mut self, from: u32, into: u32) -> Result<usize> {
        let onto = self.root.join(ONTOLOGY_FILE);
        let mut next = self.ontology.clone();
        next.merge(from, into)
            .map_err(|m| Error::invalid(&onto, "categories", m))?;
        let mut moved = 0;
        for (_, mut d) in self.load_all_documents()? {
            let mut changed = false;
            for s in d.segments.iter_mut().filter(|s| s.category_id == from) {
                s.category_id = into;
                changed = true;
                moved += 1;
            }
            if changed {
                io::write_json_atomic(&self.annotation_path(&d.image.file_name), &d)?;
            }
        }
        self.ontology = next;
        self.save_ontology()?;
        Ok(moved)
    }

    /// Checks everything: every document against the rules and the ontology, documents
    /// whose image is missing. Returns every problem found.
    pub fn validate(&self) -> Vec<Error> {
        let mut out = Vec::new();
        let files = match self.annotation_files() {
            Ok(f) => f,
            Err(e) => return vec![e],
        };
        for p in files {
            match self.read_document_file(&p) {
                Err(e) => out.push(e),
                Ok(d) => {
                    out.extend(d.validate(&self.ontology, &p));
                    if io::safe_relative_path(&d.image.file_name, &p, "image.file_name").is_ok()
                        && !self.image_path(&d.image.file_name).exists()
                    {
                        out.push(Error::invalid(
                            &p,
                            "image.file_name",
                            format!(
                                "image {} not found",
                                self.image_path(&d.image.file_name).display()
                            ),
                        ));
                    }
                }
            }
        }
        out
    }
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let hidden = e.file_name().to_string_lossy().starts_with('.');
        if hidden {
            continue;
        }
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            walk(&p, f)?;
        } else {
            f(&p);
        }
    }
    Ok(())
}

/// Lists image files under `dir` (recursively, skipping hidden entries and the
/// project's own `annotations/` folder), as '/'-separated paths relative to `dir`.
fn scan_images(dir: &Path, project_root: &Path) -> Result<(Vec<String>, Vec<ScanWarning>)> {
    let skip = project_root.join(ANNOTATIONS_DIR);
    let mut names = Vec::new();
    let mut warnings = Vec::new();
    walk(dir, &mut |p| {
        if p.starts_with(&skip) || !io::is_image_file(p) {
            return;
        }
        let Ok(rel) = p.strip_prefix(dir) else { return };
        match rel.to_str() {
            Some(s) => names.push(s.replace('\\', "/")),
            None => warnings.push(ScanWarning {
                path: p.to_path_buf(),
                message: "file name is not valid UTF-8; skipped (rename it to include it)".into(),
            }),
        }
    })?;
    names.sort();
    Ok((names, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_png(path: &Path, w: u32, h: u32) {
        image::RgbImage::new(w, h).save(path).unwrap();
    }

    #[test]
    fn plain_folder_becomes_project_without_touching_images() {
        let dir = tempfile::tempdir().unwrap();
        write_png(&dir.path().join("b.png"), 4, 3);
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        write_png(&dir.path().join("sub/a.png"), 2, 2);
        let before = std::fs::read(dir.path().join("b.png")).unwrap();
        let p = Project::open(dir.path()).unwrap();
        assert!(dir.path().join(SETTINGS_FILE).exists());
        let (imgs, warns) = p.list_images().unwrap();
        assert_eq!(imgs, vec!["b.png".to_string(), "sub/a.png".to_string()]);
        assert!(warns.is_empty());
        assert_eq!(std::fs::read(dir.path().join("b.png")).unwrap(), before);
        let d = p.load_document("sub/a.png").unwrap();
        assert_eq!((d.image.width, d.image.height), (2, 2));
        // Reopen reads the settings back.
        let p2 = Project::open(dir.path()).unwrap();
        assert_eq!(p2.settings, p.settings);
    }

    #[test]
    fn empty_folder_is_an_error_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let e = Project::open(dir.path()).unwrap_err().to_string();
        assert!(e.contains("no images found"), "{e}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
