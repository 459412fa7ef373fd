//! COCO instance segmentation (`instances_*.json`): one annotation per segment, its
//! `segmentation` a polygon list, an uncompressed RLE (`iscrowd` 1) or a compressed RLE
//! string. Masks are encoded and decoded with `hotcoco`, bit-identical to pycocotools.
//!
//! # Fill rules
//! COCO polygons are always rasterized with pycocotools' rule (`hotcoco::mask::fr_polys`,
//! a 5x upsampled boundary walk), never with Limner's pixel-centre even-odd rule: the two
//! differ on boundary pixels (pycocotools claims pixels whose centre lies up to about half
//! a pixel outside the polygon). On import, a polygon is kept as an editable polygon only
//! when both rules give the same pixels; otherwise the segment becomes the RLE mask
//! pycocotools would produce. RLE is exact both ways.
//!
//! # Export
//! Every image's resolved label map is written (what the app shows, no overlaps).
//! A non-crowd segment is written as polygons when the exact pixel-edge polygons of its
//! visible pixels have no holes and pycocotools' rule rasterizes them to exactly those
//! pixels; otherwise (holes, 1-px structures, most curved boundaries) as a compressed RLE
//! string. Crowd segments are written as uncompressed RLE, as COCO does. So export ->
//! import is lossless. `area` and `bbox` come from the written pixels. Limner's segment
//! id is kept in the extra field `limner_segment_id` (other tools ignore it), so a round
//! trip keeps segment ids; without it, ids are assigned in annotation order (later
//! annotations win where annotations of other tools overlap).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::classmap::{self, ClassMap};
use super::coco_panoptic::CocoImage;
use crate::core::document::{Geometry, ImageDocument, ImageStatus, Segment, Source};
use crate::core::error::{Error, Result};
use crate::core::geometry::{BitMask, PolygonWithHoles, check_rle_size, scan_polygons};
use crate::core::io;
use crate::core::labelmap::LabelMap;
use crate::core::ontology::{CocoCategory, Ontology};
use crate::core::vectorize::{Vectorize, mask_to_polygons};

/// `annotations[]` entry of a COCO instance file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstanceAnnotation {
    /// Dataset-wide annotation id.
    pub id: u64,
    /// The image it belongs to.
    pub image_id: u64,
    /// Ontology id of its class.
    pub category_id: u32,
    /// Polygon list, `{size, counts: [..]}` or `{size, counts: "..."}`; parsed by hand so
    /// errors name the exact field.
    pub segmentation: serde_json::Value,
    /// Pixel count (recomputed on export; not trusted on import).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<f64>,
    /// `[x, y, w, h]` of the pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bbox: Option<[f64; 4]>,
    /// 0 / 1 (or false / true).
    #[serde(default)]
    pub iscrowd: serde_json::Value,
    /// Limner's stable segment id (extra field; absent in other tools' files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limner_segment_id: Option<u32>,
}

/// A COCO instance file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstanceFile {
    /// Free-form `info` block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<serde_json::Value>,
    /// Free-form `licenses` block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licenses: Option<serde_json::Value>,
    /// The images.
    pub images: Vec<CocoImage>,
    /// One entry per segment.
    pub annotations: Vec<InstanceAnnotation>,
    /// Classes with their ontology ids.
    pub categories: Vec<CocoCategory>,
}

/// A read COCO instance dataset.
pub struct ImportedInstances {
    /// Ontology built from `categories` (same ids).
    pub ontology: Ontology,
    /// One document per image, in `images` order.
    pub documents: Vec<ImageDocument>,
}

/// A parsed `segmentation` value.
enum Seg {
    Polygons(Vec<Vec<f64>>),
    Runs(Vec<u32>),
    Compressed(String),
}

