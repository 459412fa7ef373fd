//! Ultralytics YOLO segmentation: one text file per image, one line per instance,
//! `class x1 y1 x2 y2 ...` with coordinates normalized to [0, 1], and `data.yaml` naming
//! the classes.
//!
//! ```text
//! <folder>/data.yaml            path / train / val / names (index -> class name)
//! <folder>/labels/<stem>.txt    the instances
//! <folder>/classmap.json        ontology id <-> YOLO class index (0-based)
//! <folder>/limner_yolo.json     file names, sizes, segment ids and iscrowd
//! ```
//!
//! Export: each visible segment becomes one line: one closed walk through the centres of
//! its border pixels ([`crate::core::contour`]), holes joined to their border and
//! further parts to the first by paths walked there and back. Ultralytics reads a line
//! as `polygon2mask` does (coordinates times the image size, truncated to int32,
//! `cv2.fillPoly`), which fills such a walk back to exactly the segment's pixels
//! ([`FillRule::Opencv`]). Vertices are written at pixel centres, `(x + 0.5) / width`, so
//! the truncation lands on the pixel even after float32 parsing. What one polygon cannot
//! express (the background pixels on a path between separate parts) is measured by
//! filling the walk with OpenCV's rule and reported per segment. YOLO has no crowd flag
//! or stable ids: the sidecar keeps them (and the fill rule), so a Limner export
//! imports back unchanged.
//!
//! Import: each line becomes one segment, filled with the producing tool's rule: OpenCV's
//! (Ultralytics) by default, Limner's for a folder whose sidecar predates the `fill_rule`
//! field (Limner's pixel-edge exports), or the rule asked for. A ring that Limner's rule
//! fills to the same pixels stays that polygon; otherwise the segment holds the exact
//! pixel-edge polygons of the reader's pixels. Without the sidecar, image sizes come
//! from `images/<stem>.*`, segment ids are 1.. in line order (later lines win where
//! lines overlap).
//!
//! The guarantee is at the image's own resolution: Ultralytics' training loader also
//! resamples each polygon to a fixed number of points and rescales it to the training
//! size, which no export can control.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::classmap::{self, ClassEntry, ClassMap, VoidEntry};
use crate::core::contour::opencv_walk;
use crate::core::document::{Geometry, ImageDocument, ImageStatus, Segment, Source};
use crate::core::error::{Error, Result};
use crate::core::fill_rule::{FillRule, opencv_fill_poly};
use crate::core::geometry::{BitMask, Point, PolygonWithHoles};
use crate::core::io;
use crate::core::ontology::{CocoCategory, Ontology, VOID_ID};
use crate::core::vectorize::{Vectorize, mask_to_polygons};

/// Name of Limner's sidecar in a YOLO folder.
pub const SIDECAR: &str = "limner_yolo.json";

/// One image in the sidecar.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct YoloImage {
    /// Image path relative to the images folder.
    pub file_name: String,
    /// Label file stem (`labels/<stem>.txt`).
    pub stem: String,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Segment id of line k.
    pub segment_ids: Vec<u32>,
    /// Segment ids flagged iscrowd.
    #[serde(default)]
    pub crowd: Vec<u32>,
    /// The fill rule the lines were written for (absent: Limner's, in older exports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill_rule: Option<String>,
}

/// A segment whose pixels one YOLO polygon cannot express exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inexpressible {
    /// The image's file name.
    pub image: String,
    /// The segment id.
    pub segment: u32,
    /// Pixels OpenCV's fill of the written line adds or drops.
    pub pixels: u64,
    /// Where they are (image coordinates x, y).
    pub at: Vec<[u32; 2]>,
}

/// What an export did.
#[derive(Debug, Default, Clone)]
pub struct ExportReport {
    /// Label files written.
    pub images: usize,
    /// Lines (instances) written.
    pub segments: usize,
    /// Holes joined to their outer border by a path walked there and back.
    pub bridged_holes: usize,
    /// Extra parts of one segment joined by a path over the background.
    pub bridged_parts: usize,
    /// Segments the written lines do not reproduce exactly under OpenCV's rule.
    pub inexpressible: Vec<Inexpressible>,
}

