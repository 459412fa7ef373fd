//! Pascal VOC segmentation: palette PNGs with the VOC colour map.
//!
//! ```text
//! <folder>/SegmentationClass/<stem>.png    class index per pixel: 0 background, 255 void
//! <folder>/SegmentationObject/<stem>.png   instance index per pixel (1..254), 255 void
//! <folder>/ImageSets/Segmentation/all.txt  the stems
//! <folder>/classmap.json                   ontology id <-> VOC class index, void = 255
//! <folder>/limner_voc.json                 file names, sizes, segment ids and iscrowd
//! ```
//!
//! Export: Limner's void becomes 255 in both PNGs; active classes get VOC indices 1, 2,
//! ... in ontology order (at most 254); every visible segment (thing or stuff) gets an
//! instance index 1.. in ascending id order (at most 254 per image). VOC has no crowd
//! flag and no stable ids: `limner_voc.json` carries them, so a Limner export imports back
//! unchanged. Import of other tools' VOC data (no sidecar): background 0 and void 255
//! both become void unless the class map lists index 0; each instance index becomes one
//! segment (ids 1..), its class the majority class index under it; pixels with a class
//! but no instance become one segment per class.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::classmap::{self, ClassEntry, ClassMap, VoidEntry};
use crate::core::document::{Geometry, ImageDocument, ImageStatus, Segment, Source};
use crate::core::error::{Error, Result};
use crate::core::geometry::BitMask;
use crate::core::io;
use crate::core::ontology::{CocoCategory, Ontology, VOID_ID};

/// VOC's void / boundary index.
pub const VOC_VOID: u8 = 255;
/// Name of Limner's sidecar in a VOC folder.
pub const SIDECAR: &str = "limner_voc.json";

/// One image in the sidecar.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VocImage {
    /// Image path relative to the images folder.
    pub file_name: String,
    /// PNG stem (`SegmentationClass/<stem>.png`).
    pub stem: String,
    /// Segment id of instance index k + 1.
    pub segment_ids: Vec<u32>,
    /// Segment ids flagged iscrowd.
    #[serde(default)]
    pub crowd: Vec<u32>,
}

/// The VOC colour map (index -> RGB), as in the VOC devkit's `labelcolormap`.
pub fn palette() -> Vec<u8> {
    let mut p = Vec::with_capacity(768);
    for i in 0..256u32 {
        let (mut r, mut g, mut b, mut c) = (0u8, 0u8, 0u8, i);
        for j in 0..8 {
            r |= ((c & 1) as u8) << (7 - j);
            g |= (((c >> 1) & 1) as u8) << (7 - j);
            b |= (((c >> 2) & 1) as u8) << (7 - j);
            c >>= 3;
        }
        p.extend_from_slice(&[r, g, b]);
    }
    p
}

fn encode_indexed(idx: &[u8], w: u32, h: u32) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Indexed);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_palette(palette());
    enc.set_compression(png::Compression::Fast);
    let mut wr = enc.write_header().map_err(|e| e.to_string())?;
    wr.write_image_data(idx).map_err(|e| e.to_string())?;
    wr.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

/// Reads the raw indices of an 8-bit palette (or grayscale) PNG.
fn read_indexed(path: &Path) -> Result<(u32, u32, Vec<u8>)> {
    io::image_dimensions(path)?;
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut dec = png::Decoder::new(std::io::Cursor::new(bytes));
    dec.set_transformations(png::Transformations::IDENTITY);
    let mut rd = dec
        .read_info()
        .map_err(|e| Error::image(path, e.to_string()))?;
    let size = rd
        .output_buffer_size()
        .ok_or_else(|| Error::image(path, "image too large"))?;
    let mut buf = vec![0u8; size];
    let info = rd
        .next_frame(&mut buf)
        .map_err(|e| Error::image(path, e.to_string()))?;
    if info.bit_depth != png::BitDepth::Eight
        || !matches!(
            info.color_type,
            png::ColorType::Indexed | png::ColorType::Grayscale
        )
    {
        return Err(Error::image(
            path,
            format!(
                "a VOC PNG must be 8-bit palette or grayscale, found {:?} {:?}",
                info.color_type, info.bit_depth
            ),
        ));
    }
    let (w, h) = (info.width, info.height);
    let mut idx = Vec::with_capacity(w as usize * h as usize);
    for row in buf.chunks(info.line_size).take(h as usize) {
        idx.extend_from_slice(&row[..w as usize]);
    }
    Ok((w, h, idx))
}

/// The class map of an ontology: VOC index k = k-th active class.
fn class_map(ontology: &Ontology, origin: &Path) -> Result<ClassMap> {
    let classes: Vec<ClassEntry> = ontology
        .active_categories()
        .enumerate()
        .map(|(k, c)| ClassEntry {
            ontology_id: c.id,
            format_id: k as u32 + 1,
            name: c.name.clone(),
            isthing: c.isthing,
        })
        .collect();
    if classes.len() > 254 {
        return Err(Error::invalid(
            origin,
            "categories",
            format!(
                "VOC holds at most 254 classes, the ontology has {}",
                classes.len()
            ),
        ));
    }
    Ok(ClassMap {
        schema: classmap::CLASSMAP_SCHEMA.into(),
        format: "voc".into(),
        void: VoidEntry {
            ontology_id: VOID_ID,
            format_value: serde_json::json!(VOC_VOID),
        },
        classes,
    })
}

