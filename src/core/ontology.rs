//! The lean ontology file (`ontology.json`): categories with stable numeric ids.
//!
//! Rules:
//! - id 0 is reserved for void/ignore (panoptic id 0 = unlabeled); no category may use it.
//! - ids are never reused: retiring a category keeps it as a tombstone, so an old file
//!   that names the id still resolves to "retired" instead of to a new class.
//! - merging A into B retires A with `merged_into = B`; the project remaps segments.
//!
//! ```json
//! { "schema": "limner-ontology/1",
//!   "categories": [
//!     { "id": 1, "name": "person", "color": "#dc143c", "isthing": true, "supercategory": "person" },
//!     { "id": 2, "name": "old-sky", "color": "#87ceeb", "isthing": false, "retired": true, "merged_into": 3 } ] }
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::io;

/// Schema tag written in every ontology file.
pub const ONTOLOGY_SCHEMA: &str = "limner-ontology/1";
/// The void/ignore label: panoptic id 0, never a category.
pub const VOID_ID: u32 = 0;

/// An sRGB color, written as `"#rrggbb"` in Limner files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Color(pub [u8; 3]);

impl Color {
    /// Parses `#rrggbb` (case-insensitive).
    pub fn parse(s: &str) -> Option<Color> {
        let hex = s.strip_prefix('#')?;
        if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let v = u32::from_str_radix(hex, 16).ok()?;
        Some(Color([(v >> 16) as u8, (v >> 8) as u8, v as u8]))
    }
}

impl fmt::Display for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [r, g, b] = self.0;
        write!(f, "#{r:02x}{g:02x}{b:02x}")
    }
}

impl Serialize for Color {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Color {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Color::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("unknown color format {s:?}: expected \"#rrggbb\""))
        })
    }
}

/// One category. Retired categories stay in the file as tombstones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    pub id: u32,
    pub name: String,
    pub color: Color,
    /// Things are countable instances; stuff is amorphous regions.
    pub isthing: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supercategory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A retired id is never reused and may not be used by new segments.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retired: bool,
    /// Where a merged category's segments went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<u32>,
}

/// The project's categories.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ontology {
    pub schema: String,
    pub categories: Vec<Category>,
}

impl Default for Ontology {
    fn default() -> Self {
        Ontology {
            schema: ONTOLOGY_SCHEMA.into(),
            categories: Vec::new(),
        }
    }
}

/// A COCO category as found in COCO / COCO panoptic JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CocoCategory {
    pub id: u32,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supercategory: Option<String>,
    /// 1/0 in panoptic files; absent in instance files (then every class is a thing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isthing: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<[u8; 3]>,
}

impl Ontology {
    /// Reads and validates an ontology file.
    pub fn load(path: &Path) -> Result<Ontology> {
        let o: Ontology = io::read_json(path)?;
        o.validate(path)?;
        Ok(o)
    }