fn class_map(ontology: &Ontology) -> ClassMap {
    ClassMap {
        schema: classmap::CLASSMAP_SCHEMA.into(),
        format: "yolo-seg".into(),
        void: VoidEntry {
            ontology_id: VOID_ID,
            format_value: serde_json::json!("no label"),
        },
        classes: ontology
            .active_categories()
            .enumerate()
            .map(|(k, c)| ClassEntry {
                ontology_id: c.id,
                format_id: k as u32,
                name: c.name.clone(),
                isthing: c.isthing,
            })
            .collect(),
    }
}

/// Writes documents as a YOLO segmentation folder.
pub fn export_documents(
    docs: &[ImageDocument],
    ontology: &Ontology,
    folder: &Path,
) -> Result<ExportReport> {
    classmap::validate_all(docs, ontology, folder)?;
    let cm = class_map(ontology);
    let yolo_of: HashMap<u32, u32> = cm
        .classes
        .iter()
        .map(|c| (c.ontology_id, c.format_id))
        .collect();
    let mut stems = std::collections::HashSet::new();
    for d in docs {
        let stem = Path::new(&d.image.file_name).with_extension("");
        if !stems.insert(stem.clone()) {
            return Err(Error::invalid(
                folder,
                "images",
                format!("two images share the label file stem {}", stem.display()),
            ));
        }
    }
    let per_image: Vec<(YoloImage, ExportReport)> = docs
        .par_iter()
        .map(|d| {
            let mut rep = ExportReport::default();
            let map = d.resolve();
            let stats = map.stats();
            let (w, h) = (f64::from(map.width), f64::from(map.height));
            let mut text = String::new();
            let mut ids = Vec::new();
            for (&id, st) in &stats {
                let Some(seg) = d.segment(id) else { continue };
                let [x0, y0, bw, bh] = st.bbox;
                let mut crop = BitMask::new(bw, bh);
                for y in 0..bh {
                    for x in 0..bw {
                        crop.data[(y * bw + x) as usize] = u8::from(map.at(x0 + x, y0 + y) == id);
                    }
                }
                let walk = opencv_walk(&crop);
                rep.bridged_holes += walk.holes;
                rep.bridged_parts += walk.parts;
                let back = opencv_fill_poly(std::slice::from_ref(&walk.points), bw, bh);
                let at: Vec<[u32; 2]> = (0..bw * bh)
                    .filter(|&i| back.data[i as usize] != crop.data[i as usize])
                    .map(|i| [x0 + i % bw, y0 + i / bw])
                    .collect();
                if !at.is_empty() {
                    rep.inexpressible.push(Inexpressible {
                        image: d.image.file_name.clone(),
                        segment: id,
                        pixels: at.len() as u64,
                        at,
                    });
                }
                let mut pts = walk.points;
                // Ultralytics and most readers want at least three points.
                while !pts.is_empty() && pts.len() < 3 {
                    pts.push(pts[pts.len() - 1]);
                }
                let _ = write!(text, "{}", yolo_of[&seg.category_id]);
                for v in &pts {
                    let x = (f64::from(x0) + v[0] as f64 + 0.5) / w;
                    let y = (f64::from(y0) + v[1] as f64 + 0.5) / h;
                    let _ = write!(text, " {x} {y}");
                }
                text.push('\n');
                ids.push(id);
            }
            let stem = Path::new(&d.image.file_name)
                .with_extension("")
                .to_string_lossy()
                .replace('\\', "/");
            io::write_atomic(
                &folder.join("labels").join(format!("{stem}.txt")),
                text.as_bytes(),
            )?;
            rep.images = 1;
            rep.segments = ids.len();
            Ok((
                YoloImage {
                    file_name: d.image.file_name.clone(),
                    stem,
                    width: map.width,
                    height: map.height,
                    segment_ids: ids,
                    crowd: d
                        .segments
                        .iter()
                        .filter(|s| s.iscrowd)
                        .map(|s| s.id)
                        .collect(),
                    fill_rule: Some(FillRule::Opencv.name().to_string()),
                },
                rep,
            ))
        })
        .collect::<Result<_>>()?;
    let mut report = ExportReport::default();
    let mut images = Vec::new();
    for (im, r) in per_image {
        report.images += r.images;
        report.segments += r.segments;
        report.bridged_holes += r.bridged_holes;
        report.bridged_parts += r.bridged_parts;
        report.inexpressible.extend(r.inexpressible);
        images.push(im);
    }
    let mut yaml = String::from("path: .\ntrain: images\nval: images\nnames:\n");
    for c in &cm.classes {
        // A JSON string is a valid YAML scalar, quoting included.
        let _ = writeln!(yaml, "  {}: {}", c.format_id, serde_json::json!(c.name));
    }
    io::write_atomic(&folder.join("data.yaml"), yaml.as_bytes())?;
    cm.save(&classmap::path_for(folder, true))?;
    io::write_json_atomic(&folder.join(SIDECAR), &images)?;
    Ok(report)
}