/// Writes documents as a VOC segmentation folder. Returns the number of images.
pub fn export_documents(
    docs: &[ImageDocument],
    ontology: &Ontology,
    folder: &Path,
) -> Result<usize> {
    classmap::validate_all(docs, ontology, folder)?;
    let cm = class_map(ontology, folder)?;
    let voc_of: HashMap<u32, u8> = cm
        .classes
        .iter()
        .map(|c| (c.ontology_id, c.format_id as u8))
        .collect();
    let mut stems = std::collections::HashSet::new();
    let mut sidecar = Vec::new();
    for d in docs {
        let stem = Path::new(&d.image.file_name)
            .with_extension("")
            .to_string_lossy()
            .replace('\\', "/");
        if !stems.insert(stem.clone()) {
            return Err(Error::invalid(
                folder,
                "images",
                format!("two images share the PNG stem {stem}"),
            ));
        }
        sidecar.push(stem);
    }
    let images: Vec<VocImage> = docs
        .par_iter()
        .zip(&sidecar)
        .map(|(d, stem)| {
            let map = d.resolve();
            let visible: Vec<u32> = map.stats().keys().copied().collect();
            if visible.len() > 254 {
                return Err(Error::invalid(
                    folder,
                    format!("{}.segments", d.image.file_name),
                    format!(
                        "VOC holds at most 254 instances per image, found {}",
                        visible.len()
                    ),
                ));
            }
            let inst: HashMap<u32, u8> = visible
                .iter()
                .enumerate()
                .map(|(k, &id)| (id, k as u8 + 1))
                .collect();
            let class: HashMap<u32, u8> = d
                .segments
                .iter()
                .map(|s| {
                    (
                        s.id,
                        voc_of.get(&s.category_id).copied().unwrap_or(VOC_VOID),
                    )
                })
                .collect();
            let (mut cls, mut obj) = (
                Vec::with_capacity(map.ids.len()),
                Vec::with_capacity(map.ids.len()),
            );
            for &id in &map.ids {
                cls.push(if id == 0 { VOC_VOID } else { class[&id] });
                obj.push(if id == 0 { VOC_VOID } else { inst[&id] });
            }
            for (sub, idx) in [("SegmentationClass", &cls), ("SegmentationObject", &obj)] {
                let path = folder.join(sub).join(format!("{stem}.png"));
                let png = encode_indexed(idx, map.width, map.height)
                    .map_err(|m| Error::image(&path, m))?;
                io::write_atomic(&path, &png)?;
            }
            Ok(VocImage {
                file_name: d.image.file_name.clone(),
                stem: stem.clone(),
                segment_ids: visible,
                crowd: d
                    .segments
                    .iter()
                    .filter(|s| s.iscrowd)
                    .map(|s| s.id)
                    .collect(),
            })
        })
        .collect::<Result<_>>()?;
    let list: String = sidecar.iter().map(|s| format!("{s}\n")).collect();
    io::write_atomic(
        &folder.join("ImageSets/Segmentation/all.txt"),
        list.as_bytes(),
    )?;
    cm.save(&classmap::path_for(folder, true))?;
    io::write_json_atomic(&folder.join(SIDECAR), &images)?;
    Ok(images.len())
}

/// A read VOC folder.
pub struct ImportedVoc {
    /// From `classmap.json`, else `class-<index>` per index seen.
    pub ontology: Ontology,
    /// One document per image.
    pub documents: Vec<ImageDocument>,
}

/// Reads a VOC segmentation folder (see the module docs).
pub fn read(folder: &Path) -> Result<ImportedVoc> {
    let cm_path = classmap::path_for(folder, true);
    let cm = cm_path
        .exists()
        .then(|| ClassMap::load(&cm_path))
        .transpose()?;
    let side_path = folder.join(SIDECAR);
    let images: Vec<VocImage> = if side_path.exists() {
        io::read_json(&side_path)?
    } else {
        let list = folder.join("ImageSets/Segmentation/all.txt");
        let stems: Vec<String> = if list.exists() {
            let t = std::fs::read_to_string(&list).map_err(|e| Error::io(&list, e))?;
            t.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect()
        } else {
            let dir = folder.join("SegmentationClass");
            let mut v: Vec<String> = std::fs::read_dir(&dir)
                .map_err(|e| Error::io(&dir, e))?
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let p = e.path();
                    let stem = p.file_stem()?.to_string_lossy().into_owned();
                    (p.extension()? == "png").then_some(stem)
                })
                .collect();
            v.sort();
            v
        };
        stems
            .into_iter()
            .map(|s| VocImage {
                file_name: format!("{s}.jpg"),
                stem: s,
                segment_ids: Vec::new(),
                crowd: Vec::new(),
            })
            .collect()
    };
    for (i, im) in images.iter().enumerate() {
        io::safe_relative_path(&im.stem, &side_path, &format!("[{i}].stem"))?;
        io::safe_relative_path(&im.file_name, &side_path, &format!("[{i}].file_name"))?;
    }
    let docs: Vec<Result<(ImageDocument, Vec<u8>)>> = images
        .par_iter()
        .map(|im| read_one(folder, im, cm.as_ref(), &cm_path))
        .collect();
    let mut documents = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for r in docs {
        let (d, idx) = r?;
        seen.extend(idx);
        documents.push(d);
    }
    let cats: Vec<CocoCategory> = match &cm {
        Some(m) => m.categories(),
        None => seen
            .iter()
            .map(|&v| classmap::category(u32::from(v), format!("class-{v}"), true))
            .collect(),
    };
    Ok(ImportedVoc {
        ontology: Ontology::from_coco(&cats, &cm_path)?,
        documents,
    })
}

