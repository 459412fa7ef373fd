//! The class-id map written beside every export (`<output>.classmap.json`): which
//! ontology id became which id of the format, and what void became. Re-importing an
//! export reads it back, so ontology ids survive formats that renumber classes.
//!
//! ```json
//! { "schema": "limner-classmap/1", "format": "coco-instance",
//!   "void": { "ontology_id": 0, "format_value": "no annotation" },
//!   "classes": [ { "ontology_id": 7, "format_id": 7, "name": "cat", "isthing": true } ] }
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::core::document::ImageDocument;
use crate::core::error::{Error, Result};
use crate::core::io;
use crate::core::ontology::{CocoCategory, Ontology, VOID_ID};

/// Schema tag of class-id map files.
pub const CLASSMAP_SCHEMA: &str = "limner-classmap/1";

/// How void (ontology id 0) is written by a format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoidEntry {
    /// Always 0: Limner's void id.
    pub ontology_id: u32,
    /// The format's spelling of void (a pixel value such as 0 or 255, or a phrase).
    pub format_value: serde_json::Value,
}

/// One class: ontology id <-> the format's id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassEntry {
    /// Stable Limner ontology id.
    pub ontology_id: u32,
    /// Id the format uses for this class.
    pub format_id: u32,
    /// Class name at export time.
    pub name: String,
    /// Thing (countable) or stuff.
    pub isthing: bool,
}

/// A class-id map file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMap {
    /// [`CLASSMAP_SCHEMA`].
    pub schema: String,
    /// The format name as `limner convert` spells it.
    pub format: String,
    /// What void became.
    pub void: VoidEntry,
    /// Every active class of the ontology.
    pub classes: Vec<ClassEntry>,
}

impl ClassMap {
    /// The identity map (format id = ontology id) for formats that keep ontology ids.
    pub fn identity(format: &str, ontology: &Ontology, void: serde_json::Value) -> ClassMap {
        ClassMap {
            schema: CLASSMAP_SCHEMA.into(),
            format: format.into(),
            void: VoidEntry {
                ontology_id: VOID_ID,
                format_value: void,
            },
            classes: ontology
                .active_categories()
                .map(|c| ClassEntry {
                    ontology_id: c.id,
                    format_id: c.id,
                    name: c.name.clone(),
                    isthing: c.isthing,
                })
                .collect(),
        }
    }

    /// The map's classes as COCO categories (colours are not carried: palette colours).
    pub fn categories(&self) -> Vec<CocoCategory> {
        self.classes
            .iter()
            .map(|c| category(c.ontology_id, c.name.clone(), c.isthing))
            .collect()
    }

    /// Ontology id of a format id, `None` when the map does not list it.
    pub fn ontology_id(&self, format_id: u32) -> Option<u32> {
        self.classes
            .iter()
            .find(|c| c.format_id == format_id)
            .map(|c| c.ontology_id)
    }

    /// Writes the map atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        io::write_json_atomic(path, self)
    }

    /// Reads and checks a map: schema, no void among classes, unique ids both ways.
    pub fn load(path: &Path) -> Result<ClassMap> {
        let m: ClassMap = io::read_json(path)?;
        if m.schema != CLASSMAP_SCHEMA {
            return Err(Error::invalid(
                path,
                "schema",
                format!("expected {CLASSMAP_SCHEMA:?}, found {:?}", m.schema),
            ));
        }
        let mut onto = std::collections::HashSet::new();
        let mut fmt = std::collections::HashSet::new();
        for (i, c) in m.classes.iter().enumerate() {
            if c.ontology_id == VOID_ID {
                return Err(Error::invalid(
                    path,
                    format!("classes[{i}].ontology_id"),
                    "id 0 is void, not a class",
                ));
            }
            if !onto.insert(c.ontology_id) || !fmt.insert(c.format_id) {
                return Err(Error::invalid(
                    path,
                    format!("classes[{i}]"),
                    "duplicate ontology_id or format_id",
                ));
            }
        }
        Ok(m)
    }
}

/// Where the class-id map of an export at `output` goes: `<output>.classmap.json` for a
/// file, `<output>/classmap.json` for a folder.
pub fn path_for(output: &Path, is_folder: bool) -> PathBuf {
    if is_folder {
        output.join("classmap.json")
    } else {
        let mut s = output.as_os_str().to_owned();
        s.push(".classmap.json");
        PathBuf::from(s)
    }
}

/// A COCO category known only by id, name and thing/stuff (its colour comes from the
/// palette when it becomes an ontology).
pub fn category(id: u32, name: impl Into<String>, isthing: bool) -> CocoCategory {
    CocoCategory {
        id,
        name: name.into(),
        supercategory: None,
        isthing: Some(u8::from(isthing)),
        color: None,
    }
}

/// Fails with the first rule any document breaks: what every exporter checks first.
pub fn validate_all(docs: &[ImageDocument], ontology: &Ontology, origin: &Path) -> Result<()> {
    match docs
        .iter()
        .flat_map(|d| d.validate(ontology, origin))
        .next()
    {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
