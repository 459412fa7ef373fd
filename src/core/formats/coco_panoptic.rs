//! COCO panoptic: a JSON file plus one RGB PNG per image, in the folder beside the JSON
//! named by its stem (`panoptic_val.json` + `panoptic_val/`), as in COCO's own layout.
//!
//! Export writes the resolved label map of every image (exactly what the app shows).
//! Panoptic ids are Limner's stable segment ids, so they do not change between exports.
//! `area` and `bbox` are computed from the written label map; a segment left with zero
//! pixels after overlap resolution is dropped with a warning, so the PNG and
//! `segments_info` always list the same ids (panopticapi requires it).
//!
//! Import keeps image ids, segment ids, category ids and `iscrowd`; every segment becomes
//! an RLE mask, so import -> export reproduces the PNGs pixel for pixel.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::core::document::{Geometry, ImageDocument, ImageStatus, Segment, Source};
use crate::core::error::{Error, Result};
use crate::core::io;
use crate::core::labelmap::{LabelMap, MAX_PANOPTIC_ID};
use crate::core::ontology::{CocoCategory, Ontology};
use crate::core::project::Project;

/// `images[]` entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CocoImage {
    pub id: u64,
    pub file_name: String,
    pub width: u32,
    pub height: u32,
}

/// `segments_info[]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentInfo {
    pub id: u32,
    pub category_id: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bbox: Option<[f64; 4]>,
    #[serde(default, deserialize_with = "flag")]
    pub iscrowd: u8,
}

/// `annotations[]` entry: one per image.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PanopticAnnotation {
    pub image_id: u64,
    pub file_name: String,
    pub segments_info: Vec<SegmentInfo>,
}

/// A COCO panoptic JSON file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PanopticFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licenses: Option<serde_json::Value>,
    pub images: Vec<CocoImage>,
    pub annotations: Vec<PanopticAnnotation>,
    pub categories: Vec<CocoCategory>,
}

/// Accepts 0/1 and false/true for `iscrowd`.
fn flag<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<u8, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum F {
        B(bool),
        N(u8),
    }
    match F::deserialize(d)? {
        F::B(b) => Ok(u8::from(b)),
        F::N(n @ (0 | 1)) => Ok(n),
        F::N(n) => Err(serde::de::Error::custom(format!(
            "expected 0 or 1, found {n}"
        ))),
    }
}

/// The PNG folder of a panoptic JSON: its path without `.json`.
pub fn png_folder(json: &Path) -> PathBuf {
    json.with_extension("")
}

/// What an export did.
#[derive(Debug, Default, Clone)]
pub struct ExportReport {
    pub images: usize,
    pub segments: usize,
    /// Segments not exported, with the reason (e.g. fully covered by others).
    pub warnings: Vec<String>,
}

/// One image ready to write: its JSON records and PNG bytes.
struct ExportedImage {
    image: CocoImage,
    annotation: PanopticAnnotation,
    png: Vec<u8>,
    warnings: Vec<String>,
}

/// Exports one document (resolves, measures from the map, encodes the PNG).
fn export_one(doc: &ImageDocument, image_id: u64, origin: &Path) -> Result<ExportedImage> {
    let map = doc.resolve();
    let stats = map.stats();
    let mut segments_info = Vec::new();
    let mut warnings = Vec::new();
    for s in &doc.segments {
        if s.id > MAX_PANOPTIC_ID {
            return Err(Error::invalid(
                origin,
                "segments.id",
                format!("segment id {} exceeds 2^24-1", s.id),
            ));
        }
        match stats.get(&s.id) {
            Some(st) => segments_info.push(SegmentInfo {
                id: s.id,
                category_id: s.category_id,
                area: Some(st.area),
                bbox: Some(st.bbox.map(f64::from)),
                iscrowd: u8::from(s.iscrowd),
            }),
            None => warnings.push(format!(
                "{}: segment {} has no visible pixels after overlap resolution; not exported",
                doc.image.file_name, s.id
            )),
        }
    }
    segments_info.sort_by_key(|s| s.id);
    let png_name = Path::new(&doc.image.file_name)
        .with_extension("png")
        .to_string_lossy()
        .replace('\\', "/");
    let png = map
        .to_panoptic_png()
        .map_err(|m| Error::invalid(origin, "segments", m))?;
    Ok(ExportedImage {
        image: CocoImage {
            id: image_id,
            file_name: doc.image.file_name.clone(),
            width: doc.image.width,
            height: doc.image.height,
        },
        annotation: PanopticAnnotation {
            image_id,
            file_name: png_name,
            segments_info,
        },
        png,
        warnings,
    })
}

