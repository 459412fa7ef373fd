//! Semantic PNG: one single-channel PNG per image whose pixel values are ontology ids
//! (0 = void), 8-bit when every class id fits in 255, else 16-bit. Layout:
//!
//! ```text
//! <folder>/<image path with .png>   the class maps (`scene/a.jpg` -> `scene/a.png`)
//! <folder>/images.json              [{"file_name", "png", "width", "height"}]
//! <folder>/classmap.json            ontology id <-> pixel value (identity), void = 0
//! ```
//!
//! Documented loss: instances are merged per class (one segment per class and image on
//! import), so segment ids, `iscrowd` and the split between touching instances of one
//! class do not survive. Class ids and every pixel's class do.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::classmap::{self, ClassMap};
use crate::core::document::{Geometry, ImageDocument, ImageStatus, Segment, Source};
use crate::core::error::{Error, Result};
use crate::core::geometry::BitMask;
use crate::core::io;
use crate::core::ontology::{CocoCategory, Ontology};

/// Name of the image list in a semantic PNG folder.
pub const IMAGES_FILE: &str = "images.json";

/// One `images.json` entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageEntry {
    /// The image's path relative to the images folder.
    pub file_name: String,
    /// Its class PNG, relative to the semantic folder.
    pub png: String,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
}

/// What an export did.
#[derive(Debug, Default, Clone)]
pub struct ExportReport {
    /// PNGs written.
    pub images: usize,
    /// Bits per pixel used (8 or 16).
    pub bits: u8,
}

/// Encodes class values as an 8- or 16-bit grayscale PNG.
fn encode(values: &[u32], w: u32, h: u32, sixteen: bool) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_compression(png::Compression::Fast);
    let bytes: Vec<u8> = if sixteen {
        enc.set_depth(png::BitDepth::Sixteen);
        // PNG stores 16-bit samples big-endian.
        values
            .iter()
            .flat_map(|&v| (v as u16).to_be_bytes())
            .collect()
    } else {
        enc.set_depth(png::BitDepth::Eight);
        values.iter().map(|&v| v as u8).collect()
    };
    let mut wr = enc.write_header().map_err(|e| e.to_string())?;
    wr.write_image_data(&bytes).map_err(|e| e.to_string())?;
    wr.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

/// Writes documents as class PNGs into `folder`, with `images.json` and `classmap.json`.
pub fn export_documents(
    docs: &[ImageDocument],
    ontology: &Ontology,
    folder: &Path,
) -> Result<ExportReport> {
    classmap::validate_all(docs, ontology, folder)?;
    let max_id = ontology.categories.iter().map(|c| c.id).max().unwrap_or(0);
    if max_id > u32::from(u16::MAX) {
        return Err(Error::invalid(
            folder,
            "categories.id",
            format!("class id {max_id} does not fit in a 16-bit PNG"),
        ));
    }
    let sixteen = max_id > 255;
    let mut seen = BTreeSet::new();
    let entries: Vec<ImageEntry> = docs
        .iter()
        .map(|d| ImageEntry {
            file_name: d.image.file_name.clone(),
            png: Path::new(&d.image.file_name)
                .with_extension("png")
                .to_string_lossy()
                .replace('\\', "/"),
            width: d.image.width,
            height: d.image.height,
        })
        .collect();
    for e in &entries {
        if !seen.insert(e.png.clone()) {
            return Err(Error::invalid(
                folder,
                "images.png",
                format!("two images write the same PNG {}", e.png),
            ));
        }
    }
    docs.par_iter()
        .zip(&entries)
        .map(|(d, e)| {
            let map = d.resolve();
            let class_of: std::collections::HashMap<u32, u32> =
                d.segments.iter().map(|s| (s.id, s.category_id)).collect();
            let values = map.map_ids(|id| class_of.get(&id).copied().unwrap_or(0));
            let png = encode(&values.ids, map.width, map.height, sixteen)
                .map_err(|m| Error::image(folder.join(&e.png), m))?;
            io::write_atomic(&folder.join(&e.png), &png)
        })
        .collect::<Result<Vec<()>>>()?;
    ClassMap::identity("semantic-png", ontology, serde_json::json!(0))
        .save(&classmap::path_for(folder, true))?;
    io::write_json_atomic(&folder.join(IMAGES_FILE), &entries)?;
    Ok(ExportReport {
        images: entries.len(),
        bits: if sixteen { 16 } else { 8 },
    })
}