/// Reads one image's two PNGs. Returns the document and the class indices used.
fn read_one(
    folder: &Path,
    im: &VocImage,
    cm: Option<&ClassMap>,
    cm_path: &Path,
) -> Result<(ImageDocument, Vec<u8>)> {
    let cls_path = folder
        .join("SegmentationClass")
        .join(format!("{}.png", im.stem));
    let obj_path = folder
        .join("SegmentationObject")
        .join(format!("{}.png", im.stem));
    let (w, h, cls) = read_indexed(&cls_path)?;
    let obj = if obj_path.exists() {
        let (w2, h2, o) = read_indexed(&obj_path)?;
        if (w2, h2) != (w, h) {
            return Err(Error::image(
                &obj_path,
                format!("size {w2}x{h2} differs from {w}x{h}"),
            ));
        }
        o
    } else {
        vec![0; cls.len()]
    };
    let ontology_of = |v: u8| -> Result<Option<u32>> {
        match cm {
            Some(m) => match m.ontology_id(u32::from(v)) {
                Some(id) => Ok(Some(id)),
                None if v == 0 || v == VOC_VOID => Ok(None),
                None => Err(Error::invalid(
                    &cls_path,
                    "(pixels)",
                    format!("palette index {v} has no class in {}", cm_path.display()),
                )),
            },
            None => Ok((v != 0 && v != VOC_VOID).then_some(u32::from(v))),
        }
    };
    // Resolve each class index present once (an unknown index is an error).
    let mut present = [false; 256];
    for &c in &cls {
        present[usize::from(c)] = true;
    }
    let mut table: [Option<u32>; 256] = [None; 256];
    for v in 0..=255u8 {
        if present[usize::from(v)] {
            table[usize::from(v)] = ontology_of(v)?;
        }
    }
    // Group pixels by (instance, class): instance 0/255 pixels group per class.
    let mut groups: BTreeMap<(u8, u8), Vec<usize>> = BTreeMap::new();
    let mut classes_by_inst: HashMap<u8, HashMap<u8, usize>> = HashMap::new();
    for (i, (&c, &o)) in cls.iter().zip(&obj).enumerate() {
        if table[usize::from(c)].is_none() {
            continue;
        }
        let inst = if o == 0 || o == VOC_VOID { 0 } else { o };
        groups
            .entry((inst, if inst == 0 { c } else { 0 }))
            .or_default()
            .push(i);
        if inst != 0 {
            *classes_by_inst
                .entry(inst)
                .or_default()
                .entry(c)
                .or_default() += 1;
        }
    }
    let mut d = ImageDocument::new(&im.file_name, w, h);
    d.status = ImageStatus::Done;
    let mut next_free = im.segment_ids.iter().copied().max().unwrap_or(0) + 1;
    let mut used = Vec::new();
    for ((inst, c), pixels) in groups {
        let class_idx = if inst == 0 {
            c
        } else {
            // The majority class under the instance (ties: lowest index).
            let counts = &classes_by_inst[&inst];
            let best = counts.values().copied().max().unwrap_or(0);
            *counts
                .iter()
                .filter(|&(_, &n)| n == best)
                .map(|(k, _)| k)
                .min()
                .unwrap_or(&0)
        };
        let Some(category) = table[usize::from(class_idx)] else {
            continue;
        };
        let id = match im.segment_ids.get(usize::from(inst).wrapping_sub(1)) {
            Some(&id) if inst != 0 => id,
            _ => {
                next_free += 1;
                next_free - 1
            }
        };
        let mut m = BitMask::new(w, h);
        for i in pixels {
            m.data[i] = 1;
        }
        let mut s = Segment::new(id, category, Geometry::from_mask(&m), Source::Import);
        s.iscrowd = im.crowd.contains(&id);
        d.segments.push(s);
        used.push(class_idx);
    }
    d.segments.sort_by_key(|s| s.id);
    Ok((d, used))
}