/// Assigns COCO image ids: kept when a document has one, else the next free id.
fn assign_image_ids(docs: &mut [ImageDocument]) {
    let mut used: HashSet<u64> = docs.iter().filter_map(|d| d.image.coco_id).collect();
    let mut next = 1u64;
    for d in docs.iter_mut().filter(|d| d.image.coco_id.is_none()) {
        while used.contains(&next) {
            next += 1;
        }
        d.image.coco_id = Some(next);
        used.insert(next);
    }
}

/// Exports documents with an ontology to `json` + its PNG folder. PNGs are encoded and
/// written in parallel; every file is written atomically, the JSON last.
pub fn export_documents(
    mut docs: Vec<ImageDocument>,
    ontology: &Ontology,
    json: &Path,
) -> Result<ExportReport> {
    for d in &docs {
        if let Some(e) = d.validate(ontology, json).into_iter().next() {
            return Err(e);
        }
    }
    assign_image_ids(&mut docs);
    let folder = png_folder(json);
    let mut seen = BTreeSet::new();
    for d in &docs {
        let png = Path::new(&d.image.file_name).with_extension("png");
        if !seen.insert(png.clone()) {
            return Err(Error::invalid(
                json,
                "annotations.file_name",
                format!("two images export to the same PNG {}", png.display()),
            ));
        }
    }
    let exported: Vec<ExportedImage> = docs
        .par_iter()
        .map(|d| {
            let e = export_one(d, d.image.coco_id.unwrap_or_default(), json)?;
            io::write_atomic(&folder.join(&e.annotation.file_name), &e.png)?;
            Ok(e)
        })
        .collect::<Result<_>>()?;
    let mut report = ExportReport::default();
    let mut file = PanopticFile {
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
        report.segments += e.annotation.segments_info.len();
        report.warnings.extend(e.warnings);
        file.images.push(e.image);
        file.annotations.push(e.annotation);
    }
    io::write_json_atomic(json, &file)?;
    Ok(report)
}

/// Exports a whole project (every image, annotated or not).
pub fn export_project(project: &Project, json: &Path) -> Result<ExportReport> {
    let (names, _) = project.list_images()?;
    let mut docs_by_name = project.load_all_documents()?;
    let mut docs = Vec::new();
    for n in names {
        match docs_by_name.remove(&n) {
            Some(d) => docs.push(d),
            None => docs.push(project.load_document(&n)?),
        }
    }
    // Annotated images whose file is gone are still exported; validate reports them.
    docs.extend(docs_by_name.into_values());
    export_documents(docs, &project.ontology, json)
}

/// A parsed and checked panoptic dataset: the ontology and one document per image.
pub struct ImportedDataset {
    pub ontology: Ontology,
    pub documents: Vec<ImageDocument>,
}

/// Reads a COCO panoptic JSON and its PNGs, failing on the first broken rule.
/// `png_dir` defaults to the folder beside the JSON named by its stem.
pub fn read(json: &Path, png_dir: Option<&Path>) -> Result<ImportedDataset> {
    let (data, problems) = check(json, png_dir);
    match (data, problems.into_iter().next()) {
        (Some(d), None) => Ok(d),
        (_, Some(e)) => Err(e),
        (None, None) => Err(Error::invalid(json, "(root)", "unreadable")),
    }
}

/// Reads a COCO panoptic dataset and reports every problem found: unsafe or duplicate
/// names and ids, PNG ids missing from `segments_info` or the reverse, unknown
/// categories, size mismatches, and `area` values that differ from the PNG's pixel count.
/// The dataset is returned only when it could be read at all.
pub fn check(json: &Path, png_dir: Option<&Path>) -> (Option<ImportedDataset>, Vec<Error>) {
    let file: PanopticFile = match io::read_json(json) {
        Ok(f) => f,
        Err(e) => return (None, vec![e]),
    };
    let ontology = match Ontology::from_coco(&file.categories, json) {
        Ok(o) => o,
        Err(e) => return (None, vec![e]),
    };
    let mut problems = Vec::new();
    let folder = png_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| png_folder(json));
    let mut images = BTreeMap::new();
    for (i, img) in file.images.iter().enumerate() {
        if let Err(e) =
            io::safe_relative_path(&img.file_name, json, &format!("images[{i}].file_name"))
        {
            problems.push(e);
        }
        if let Err(e) = io::check_declared_size(
            json,
            &format!("images[{i}].width,height"),
            img.width,
            img.height,
        ) {
            problems.push(e);
        }
        if images.insert(img.id, img).is_some() {
            problems.push(Error::invalid(
                json,
                format!("images[{i}].id"),
                format!("duplicate image id {}", img.id),
            ));
        }
    }
    let mut annotated = HashSet::new();
    for (i, ann) in file.annotations.iter().enumerate() {
        if !annotated.insert(ann.image_id) {
            problems.push(Error::invalid(
                json,
                format!("annotations[{i}].image_id"),
                format!("image id {} has two annotations", ann.image_id),
            ));
        }
    }
    let results: Vec<(Option<ImageDocument>, Vec<Error>)> = file
        .annotations
        .par_iter()
        .enumerate()
        .map(|(i, ann)| read_annotation(json, &folder, &images, &ontology, i, ann))
        .collect();
    let mut documents = Vec::new();
    for (doc, errs) in results {
        problems.extend(errs);
        documents.extend(doc);
    }
    // Images listed without an annotation become empty documents.
    for img in file.images.iter().filter(|im| !annotated.contains(&im.id)) {
        let mut d = ImageDocument::new(&img.file_name, img.width, img.height);
        d.image.coco_id = Some(img.id);
        documents.push(d);
    }
    (
        Some(ImportedDataset {
            ontology,
            documents,
        }),
        problems,
    )
}