fn parse_segmentation(
    v: &serde_json::Value,
    img: &CocoImage,
    json: &Path,
    field: &str,
) -> Result<Seg> {
    let bad = |f: &str, m: String| Error::invalid(json, format!("{field}{f}"), m);
    match v {
        serde_json::Value::Array(polys) => {
            let mut out = Vec::with_capacity(polys.len());
            for (k, p) in polys.iter().enumerate() {
                let coords = p.as_array().ok_or_else(|| {
                    bad(&format!("[{k}]"), "expected a list of x, y numbers".into())
                })?;
                let mut xy = Vec::with_capacity(coords.len());
                for (n, c) in coords.iter().enumerate() {
                    match c.as_f64() {
                        Some(f) if f.is_finite() => xy.push(f),
                        _ => {
                            return Err(bad(
                                &format!("[{k}][{n}]"),
                                format!("coordinate {c} is not a finite number"),
                            ));
                        }
                    }
                }
                if xy.len() % 2 != 0 || xy.len() < 6 {
                    return Err(bad(
                        &format!("[{k}]"),
                        format!(
                            "a polygon needs an even number (>= 6) of coordinates, found {}",
                            xy.len()
                        ),
                    ));
                }
                out.push(xy);
            }
            Ok(Seg::Polygons(out))
        }
        serde_json::Value::Object(o) => {
            let size: Option<[u32; 2]> = o
                .get("size")
                .and_then(|s| serde_json::from_value(s.clone()).ok());
            match size {
                Some([h, w]) if (h, w) == (img.height, img.width) => {}
                Some([h, w]) => {
                    return Err(bad(
                        ".size",
                        format!(
                            "RLE size [{h}, {w}] differs from image {} ([{}, {}])",
                            img.id, img.height, img.width
                        ),
                    ));
                }
                None => return Err(bad(".size", "expected [height, width]".into())),
            }
            match o.get("counts") {
                Some(serde_json::Value::String(s)) => {
                    // Check the runs without decoding the whole mask.
                    let rle = hotcoco::mask::rle_from_string(s, img.height, img.width)
                        .map_err(|e| bad(".counts", e.to_string()))?;
                    check_rle_size(&rle.counts, img.width, img.height)
                        .map_err(|m| bad(".counts", m))?;
                    Ok(Seg::Compressed(s.clone()))
                }
                Some(serde_json::Value::Array(a)) => {
                    let runs: Vec<u32> = a
                        .iter()
                        .map(|c| c.as_u64().and_then(|n| u32::try_from(n).ok()))
                        .collect::<Option<_>>()
                        .ok_or_else(|| {
                            bad(
                                ".counts",
                                "run lengths must be non-negative integers".into(),
                            )
                        })?;
                    check_rle_size(&runs, img.width, img.height).map_err(|m| bad(".counts", m))?;
                    Ok(Seg::Runs(runs))
                }
                _ => Err(bad(
                    ".counts",
                    "expected an RLE string or a list of run lengths".into(),
                )),
            }
        }
        _ => Err(bad("", "expected a polygon list or an RLE object".into())),
    }
}

fn parse_flag(v: &serde_json::Value, json: &Path, field: String) -> Result<bool> {
    match v {
        serde_json::Value::Null => Ok(false),
        serde_json::Value::Bool(b) => Ok(*b),
        serde_json::Value::Number(n) if n.as_u64() == Some(0) => Ok(false),
        serde_json::Value::Number(n) if n.as_u64() == Some(1) => Ok(true),
        other => Err(Error::invalid(
            json,
            field,
            format!("expected 0 or 1, found {other}"),
        )),
    }
}

/// True when Limner's rule fills exactly the pixels of a column-major RLE: the same
/// count, and every run of ones inside Limner's raster. Walks the runs (O(area)) instead
/// of decoding and transposing the whole image.
fn same_pixels(rle: &hotcoco::types::Rle, polys: &[PolygonWithHoles], w: u32, h: u32) -> bool {
    // Limner's raster of the polygons' bounding rows and columns only.
    let (mut x_lo, mut y_lo, mut x_hi, mut y_hi) = (u32::MAX, u32::MAX, 0u32, 0u32);
    let mut spans = Vec::new();
    scan_polygons(polys, w, h, |r, x0, x1| {
        spans.push((r, x0, x1));
        (x_lo, x_hi, y_lo, y_hi) = (x_lo.min(x0), x_hi.max(x1), y_lo.min(r), y_hi.max(r + 1));
    });
    if spans.is_empty() {
        return rle.counts.iter().skip(1).step_by(2).all(|&n| n == 0);
    }
    let (bw, bh) = ((x_hi - x_lo) as usize, (y_hi - y_lo) as usize);
    let mut ours = vec![0u8; bw * bh];
    for (r, x0, x1) in spans {
        let row = (r - y_lo) as usize * bw;
        ours[row + (x0 - x_lo) as usize..row + (x1 - x_lo) as usize].fill(1);
    }
    let area: u64 = ours.iter().map(|&v| u64::from(v)).sum();
    let hu = h as usize;
    let at = |q: usize| -> bool {
        let (x, y) = ((q / hu) as u32, (q % hu) as u32);
        x >= x_lo
            && x < x_hi
            && y >= y_lo
            && y < y_hi
            && ours[(y - y_lo) as usize * bw + (x - x_lo) as usize] != 0
    };
    let (mut pos, mut ones) = (0usize, 0u64);
    for (k, &n) in rle.counts.iter().enumerate() {
        let n = n as usize;
        if k % 2 == 1 {
            if !(pos..pos + n).all(at) {
                return false;
            }
            ones += n as u64;
        }
        pos += n;
    }
    ones == area
}

