//! LabelMe JSON: one file per image (`<folder>/<image stem>.json`, `imagePath` relative
//! to that file) with `polygon`, `rectangle`, `circle` and `mask` shapes (a mask is a
//! base64 PNG over the box whose top-left is `points[0]`). `imageData` is optional and
//! never written.
//!
//! Export: every visible segment becomes one `mask` shape (exact), `group_id` = segment
//! id, `flags.iscrowd`; labels are class names, mapped to ontology ids by
//! `<folder>/classmap.json`. Import: shapes with the same `(label, group_id)` form one
//! segment (id = `group_id` when free); shapes without `group_id` are one segment each,
//! later shapes win where shapes overlap. Polygons and rectangles are filled as LabelMe
//! fills them (`labelme.utils.shape_to_mask`: PIL `ImageDraw.polygon` / `rectangle` with
//! outline, on coordinates truncated to int; [`FillRule::Pil`]) unless another rule is
//! asked for; a group keeps its polygons when Limner's rule gives the same pixels, else it
//! holds the exact pixel-edge polygons of the reader's pixels. A circle (centre, point on
//! the rim) takes the pixels whose centre lies inside it (LabelMe's PIL ellipse can differ
//! on its rim). Shapes
//! without area (point, line, linestrip) are refused. An `imagePath` that leaves the
//! dataset folder is refused.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use base64::Engine as _;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::classmap::{self, ClassMap};
use crate::core::document::{Geometry, ImageDocument, ImageStatus, Segment, Source};
use crate::core::error::{Error, Result};
use crate::core::fill_rule::FillRule;
use crate::core::geometry::{BitMask, Point, PolygonWithHoles};
use crate::core::io;
use crate::core::ontology::Ontology;
use crate::core::vectorize::{Vectorize, mask_to_polygons};

/// One LabelMe shape.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Shape {
    /// Class name.
    pub label: String,
    /// Vertices (polygon), corners (rectangle), centre + rim point (circle), box corners
    /// (mask).
    pub points: Vec<[f64; 2]>,
    /// Instance grouping.
    #[serde(default)]
    pub group_id: Option<i64>,
    /// `polygon`, `rectangle`, `circle`, `mask`, ...
    #[serde(default = "polygon")]
    pub shape_type: String,
    /// Free flags; Limner uses `iscrowd`.
    #[serde(default)]
    pub flags: serde_json::Map<String, serde_json::Value>,
    /// Base64 PNG of a mask shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<String>,
}

fn polygon() -> String {
    "polygon".into()
}

/// A LabelMe file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabelmeFile {
    /// LabelMe version that wrote it.
    #[serde(default)]
    pub version: String,
    /// Image-level flags.
    #[serde(default)]
    pub flags: serde_json::Map<String, serde_json::Value>,
    /// The shapes.
    pub shapes: Vec<Shape>,
    /// Image path relative to this file.
    #[serde(rename = "imagePath")]
    pub image_path: String,
    /// Embedded image (optional, never written by Limner).
    #[serde(rename = "imageData", default)]
    pub image_data: Option<String>,
    /// Image height in pixels.
    #[serde(rename = "imageHeight")]
    pub image_height: u32,
    /// Image width in pixels.
    #[serde(rename = "imageWidth")]
    pub image_width: u32,
}