/// Class names from `data.yaml` (`names:` as an indented `index: name` block).
fn yaml_names(path: &Path) -> Result<Vec<(u32, String)>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    let mut in_names = false;
    for line in text.lines() {
        if line.trim_start() == line {
            in_names = line.trim_end() == "names:";
            continue;
        }
        if in_names && let Some((k, v)) = line.trim().split_once(':') {
            let idx = k.trim().parse::<u32>().map_err(|_| {
                Error::invalid(
                    path,
                    "names",
                    format!("expected `index: name`, found {line:?}"),
                )
            })?;
            let v = v.trim();
            let name = serde_json::from_str::<String>(v)
                .unwrap_or_else(|_| v.trim_matches('\'').to_string());
            out.push((idx, name));
        }
    }
    Ok(out)
}

/// A read YOLO folder.
pub struct ImportedYolo {
    /// From `classmap.json`, else `data.yaml` names (ontology id = index + 1).
    pub ontology: Ontology,
    /// One document per label file.
    pub documents: Vec<ImageDocument>,
}

/// Parses one label file into (class, ring of normalized coordinates). Errors name the
/// file and the line.
fn parse_labels(
    path: &Path,
    text: &str,
    class_of: &dyn Fn(u32) -> Option<u32>,
) -> Result<Vec<(u32, Vec<Point>)>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let field = format!("line {}", n + 1);
        let mut it = line.split_whitespace();
        let Some(c) = it.next() else { continue };
        let c: u32 = c
            .parse()
            .map_err(|_| Error::invalid(path, &field, format!("class {c:?} is not an index")))?;
        let class = class_of(c)
            .ok_or_else(|| Error::invalid(path, &field, format!("class index {c} has no name")))?;
        let vals: Vec<f64> = it
            .map(|t| match t.parse::<f64>() {
                Ok(v) if v.is_finite() && (0.0..=1.0).contains(&v) => Ok(v),
                _ => Err(Error::invalid(
                    path,
                    &field,
                    format!("coordinate {t:?} is not a number in [0, 1]"),
                )),
            })
            .collect::<Result<_>>()?;
        if !vals.len().is_multiple_of(2) || vals.len() < 6 {
            return Err(Error::invalid(
                path,
                &field,
                format!(
                    "expected an even number (>= 6) of coordinates, found {}",
                    vals.len()
                ),
            ));
        }
        out.push((class, vals.chunks_exact(2).map(|p| [p[0], p[1]]).collect()));
    }
    Ok(out)
}

/// Finds `<images dir>/<stem>.*` for sizes when there is no sidecar.
fn find_image(dir: &Path, stem: &str) -> Option<PathBuf> {
    ["jpg", "jpeg", "png", "bmp", "tif", "tiff", "webp"]
        .iter()
        .map(|e| dir.join(format!("{stem}.{e}")))
        .find(|p| p.exists())
}

/// One line's ring (normalized coordinates) as the reader with `rule` fills it: the
/// ring itself when Limner's rule gives the same pixels, else the exact pixel-edge
/// polygons of the reader's pixels.
fn line_geometry(ring: &[Point], w: u32, h: u32, rule: FillRule) -> Geometry {
    let polygon = |outer: Vec<Point>| Geometry::Polygons {
        polygons: vec![PolygonWithHoles {
            outer,
            holes: vec![],
        }],
    };
    let pixels: Vec<Point> = match rule {
        // Ultralytics parses float32 and multiplies in float32 before truncating.
        FillRule::Opencv => ring
            .iter()
            .map(|p| {
                [
                    f64::from(p[0] as f32 * w as f32),
                    f64::from(p[1] as f32 * h as f32),
                ]
            })
            .collect(),
        _ => ring
            .iter()
            .map(|p| [p[0] * f64::from(w), p[1] * f64::from(h)])
            .collect(),
    };
    if rule == FillRule::Limner {
        return polygon(pixels);
    }
    let theirs = rule.fill_ring(&pixels, w, h);
    if FillRule::Limner.fill_ring(&pixels, w, h) == theirs {
        return polygon(pixels);
    }
    Geometry::Polygons {
        polygons: mask_to_polygons(&theirs, Vectorize::Exact),
    }
}