/// Turns a parsed segmentation into a geometry: polygons stay polygons only when
/// Limner's rule and pycocotools' give the same pixels.
fn to_geometry(seg: Seg, img: &CocoImage) -> Result<Geometry, String> {
    let (w, h) = (img.width, img.height);
    match seg {
        Seg::Compressed(counts) => Ok(Geometry::Rle { counts }),
        Seg::Runs(counts) => Ok(Geometry::Rle {
            counts: hotcoco::mask::rle_to_string(&hotcoco::types::Rle { h, w, counts }),
        }),
        Seg::Polygons(polys) => {
            let rle = hotcoco::mask::fr_polys(&polys, h, w).map_err(|e| e.to_string())?;
            let ours: Vec<PolygonWithHoles> = polys
                .iter()
                .map(|xy| PolygonWithHoles {
                    outer: xy.chunks_exact(2).map(|p| [p[0], p[1]]).collect(),
                    holes: vec![],
                })
                .collect();
            let same = same_pixels(&rle, &ours, w, h);
            Ok(if same {
                Geometry::Polygons { polygons: ours }
            } else {
                Geometry::Rle {
                    counts: hotcoco::mask::rle_to_string(&rle),
                }
            })
        }
    }
}

/// Reads a COCO instance JSON, failing on the first broken rule (unknown image or
/// category, bad segmentation, duplicate ids, unsafe `file_name`).
pub fn read(json: &Path) -> Result<ImportedInstances> {
    let file: InstanceFile = io::read_json(json)?;
    let ontology = Ontology::from_coco(&file.categories, json)?;
    let mut images: HashMap<u64, usize> = HashMap::new();
    let mut documents = Vec::with_capacity(file.images.len());
    for (i, img) in file.images.iter().enumerate() {
        io::safe_relative_path(&img.file_name, json, &format!("images[{i}].file_name"))?;
        if images.insert(img.id, i).is_some() {
            return Err(Error::invalid(
                json,
                format!("images[{i}].id"),
                format!("duplicate image id {}", img.id),
            ));
        }
        io::check_declared_size(
            json,
            &format!("images[{i}].width,height"),
            img.width,
            img.height,
        )?;
        let mut d = ImageDocument::new(&img.file_name, img.width, img.height);
        d.image.coco_id = Some(img.id);
        documents.push(d);
    }
    // Parse and rasterize in parallel; assemble in file order.
    let parsed: Vec<Result<(usize, Geometry)>> = file
        .annotations
        .par_iter()
        .enumerate()
        .map(|(i, a)| {
            let field = format!("annotations[{i}].segmentation");
            let &ix = images.get(&a.image_id).ok_or_else(|| {
                Error::invalid(
                    json,
                    format!("annotations[{i}].image_id"),
                    format!("unknown image id {}", a.image_id),
                )
            })?;
            let img = &file.images[ix];
            let seg = parse_segmentation(&a.segmentation, img, json, &field)?;
            let g = to_geometry(seg, img).map_err(|m| Error::invalid(json, &field, m))?;
            Ok((ix, g))
        })
        .collect();
    let mut ann_ids = HashSet::new();
    let mut pending: Vec<(usize, Segment, bool)> = Vec::new();
    for (i, (a, r)) in file.annotations.iter().zip(parsed).enumerate() {
        let (ix, geometry) = r?;
        if !ann_ids.insert(a.id) {
            return Err(Error::invalid(
                json,
                format!("annotations[{i}].id"),
                format!("duplicate annotation id {}", a.id),
            ));
        }
        if ontology.get(a.category_id).is_none() {
            return Err(Error::invalid(
                json,
                format!("annotations[{i}].category_id"),
                format!("unknown category id {}", a.category_id),
            ));
        }
        let mut s = Segment::new(0, a.category_id, geometry, Source::Import);
        s.iscrowd = parse_flag(&a.iscrowd, json, format!("annotations[{i}].iscrowd"))?;
        let keep_id = match a.limner_segment_id {
            Some(id) if id >= 1 => {
                s.id = id;
                true
            }
            _ => false,
        };
        pending.push((ix, s, keep_id));
    }
    // Kept ids first (when unique in their image), then fresh ids in annotation order.
    let mut used: Vec<HashSet<u32>> = vec![HashSet::new(); documents.len()];
    for (ix, s, keep) in pending.iter_mut() {
        if *keep && !used[*ix].insert(s.id) {
            *keep = false;
        }
    }
    let mut next: Vec<u32> = vec![1; documents.len()];
    for (ix, mut s, keep) in pending {
        if !keep {
            while used[ix].contains(&next[ix]) {
                next[ix] += 1;
            }
            s.id = next[ix];
            used[ix].insert(s.id);
        }
        documents[ix].status = ImageStatus::Done;
        documents[ix].segments.push(s);
    }
    for d in &mut documents {
        d.segments.sort_by_key(|s| s.id);
    }
    Ok(ImportedInstances {
        ontology,
        documents,
    })
}

