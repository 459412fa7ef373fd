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
//! Export: each visible segment becomes one line: the exact pixel-edge polygons of its
//! visible pixels (see [`crate::core::vectorize`]), every hole and every further polygon
//! joined to the ring by a zero-width cut (the same edge walked there and back). Cuts are
//! counted and reported, holes are never dropped. Under Limner's even-odd rule the cut
//! line rasterizes back to exactly the same pixels. Coordinates are written with
//! shortest round-trip precision. YOLO has no crowd flag or stable ids: the sidecar keeps
//! them, so a Limner export imports back unchanged.
//!
//! Import: each line becomes one segment holding the line's ring as a polygon (filled
//! with Limner's rule; Ultralytics rasterizes with OpenCV's `fillPoly`, which can differ
//! on boundary pixels). Without the sidecar, image sizes come from `images/<stem>.*`,
//! segment ids are 1.. in line order (later lines win where lines overlap).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::classmap::{self, ClassEntry, ClassMap, VoidEntry};
use crate::core::document::{Geometry, ImageDocument, ImageStatus, Segment, Source};
use crate::core::error::{Error, Result};
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
}

/// What an export did.
#[derive(Debug, Default, Clone)]
pub struct ExportReport {
    /// Label files written.
    pub images: usize,
    /// Lines (instances) written.
    pub segments: usize,
    /// Holes joined to their outer ring by a zero-width cut.
    pub bridged_holes: usize,
    /// Extra polygons of one segment joined by a zero-width cut.
    pub bridged_parts: usize,
}

/// Joins `ring` into `base` by a zero-width cut walked there and back: from base's
/// first vertex B along the row y = B.y to the column of the ring's top-most vertex R,
/// along that column to R, round the ring, and back the same way. The cut is made of horizontal edges (ignored by the fill rule) and vertical ones
/// at integer x (never through a pixel centre, crossed twice at the same x), so the
/// joined walk fills exactly the pixels of `base` and `ring` under even-odd.
fn bridge(base: &mut Vec<Point>, ring: &[Point]) {
    let b = base[0];
    let j = (0..ring.len())
        .min_by(|&x, &y| {
            let (p, q) = (ring[x], ring[y]);
            p[1].total_cmp(&q[1]).then(p[0].total_cmp(&q[0]))
        })
        .unwrap_or(0);
    let r = ring[j];
    let mut cut = Vec::with_capacity(ring.len() + 5);
    cut.push([r[0], b[1]]);
    cut.extend_from_slice(&ring[j..]);
    cut.extend_from_slice(&ring[..=j]);
    cut.push([r[0], b[1]]);
    cut.push(b);
    base.splice(1..1, cut);
}

/// One closed walk (holes and parts bridged) for a segment's exact (integer-vertex)
/// polygons.
fn single_ring(polys: &[PolygonWithHoles], report: &mut ExportReport) -> Vec<Point> {
    let mut ring: Vec<Point> = Vec::new();
    for (k, p) in polys.iter().enumerate() {
        if k == 0 {
            ring = p.outer.clone();
        } else {
            bridge(&mut ring, &p.outer);
            report.bridged_parts += 1;
        }
        for h in &p.holes {
            bridge(&mut ring, h);
            report.bridged_holes += 1;
        }
    }
    ring
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
                let mut polys = mask_to_polygons(&crop, Vectorize::Exact);
                for p in &mut polys {
                    for r in std::iter::once(&mut p.outer).chain(p.holes.iter_mut()) {
                        for v in r.iter_mut() {
                            v[0] += f64::from(x0);
                            v[1] += f64::from(y0);
                        }
                    }
                }
                let ring = single_ring(&polys, &mut rep);
                let _ = write!(text, "{}", yolo_of[&seg.category_id]);
                for v in &ring {
                    let _ = write!(text, " {} {}", v[0] / w, v[1] / h);
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

/// Parses one label file into segments. Errors name the file and the line.
fn parse_labels(
    path: &Path,
    text: &str,
    w: u32,
    h: u32,
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
        let ring = vals
            .chunks_exact(2)
            .map(|p| [p[0] * f64::from(w), p[1] * f64::from(h)])
            .collect();
        out.push((class, ring));
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

/// Reads a YOLO segmentation folder (see the module docs); image sizes come from
/// `images` (default `<folder>/images`) when there is no sidecar.
pub fn read(folder: &Path, images: Option<&Path>) -> Result<ImportedYolo> {
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
    let images: Vec<YoloImage> = if side_path.exists() {
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
            let lines = parse_labels(&path, &text, im.width, im.height, &lookup)?;
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
                let g = Geometry::Polygons {
                    polygons: vec![PolygonWithHoles {
                        outer: ring,
                        holes: vec![],
                    }],
                };
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