    /// Validates, then writes atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        self.validate(path)?;
        io::write_json_atomic(path, self)
    }

    /// Checks the schema tag, id 0, duplicate ids and names, and merge targets.
    /// `origin` names the file in errors.
    pub fn validate(&self, origin: &Path) -> Result<()> {
        if self.schema != ONTOLOGY_SCHEMA {
            return Err(Error::invalid(
                origin,
                "schema",
                format!(
                    "unsupported schema {:?}, expected {ONTOLOGY_SCHEMA:?}",
                    self.schema
                ),
            ));
        }
        let mut ids = HashSet::new();
        let mut names = HashSet::new();
        for (i, c) in self.categories.iter().enumerate() {
            let field = |f: &str| format!("categories[{i}].{f}");
            if c.id == VOID_ID {
                return Err(Error::invalid(
                    origin,
                    field("id"),
                    "id 0 is reserved for void/ignore",
                ));
            }
            if !ids.insert(c.id) {
                return Err(Error::invalid(
                    origin,
                    field("id"),
                    format!("duplicate category id {}", c.id),
                ));
            }
            if c.name.trim().is_empty() {
                return Err(Error::invalid(origin, field("name"), "empty name"));
            }
            if !c.retired && !names.insert(c.name.as_str()) {
                return Err(Error::invalid(
                    origin,
                    field("name"),
                    format!("duplicate category name {:?}", c.name),
                ));
            }
            if c.merged_into.is_some() && !c.retired {
                return Err(Error::invalid(
                    origin,
                    field("merged_into"),
                    "only a retired category can be merged",
                ));
            }
        }
        for (i, c) in self.categories.iter().enumerate() {
            if let Some(t) = c.merged_into
                && !ids.contains(&t)
            {
                return Err(Error::invalid(
                    origin,
                    format!("categories[{i}].merged_into"),
                    format!("unknown category id {t}"),
                ));
            }
        }
        Ok(())
    }

    /// The category with `id`, retired or not.
    pub fn get(&self, id: u32) -> Option<&Category> {
        self.categories.iter().find(|c| c.id == id)
    }

    /// The active (not retired) category with `id`.
    pub fn active(&self, id: u32) -> Option<&Category> {
        self.get(id).filter(|c| !c.retired)
    }

    /// Active categories in file order.
    pub fn active_categories(&self) -> impl Iterator<Item = &Category> {
        self.categories.iter().filter(|c| !c.retired)
    }

    /// The next unused id: one above every id ever used, tombstones included.
    pub fn next_id(&self) -> u32 {
        self.categories.iter().map(|c| c.id).max().unwrap_or(0) + 1
    }

    /// Adds a category with a fresh id and returns that id.
    pub fn add(&mut self, name: &str, color: Color, isthing: bool) -> Result<u32, String> {
        if name.trim().is_empty() {
            return Err("a category needs a name".into());
        }
        if self.active_categories().any(|c| c.name == name) {
            return Err(format!("a category named {name:?} already exists"));
        }
        let id = self.next_id();
        self.categories.push(Category {
            id,
            name: name.into(),
            color,
            isthing,
            supercategory: None,
            description: None,
            retired: false,
            merged_into: None,
        });
        Ok(id)
    }

    /// Renames an active category.
    pub fn rename(&mut self, id: u32, name: &str) -> Result<(), String> {
        if name.trim().is_empty() {
            return Err("a category needs a name".into());
        }
        if self
            .active_categories()
            .any(|c| c.name == name && c.id != id)
        {
            return Err(format!("a category named {name:?} already exists"));
        }
        let c = self.active_mut(id)?;
        c.name = name.into();
        Ok(())
    }

    /// Retires a category, keeping its tombstone. The caller checks that no segment uses it
    /// (see [`crate::core::project::Project::retire_category`]).
    pub fn retire(&mut self, id: u32) -> Result<(), String> {
        self.active_mut(id)?.retired = true;
        Ok(())
    }

    /// Marks `from` as merged into `into`. The caller remaps segments.
    pub fn merge(&mut self, from: u32, into: u32) -> Result<(), String> {
        if from == into {
            return Err("cannot merge a category into itself".into());
        }
        self.active(into)
            .ok_or_else(|| format!("no active category with id {into}"))?;
        let c = self.active_mut(from)?;
        c.retired = true;
        c.merged_into = Some(into);
        Ok(())
    }

    fn active_mut(&mut self, id: u32) -> Result<&mut Category, String> {
        self.categories
            .iter_mut()
            .find(|c| c.id == id && !c.retired)
            .ok_or_else(|| format!("no active category with id {id}"))
    }

    /// Builds an ontology from a COCO categories list, keeping the ids.
    /// Missing colors get a deterministic palette color; missing `isthing` means thing.
    pub fn from_coco(cats: &[CocoCategory], origin: &Path) -> Result<Ontology> {
        let o = Ontology {
            schema: ONTOLOGY_SCHEMA.into(),
            categories: cats
                .iter()
                .map(|c| Category {
                    id: c.id,
                    name: c.name.clone(),
                    color: c.color.map(Color).unwrap_or_else(|| palette_color(c.id)),
                    isthing: c.isthing.map(|t| t != 0).unwrap_or(true),
                    supercategory: c.supercategory.clone(),
                    description: None,
                    retired: false,
                    merged_into: None,
                })
                .collect(),
        };
        o.validate(origin)?;
        Ok(o)
    }

    /// Reads a COCO categories file: either a bare list (as
    /// `panoptic_coco_categories.json`) or an object with a `categories` field.
    pub fn load_coco_categories(path: &Path) -> Result<Ontology> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum File {
            List(Vec<CocoCategory>),
            Object { categories: Vec<CocoCategory> },
        }
        let f: File = io::read_json(path)?;
        let cats = match f {
            File::List(c) | File::Object { categories: c } => c,
        };
        Ontology::from_coco(&cats, path)
    }

    /// Active categories as COCO categories (`isthing` 1/0, color as a list).
    pub fn to_coco(&self) -> Vec<CocoCategory> {
        self.active_categories()
            .map(|c| CocoCategory {
                id: c.id,
                name: c.name.clone(),
                supercategory: c.supercategory.clone(),
                isthing: Some(u8::from(c.isthing)),
                color: Some(c.color.0),
            })
            .collect()
    }

    /// Where a segment with category `id` belongs now: follows merge chains, `None` when
    /// the id is unknown or retired without a merge target.
    pub fn resolve(&self, id: u32) -> Option<u32> {
        let mut seen = HashMap::new();
        let mut cur = id;
        loop {
            let c = self.get(cur)?;
            if !c.retired {
                return Some(cur);
            }
            if seen.insert(cur, ()).is_some() {
                return None;
            }
            cur = c.merged_into?;
        }
    }
}