/// Reads a YOLO segmentation folder (see the module docs); image sizes come from
/// `images` (default `<folder>/images`) when there is no sidecar. `fill` overrides the
/// fill rule the lines are read with.
pub fn read(folder: &Path, images: Option<&Path>, fill: Option<FillRule>) -> Result<ImportedYolo> {
    let images_dir = images.map_or_else(|| folder.join("images"), Path::to_path_buf);
    let cm_path = classmap::path_for(folder, true);
    let (cats, class_of): (Vec<CocoCategory>, HashMap<u32, u32>) = if cm_path.exists() {
        let cm = ClassMap::load(&cm_path)?;
        (
            cm.categories(),
            cm.classes
                .iter()
                .map(|c| (c.format_id, c.ontology_id))
                .collect(),
        )
    } else {
        let names = yaml_names(&folder.join("data.yaml"))?;
        (
            names
                .iter()
                .map(|(k, n)| classmap::category(k + 1, n.clone(), true))
                .collect(),
            names.iter().map(|(k, _)| (*k, k + 1)).collect(),
        )
    };
    let side_path = folder.join(SIDECAR);
    let has_sidecar = side_path.exists();
    let images: Vec<YoloImage> = if has_sidecar {
        io::read_json(&side_path)?
    } else {
        let dir = folder.join("labels");
        let mut stems: Vec<String> = std::fs::read_dir(&dir)
            .map_err(|e| Error::io(&dir, e))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let p = e.path();
                let stem = p.file_stem()?.to_string_lossy().into_owned();
                (p.extension()? == "txt").then_some(stem)
            })
            .collect();
        stems.sort();
        stems
            .into_iter()
            .map(|s| {
                let img = find_image(&images_dir, &s).ok_or_else(|| {
                    Error::invalid(
                        &images_dir,
                        format!("{s}.*"),
                        "image not found (needed for its size)",
                    )
                })?;
                let (width, height) = io::image_dimensions(&img)?;
                let file_name = img
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
                Ok(YoloImage {
                    file_name,
                    stem: s,
                    width,
                    height,
                    segment_ids: Vec::new(),
                    crowd: Vec::new(),
                    fill_rule: None,
                })
            })
            .collect::<Result<_>>()?
    };
    let lookup = |c: u32| class_of.get(&c).copied();
    let documents = images
        .par_iter()
        .enumerate()
        .map(|(i, im)| {
            io::safe_relative_path(&im.stem, &side_path, &format!("[{i}].stem"))?;
            io::safe_relative_path(&im.file_name, &side_path, &format!("[{i}].file_name"))?;
            let path = folder.join("labels").join(format!("{}.txt", im.stem));
            let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
            let lines = parse_labels(&path, &text, &lookup)?;
            let rule = match (fill, &im.fill_rule) {
                (Some(r), _) => r,
                (None, Some(name)) => name
                    .parse::<FillRule>()
                    .map_err(|e| Error::invalid(&side_path, format!("[{i}].fill_rule"), e))?,
                // A sidecar without the field: an export of Limner before fill rules.
                (None, None) if has_sidecar => FillRule::Limner,
                (None, None) => FillRule::Opencv,
            };
            io::check_declared_size(
                &side_path,
                &format!("[{i}].width,height"),
                im.width,
                im.height,
            )?;
            let mut d = ImageDocument::new(&im.file_name, im.width, im.height);
            d.status = ImageStatus::Done;
            let mut next = im.segment_ids.iter().copied().max().unwrap_or(0);
            for (k, (class, ring)) in lines.into_iter().enumerate() {
                let id = match im.segment_ids.get(k) {
                    Some(&id) => id,
                    None => {
                        next += 1;
                        next
                    }
                };
                let g = line_geometry(&ring, im.width, im.height, rule);
                let mut s = Segment::new(id, class, g, Source::Import);
                s.iscrowd = im.crowd.contains(&id);
                d.segments.push(s);
            }
            Ok(d)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(ImportedYolo {
        ontology: Ontology::from_coco(&cats, &cm_path)?,
        documents,
    })
}