/// Column-major COCO runs of every non-void id of a label map, in one pass.
pub fn label_map_runs(map: &LabelMap) -> BTreeMap<u32, Vec<u32>> {
    let (w, h) = (map.width as usize, map.height as usize);
    // Per id: its runs so far and where its last run of ones ended.
    let mut acc: HashMap<u32, (Vec<u32>, usize)> = HashMap::new();
    let mut flush = |id: u32, start: usize, end: usize| {
        if id != 0 {
            let e = acc.entry(id).or_insert((Vec::new(), 0));
            e.0.push((start - e.1) as u32);
            e.0.push((end - start) as u32);
            e.1 = end;
        }
    };
    let (mut cur, mut start) = (u32::MAX, 0usize);
    for x in 0..w {
        for y in 0..h {
            let id = map.ids[y * w + x];
            if id != cur {
                let p = x * h + y;
                if cur != u32::MAX {
                    flush(cur, start, p);
                }
                cur = id;
                start = p;
            }
        }
    }
    if cur != u32::MAX {
        flush(cur, start, w * h);
    }
    acc.into_iter()
        .map(|(id, (mut runs, end))| {
            if end < w * h {
                runs.push((w * h - end) as u32);
            }
            (id, runs)
        })
        .collect()
}

/// The exact pixel-edge polygons of a segment's pixels as COCO polygon lists, when they
/// have no holes and pycocotools' rule gives back exactly `runs`.
fn as_coco_polygons(
    map: &LabelMap,
    id: u32,
    bbox: [u32; 4],
    runs: &[u32],
) -> Option<Vec<Vec<f64>>> {
    let [x0, y0, bw, bh] = bbox;
    let mut crop = BitMask::new(bw, bh);
    for y in 0..bh {
        for x in 0..bw {
            if map.at(x0 + x, y0 + y) == id {
                crop.data[(y * bw + x) as usize] = 1;
            }
        }
    }
    let polys = mask_to_polygons(&crop, Vectorize::Exact);
    if polys.iter().any(|p| !p.holes.is_empty()) {
        return None;
    }
    let flat: Vec<Vec<f64>> = polys
        .iter()
        .map(|p| {
            p.outer
                .iter()
                .flat_map(|v| [v[0] + f64::from(x0), v[1] + f64::from(y0)])
                .collect()
        })
        .collect();
    let rle = hotcoco::mask::fr_polys(&flat, map.height, map.width).ok()?;
    (rle.counts == runs).then_some(flat)
}

/// What one image exports to.
struct Exported {
    image: CocoImage,
    annotations: Vec<InstanceAnnotation>,
    warnings: Vec<String>,
}