/// Writes one LabelMe JSON per document into `folder`, plus the class-id map. Returns
/// the number of shapes written.
pub fn export_documents(
    docs: &[ImageDocument],
    ontology: &Ontology,
    folder: &Path,
) -> Result<usize> {
    classmap::validate_all(docs, ontology, folder)?;
    let name_of: HashMap<u32, &str> = ontology
        .categories
        .iter()
        .map(|c| (c.id, c.name.as_str()))
        .collect();
    let mut seen = std::collections::HashSet::new();
    for d in docs {
        if !seen.insert(Path::new(&d.image.file_name).with_extension("json")) {
            return Err(Error::invalid(
                folder,
                "images",
                format!("two images write the same JSON for {}", d.image.file_name),
            ));
        }
    }
    let counts = docs
        .par_iter()
        .map(|d| {
            let map = d.resolve();
            let mut shapes = Vec::new();
            for (&id, st) in &map.stats() {
                let Some(s) = d.segment(id) else { continue };
                let [left, top, w, h] = st.bbox;
                let img = image::GrayImage::from_fn(w, h, |x, y| {
                    image::Luma([if map.at(left + x, top + y) == id {
                        255
                    } else {
                        0
                    }])
                });
                let mut png = Vec::new();
                img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
                    .map_err(|e| Error::image(folder, e.to_string()))?;
                let mut flags = serde_json::Map::new();
                flags.insert("iscrowd".into(), serde_json::json!(s.iscrowd));
                shapes.push(Shape {
                    label: name_of
                        .get(&s.category_id)
                        .copied()
                        .unwrap_or_default()
                        .into(),
                    points: vec![
                        [f64::from(left), f64::from(top)],
                        [f64::from(left + w - 1), f64::from(top + h - 1)],
                    ],
                    group_id: Some(i64::from(id)),
                    shape_type: "mask".into(),
                    flags,
                    mask: Some(base64::engine::general_purpose::STANDARD.encode(&png)),
                });
            }
            let rel = Path::new(&d.image.file_name);
            let file = LabelmeFile {
                version: "5.2.1".into(),
                flags: serde_json::Map::new(),
                image_path: rel
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                image_data: None,
                image_height: map.height,
                image_width: map.width,
                shapes,
            };
            let n = file.shapes.len();
            io::write_json_atomic(&folder.join(rel.with_extension("json")), &file)?;
            Ok(n)
        })
        .collect::<Result<Vec<usize>>>()?;
    let mut cm = ClassMap::identity("labelme", ontology, serde_json::json!("no shape"));
    cm.classes
        .iter_mut()
        .for_each(|c| c.format_id = c.ontology_id);
    cm.save(&classmap::path_for(folder, true))?;
    Ok(counts.iter().sum())
}

/// `dir/image_path` normalized lexically; `None` when it leaves the root.
fn inside_root(dir: &Path, image_path: &str) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for c in dir.join(image_path.replace('\\', "/")).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// A rectangle shape's corners as a ring (the two points in any order).
fn rectangle_ring(s: &Shape) -> Vec<Point> {
    let ([x0, y0], [x1, y1]) = (s.points[0], s.points[1]);
    let (a, b) = ([x0.min(x1), y0.min(y1)], [x0.max(x1), y0.max(y1)]);
    vec![a, [b[0], a[1]], b, [a[0], b[1]]]
}