/// A deterministic, well-spread color for an id (golden-angle hue walk).
pub fn palette_color(id: u32) -> Color {
    hsv_color((id as f32 * 137.508) % 360.0)
}

/// The colour for a new class `id`: [`palette_color`], turned away (by 90° of hue)
/// when it lies within 45° of `avoid`'s hue, so a new class never looks like `avoid`
/// (the app's model preview).
pub fn new_class_color(id: u32, avoid: Color) -> Color {
    let h = (id as f32 * 137.508) % 360.0;
    let d = (h - hue(avoid)).rem_euclid(360.0);
    if d.min(360.0 - d) < 45.0 {
        hsv_color((h + 90.0) % 360.0)
    } else {
        hsv_color(h)
    }
}

/// The hue of `c` in degrees.
pub fn hue(c: Color) -> f32 {
    let [r, g, b] = c.0.map(|v| f32::from(v) / 255.0);
    let (max, min) = (r.max(g).max(b), r.min(g).min(b));
    let d = max - min;
    if d == 0.0 {
        return 0.0;
    }
    let h = if max == r {
        ((g - b) / d).rem_euclid(6.0)
    } else if max == g {
        (b - r) / d + 2.0
    } else {
        (r - g) / d + 4.0
    };
    h * 60.0
}

/// The palette's saturation and value at hue `h` (degrees).
fn hsv_color(h: f32) -> Color {
    let (s, v) = (0.65, 0.92);
    let c = v * s;
    let x = c * (1.0 - ((h / 60.0) % 2.0 - 1.0).abs());
    let m = v - c;
    let (r, g, b) = match (h / 60.0) as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let to = |f: f32| ((f + m) * 255.0).round() as u8;
    Color([to(r), to(g), to(b)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_class_colors_keep_away_from_the_avoided_hue() {
        let preview = Color([0, 230, 255]);
        let mut turned = 0;
        for id in 1..2000 {
            let d = (hue(new_class_color(id, preview)) - hue(preview)).rem_euclid(360.0);
            assert!(
                d.min(360.0 - d) >= 44.0,
                "id {id}: hue {d} from the preview"
            );
            turned += usize::from(new_class_color(id, preview) != palette_color(id));
        }
        assert!(
            turned > 0,
            "some palette colours are near the preview and get turned"
        );
    }

    fn o() -> Ontology {
        let mut o = Ontology::default();
        o.add("cat", Color([1, 2, 3]), true).unwrap();
        o.add("sky", Color([4, 5, 6]), false).unwrap();
        o
    }

    #[test]
    fn ids_are_never_reused_after_retire() {
        let mut o = o();
        o.retire(2).unwrap();
        let id = o.add("road", Color([0, 0, 0]), false).unwrap();
        assert_eq!(id, 3);
        assert!(o.active(2).is_none());
        assert!(o.get(2).unwrap().retired);
    }

    #[test]
    fn rename_keeps_the_id_and_refuses_duplicates() {
        let mut o = o();
        o.rename(1, "kitten").unwrap();
        assert_eq!(o.get(1).unwrap().name, "kitten");
        assert!(o.rename(2, "kitten").is_err());
        assert!(o.rename(2, " ").is_err());
        o.retire(2).unwrap();
        assert!(
            o.rename(2, "x").is_err(),
            "a retired class cannot be renamed"
        );
    }

    #[test]
    fn merge_follows_chains() {
        let mut o = o();
        let c = o.add("tree", Color([0, 0, 0]), false).unwrap();
        o.merge(1, 2).unwrap();
        o.merge(2, c).unwrap();
        assert_eq!(o.resolve(1), Some(c));
        assert!(o.merge(3, 3).is_err());
    }

    #[test]
    fn validation_names_field() {
        let mut o = o();
        o.categories[1].id = 1;
        let e = o
            .validate(Path::new("ontology.json"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("categories[1].id") && e.contains("duplicate"),
            "{e}"
        );
        let mut o2 = self::o();
        o2.categories[1].name = "cat".into();
        let e = o2
            .validate(Path::new("ontology.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("categories[1].name"), "{e}");
        let mut o3 = self::o();
        o3.categories[0].id = 0;
        assert!(o3.validate(Path::new("o.json")).is_err());
    }

    #[test]
    fn bad_color_is_reported_with_field() {
        let json = br##"{"schema":"limner-ontology/1","categories":[{"id":1,"name":"a","color":"red","isthing":true}]}"##;
        let e = io::parse_json::<Ontology>(Path::new("ontology.json"), json)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("categories[0].color") && e.contains("unknown color format"),
            "{e}"
        );
    }

    #[test]
    fn color_roundtrip() {
        let c = Color([220, 20, 60]);
        assert_eq!(c.to_string(), "#dc143c");
        assert_eq!(Color::parse("#DC143C"), Some(c));
        assert_eq!(Color::parse("#12345"), None);
    }
}