fn export_one(doc: &ImageDocument, image_id: u64) -> Exported {
    let map = doc.resolve();
    let stats = map.stats();
    let mut runs = label_map_runs(&map);
    let (w, h) = (doc.image.width, doc.image.height);
    let mut annotations = Vec::new();
    let mut warnings = Vec::new();
    let mut segs: Vec<&Segment> = doc.segments.iter().collect();
    segs.sort_by_key(|s| s.id);
    for s in segs {
        let (Some(st), Some(r)) = (stats.get(&s.id), runs.remove(&s.id)) else {
            warnings.push(format!(
                "{}: segment {} has no visible pixels after overlap resolution; not exported",
                doc.image.file_name, s.id
            ));
            continue;
        };
        let size = [h, w];
        let segmentation = if s.iscrowd {
            serde_json::json!({"size": size, "counts": r})
        } else if let Some(p) = as_coco_polygons(&map, s.id, st.bbox, &r) {
            serde_json::json!(p)
        } else {
            let rle = hotcoco::types::Rle { h, w, counts: r };
            serde_json::json!({"size": size, "counts": hotcoco::mask::rle_to_string(&rle)})
        };
        annotations.push(InstanceAnnotation {
            id: 0,
            image_id,
            category_id: s.category_id,
            segmentation,
            area: Some(st.area as f64),
            bbox: Some(st.bbox.map(f64::from)),
            iscrowd: serde_json::json!(u8::from(s.iscrowd)),
            limner_segment_id: Some(s.id),
        });
    }
    Exported {
        image: CocoImage {
            id: image_id,
            file_name: doc.image.file_name.clone(),
            width: w,
            height: h,
        },
        annotations,
        warnings,
    }
}

/// What an export did.
#[derive(Debug, Default, Clone)]
pub struct ExportReport {
    /// Images written.
    pub images: usize,
    /// Annotations written.
    pub segments: usize,
    /// Annotations written as polygons (the rest are RLE).
    pub polygons: usize,
    /// Segments not exported, with the reason.
    pub warnings: Vec<String>,
}

/// Writes documents as a COCO instance JSON at `json`, plus its class-id map beside it.
pub fn export_documents(
    mut docs: Vec<ImageDocument>,
    ontology: &Ontology,
    json: &Path,
) -> Result<ExportReport> {
    classmap::validate_all(&docs, ontology, json)?;
    // Keep COCO image ids; give the others ids above every kept one.
    let mut next = docs
        .iter()
        .filter_map(|d| d.image.coco_id)
        .max()
        .unwrap_or(0);
    let mut seen = HashSet::new();
    for d in &mut docs {
        match d.image.coco_id {
            Some(id) if seen.insert(id) => {}
            _ => {
                next += 1;
                d.image.coco_id = Some(next);
                seen.insert(next);
            }
        }
    }
    let exported: Vec<Exported> = docs
        .par_iter()
        .map(|d| export_one(d, d.image.coco_id.unwrap_or_default()))
        .collect();
    let mut report = ExportReport::default();
    let mut file = InstanceFile {
        info: Some(
            serde_json::json!({"description": "exported by Limner", "version": env!("CARGO_PKG_VERSION")}),
        ),
        licenses: None,
        images: Vec::new(),
        annotations: Vec::new(),
        categories: ontology.to_coco(),
    };
    for e in exported {
        report.images += 1;
        report.warnings.extend(e.warnings);
        file.images.push(e.image);
        for mut a in e.annotations {
            a.id = file.annotations.len() as u64 + 1;
            report.polygons += usize::from(a.segmentation.is_array());
            file.annotations.push(a);
        }
    }
    report.segments = file.annotations.len();
    ClassMap::identity(
        "coco-instance",
        ontology,
        serde_json::json!("no annotation"),
    )
    .save(&classmap::path_for(json, false))?;
    io::write_json_atomic(json, &file)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_map_runs_equal_hotcoco_encode() {
        let mut m = LabelMap::new(7, 5);
        for (i, v) in m.ids.iter_mut().enumerate() {
            *v = ((i * 7919) % 11 % 4) as u32;
        }
        m.ids[0] = 3;
        let runs = label_map_runs(&m);
        for (id, r) in &runs {
            let mut col = vec![0u8; 35];
            for x in 0..7 {
                for y in 0..5 {
                    col[x * 5 + y] = u8::from(m.ids[y * 7 + x] == *id);
                }
            }
            let enc = hotcoco::mask::encode(&col, 5, 7).unwrap();
            assert_eq!(&enc.counts, r, "id {id}");
        }
        assert_eq!(runs.len(), 3);
    }
}