/// Rasterizes one shape, polygons and rectangles with `rule`. Errors are messages for
/// the shape's field.
fn shape_mask(s: &Shape, w: u32, h: u32, rule: FillRule) -> Result<BitMask, String> {
    if s.points.iter().flatten().any(|v| !v.is_finite()) {
        return Err("a point is not a finite number".into());
    }
    match s.shape_type.as_str() {
        "polygon" if s.points.len() >= 3 => Ok(rule.fill_ring(&s.points, w, h)),
        "rectangle" if s.points.len() == 2 && rule == FillRule::Pil => {
            // ImageDraw.rectangle: rows and columns from the truncated corners, inclusive.
            let r = rectangle_ring(s);
            let (x0, y0, x1, y1) = (
                r[0][0] as i64,
                r[0][1] as i64,
                r[2][0] as i64,
                r[2][1] as i64,
            );
            let mut m = BitMask::new(w, h);
            for y in y0.max(0)..=y1.min(i64::from(h) - 1) {
                for x in x0.max(0)..=x1.min(i64::from(w) - 1) {
                    m.set(x, y, true);
                }
            }
            Ok(m)
        }
        "rectangle" if s.points.len() == 2 => Ok(rule.fill_ring(&rectangle_ring(s), w, h)),
        "circle" if s.points.len() == 2 => {
            let ([cx, cy], [px, py]) = (s.points[0], s.points[1]);
            let r2 = (px - cx).powi(2) + (py - cy).powi(2);
            let mut m = BitMask::new(w, h);
            for y in 0..h {
                for x in 0..w {
                    let (dx, dy) = (f64::from(x) + 0.5 - cx, f64::from(y) + 0.5 - cy);
                    if dx * dx + dy * dy <= r2 {
                        m.set(i64::from(x), i64::from(y), true);
                    }
                }
            }
            Ok(m)
        }
        "mask" if !s.points.is_empty() => {
            let b64 = s.mask.as_deref().ok_or("a mask shape needs `mask`")?;
            let png = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| format!("mask is not base64: {e}"))?;
            let img = image::load_from_memory_with_format(&png, image::ImageFormat::Png)
                .map_err(|e| format!("mask is not a PNG: {e}"))?
                .to_luma8();
            // The mask's top-left corner; a corner outside the image (or not a number)
            // is refused, not wrapped around (found by fuzzing: x = 2e19).
            let [px, py] = [s.points[0][0], s.points[0][1]];
            let inside =
                |v: f64, n: u32| v.is_finite() && v.round() >= 0.0 && v.round() < f64::from(n);
            if !inside(px, w) || !inside(py, h) {
                return Err(format!(
                    "mask corner ({px}, {py}) lies outside the {w}x{h} image"
                ));
            }
            let (x0, y0) = (px.round() as i64, py.round() as i64);
            let mut m = BitMask::new(w, h);
            for (x, y, p) in img.enumerate_pixels() {
                if p[0] != 0 {
                    m.set(x0 + i64::from(x), y0 + i64::from(y), true);
                }
            }
            Ok(m)
        }
        t @ ("polygon" | "rectangle" | "circle" | "mask") => {
            Err(format!("{t} with {} point(s) is malformed", s.points.len()))
        }
        t => Err(format!("shape_type {t:?} has no area and is not supported")),
    }
}

/// A read LabelMe folder.
pub struct ImportedLabelme {
    /// From `classmap.json` when present, else one class per label (ids 1.. by name).
    pub ontology: Ontology,
    /// One document per JSON file.
    pub documents: Vec<ImageDocument>,
}

fn list_json(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let p = e.map_err(|e| Error::io(dir, e))?.path();
        if p.is_dir() {
            list_json(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "json")
            && p.file_name().is_some_and(|f| f != "classmap.json")
        {
            out.push(p);
        }
    }
    Ok(())
}

/// Reads every LabelMe JSON under `folder` (see the module docs).
/// Reads a LabelMe folder; `fill` overrides the rule polygons and rectangles are filled
/// with (default: PIL's, as LabelMe does).
pub fn read(folder: &Path, fill: Option<FillRule>) -> Result<ImportedLabelme> {
    let rule = fill.unwrap_or(FillRule::Pil);
    let mut files = Vec::new();
    list_json(folder, &mut files)?;
    files.sort();
    let parsed: Vec<(PathBuf, LabelmeFile)> = files
        .into_iter()
        .map(|p| Ok((p.clone(), io::read_json::<LabelmeFile>(&p)?)))
        .collect::<Result<_>>()?;
    let cm_path = classmap::path_for(folder, true);
    let mut class_of: HashMap<String, u32> = HashMap::new();
    let mut cats = Vec::new();
    if cm_path.exists() {
        for c in ClassMap::load(&cm_path)?.classes {
            class_of.insert(c.name.clone(), c.ontology_id);
            cats.push(classmap::category(c.ontology_id, c.name, c.isthing));
        }
    } else {
        let mut names: Vec<&str> = parsed
            .iter()
            .flat_map(|(_, f)| f.shapes.iter().map(|s| s.label.as_str()))
            .collect();
        names.sort_unstable();
        names.dedup();
        for (k, n) in names.into_iter().enumerate() {
            class_of.insert(n.to_string(), k as u32 + 1);
            cats.push(classmap::category(k as u32 + 1, n.to_string(), true));
        }
    }
    let documents = parsed
        .par_iter()
        .map(|(path, f)| read_one(folder, path, f, &class_of, rule))
        .collect::<Result<Vec<_>>>()?;
    Ok(ImportedLabelme {
        ontology: Ontology::from_coco(&cats, &cm_path)?,
        documents,
    })
}