fn read_annotation(
    json: &Path,
    folder: &Path,
    images: &BTreeMap<u64, &CocoImage>,
    ontology: &Ontology,
    i: usize,
    ann: &PanopticAnnotation,
) -> (Option<ImageDocument>, Vec<Error>) {
    let field = |f: &str| format!("annotations[{i}].{f}");
    let Some(img) = images.get(&ann.image_id) else {
        return (
            None,
            vec![Error::invalid(
                json,
                field("image_id"),
                format!("unknown image id {}", ann.image_id),
            )],
        );
    };
    let rel = match io::safe_relative_path(&ann.file_name, json, &field("file_name")) {
        Ok(r) => r,
        Err(e) => return (None, vec![e]),
    };
    let png_path = folder.join(rel);
    let map = match LabelMap::read_panoptic_png(&png_path) {
        Ok(m) => m,
        Err(e) => return (None, vec![e]),
    };
    if (map.width, map.height) != (img.width, img.height) {
        let msg = format!(
            "PNG is {}x{} but image {} is {}x{}",
            map.width, map.height, img.id, img.width, img.height
        );
        return (None, vec![Error::invalid(&png_path, "(size)", msg)]);
    }
    let (segments, problems) = segments_from_map(&map, ann, ontology, json, i, &png_path);
    let mut d = ImageDocument::new(&img.file_name, img.width, img.height);
    d.image.coco_id = Some(img.id);
    d.status = ImageStatus::Done;
    d.segments = segments;
    (Some(d), problems)
}

/// Cuts a label map into one RLE segment per `segments_info` entry, checking that the
/// PNG and the JSON list exactly the same ids.
fn segments_from_map(
    map: &LabelMap,
    ann: &PanopticAnnotation,
    ontology: &Ontology,
    json: &Path,
    index: usize,
    png_path: &Path,
) -> (Vec<Segment>, Vec<Error>) {
    let stats = map.stats();
    let mut problems = Vec::new();
    let mut listed = HashSet::new();
    let mut keep = Vec::new();
    for (j, s) in ann.segments_info.iter().enumerate() {
        let field = |f: &str| format!("annotations[{index}].segments_info[{j}].{f}");
        if s.id == 0 {
            problems.push(Error::invalid(json, field("id"), "segment id 0 is void"));
            continue;
        }
        if !listed.insert(s.id) {
            problems.push(Error::invalid(
                json,
                field("id"),
                format!("duplicate segment id {}", s.id),
            ));
            continue;
        }
        if ontology.get(s.category_id).is_none() {
            let msg = format!("unknown category id {}", s.category_id);
            problems.push(Error::invalid(json, field("category_id"), msg));
            continue;
        }
        match stats.get(&s.id) {
            None => problems.push(Error::invalid(
                json,
                field("id"),
                format!("segment {} does not appear in {}", s.id, png_path.display()),
            )),
            Some(st) => {
                if let Some(a) = s.area.filter(|&a| a != st.area) {
                    let msg = format!(
                        "area {a} differs from the {} pixels in {}",
                        st.area,
                        png_path.display()
                    );
                    problems.push(Error::invalid(json, field("area"), msg));
                }
                keep.push(s);
            }
        }
    }
    for extra in stats.keys().filter(|id| !listed.contains(id)) {
        problems.push(Error::invalid(
            png_path,
            "(pixels)",
            format!("PNG holds id {extra}, which annotations[{index}].segments_info does not list"),
        ));
    }
    // Every id's COCO runs in one column-major pass, instead of a full-image mask and
    // an RLE encode per segment (which dominated imports of many-segment images).
    let mut runs = super::coco_instance::label_map_runs(map);
    let segments = keep
        .iter()
        .map(|s| {
            let counts = runs.remove(&s.id).unwrap_or_default();
            let rle = hotcoco::types::Rle {
                h: map.height,
                w: map.width,
                counts,
            };
            let mut seg = Segment::new(
                s.id,
                s.category_id,
                Geometry::Rle {
                    counts: hotcoco::mask::rle_to_string(&rle),
                },
                Source::Import,
            );
            seg.iscrowd = s.iscrowd != 0;
            seg
        })
        .collect();
    (segments, problems)
}