/// Reads one class PNG (8- or 16-bit grayscale) as values.
fn read_values(path: &Path) -> Result<(u32, u32, Vec<u32>)> {
    io::image_dimensions(path)?;
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
        .map_err(|e| Error::image(path, e.to_string()))?;
    match img {
        image::DynamicImage::ImageLuma8(i) => Ok((
            i.width(),
            i.height(),
            i.pixels().map(|p| u32::from(p[0])).collect(),
        )),
        image::DynamicImage::ImageLuma16(i) => Ok((
            i.width(),
            i.height(),
            i.pixels().map(|p| u32::from(p[0])).collect(),
        )),
        other => Err(Error::image(
            path,
            format!(
                "a semantic PNG must be single-channel 8- or 16-bit, found {:?}",
                other.color()
            ),
        )),
    }
}

/// Every PNG under `dir`, relative, '/'-separated, sorted.
fn list_pngs(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let p = e.map_err(|e| Error::io(dir, e))?.path();
        if p.is_dir() {
            list_pngs(root, &p, out)?;
        } else if p.extension().is_some_and(|x| x.eq_ignore_ascii_case("png")) {
            let rel = p.strip_prefix(root).unwrap_or(&p);
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

/// A read semantic PNG folder.
pub struct ImportedSemantic {
    /// From `classmap.json` when present, else one class `class-<v>` per value seen.
    pub ontology: Ontology,
    /// One document per PNG: one RLE segment per class present.
    pub documents: Vec<ImageDocument>,
}

/// Reads a semantic PNG folder. A pixel value that the class-id map does not list is an
/// error naming the PNG and the value.
pub fn read(folder: &Path) -> Result<ImportedSemantic> {
    let cm_path = classmap::path_for(folder, true);
    let cm = cm_path
        .exists()
        .then(|| ClassMap::load(&cm_path))
        .transpose()?;
    let list_path = folder.join(IMAGES_FILE);
    let entries: Vec<(String, String)> = if list_path.exists() {
        let v: Vec<ImageEntry> = io::read_json(&list_path)?;
        for (i, e) in v.iter().enumerate() {
            io::safe_relative_path(&e.png, &list_path, &format!("[{i}].png"))?;
            io::safe_relative_path(&e.file_name, &list_path, &format!("[{i}].file_name"))?;
        }
        v.into_iter().map(|e| (e.file_name, e.png)).collect()
    } else {
        let mut v = Vec::new();
        list_pngs(folder, folder, &mut v)?;
        v.sort();
        v.into_iter().map(|p| (p.clone(), p)).collect()
    };
    let read: Vec<Result<(ImageDocument, BTreeSet<u32>)>> = entries
        .par_iter()
        .map(|(file_name, png)| {
            let path: PathBuf = folder.join(png);
            let (w, h, values) = read_values(&path)?;
            let present: BTreeSet<u32> = values.iter().copied().filter(|&v| v != 0).collect();
            let mut d = ImageDocument::new(file_name, w, h);
            d.status = ImageStatus::Done;
            for (k, &v) in present.iter().enumerate() {
                let class = match &cm {
                    Some(m) => m.ontology_id(v).ok_or_else(|| {
                        Error::invalid(
                            &path,
                            "(pixels)",
                            format!("pixel value {v} has no class in {}", cm_path.display()),
                        )
                    })?,
                    None => v,
                };
                let mask = BitMask {
                    width: w,
                    height: h,
                    data: values.iter().map(|&x| u8::from(x == v)).collect(),
                };
                d.segments.push(Segment::new(
                    k as u32 + 1,
                    class,
                    Geometry::from_mask(&mask),
                    Source::Import,
                ));
            }
            Ok((d, present))
        })
        .collect();
    let mut documents = Vec::new();
    let mut values = BTreeSet::new();
    for r in read {
        let (d, present) = r?;
        values.extend(present);
        documents.push(d);
    }
    let cats: Vec<CocoCategory> = match &cm {
        Some(m) => m.categories(),
        None => values
            .iter()
            .map(|&v| classmap::category(v, format!("class-{v}"), false))
            .collect(),
    };
    let ontology = Ontology::from_coco(&cats, &cm_path)?;
    Ok(ImportedSemantic {
        ontology,
        documents,
    })
}