fn read_one(
    folder: &Path,
    path: &Path,
    f: &LabelmeFile,
    class_of: &HashMap<String, u32>,
    rule: FillRule,
) -> Result<ImageDocument> {
    let rel_dir = path
        .parent()
        .and_then(|p| p.strip_prefix(folder).ok())
        .unwrap_or(Path::new(""));
    let file_name = inside_root(rel_dir, &f.image_path).ok_or_else(|| {
        Error::invalid(
            path,
            "imagePath",
            format!("{:?} leaves the dataset folder", f.image_path),
        )
    })?;
    io::safe_relative_path(&file_name, path, "imagePath")?;
    let (w, h) = (f.image_width, f.image_height);
    io::check_declared_size(path, "imageWidth,imageHeight", w, h)?;
    let mut d = ImageDocument::new(&file_name, w, h);
    d.status = ImageStatus::Done;
    // Group shapes: (label, group_id) -> shape indices, in first-appearance order.
    let mut order: Vec<(String, Option<i64>, Vec<usize>)> = Vec::new();
    for (i, s) in f.shapes.iter().enumerate() {
        match (
            s.group_id,
            order
                .iter_mut()
                .find(|g| g.1.is_some() && g.0 == s.label && g.1 == s.group_id),
        ) {
            (Some(_), Some(g)) => g.2.push(i),
            _ => order.push((s.label.clone(), s.group_id, vec![i])),
        }
    }
    let mut used: Vec<u32> = Vec::new();
    let wanted = |g: &Option<i64>| g.and_then(|v| u32::try_from(v).ok()).filter(|&v| v >= 1);
    let mut next = 0u32;
    for (label, group, members) in order {
        let class = *class_of.get(&label).ok_or_else(|| {
            Error::invalid(
                path,
                format!("shapes[{}].label", members[0]),
                format!("label {label:?} has no class"),
            )
        })?;
        let id = match wanted(&group).filter(|v| !used.contains(v)) {
            Some(v) => v,
            None => {
                next += 1;
                while used.contains(&next)
                    || f.shapes.iter().any(|s| wanted(&s.group_id) == Some(next))
                {
                    next += 1;
                }
                next
            }
        };
        used.push(id);
        let only_polygons = members
            .iter()
            .all(|&i| matches!(f.shapes[i].shape_type.as_str(), "polygon" | "rectangle"));
        let mut union = BitMask::new(w, h);
        let mut polys = Vec::new();
        let mut same_as_ours = true;
        let mut crowd = false;
        for &i in &members {
            let s = &f.shapes[i];
            crowd |= s
                .flags
                .get("iscrowd")
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            let m = shape_mask(s, w, h, rule)
                .map_err(|msg| Error::invalid(path, format!("shapes[{i}]"), msg))?;
            if only_polygons {
                let pts = if s.shape_type == "rectangle" {
                    rectangle_ring(s)
                } else {
                    s.points.clone()
                };
                same_as_ours &=
                    rule == FillRule::Limner || FillRule::Limner.fill_ring(&pts, w, h) == m;
                polys.push(PolygonWithHoles {
                    outer: pts,
                    holes: vec![],
                });
            }
            for (u, v) in union.data.iter_mut().zip(&m.data) {
                *u |= v;
            }
        }
        let g = if only_polygons && same_as_ours {
            Geometry::Polygons { polygons: polys }
        } else if only_polygons && union.area() > 0 {
            Geometry::Polygons {
                polygons: mask_to_polygons(&union, Vectorize::Exact),
            }
        } else {
            Geometry::from_mask(&union)
        };
        let mut seg = Segment::new(id, class, g, Source::Import);
        seg.iscrowd = crowd;
        d.segments.push(seg);
    }
    d.segments.sort_by_key(|s| s.id);
    Ok(d)
}
