//! Dataset formats. Every format reads into a [`Dataset`] (ontology + documents +
//! where the images are) and writes from one, so any input converts to any output.

pub mod classmap;
pub mod coco_instance;
pub mod coco_panoptic;
pub mod cvat;
pub mod export;
pub mod labelme;
pub mod roundtrip;
pub mod semantic_png;
pub mod topology;
pub mod voc;
pub mod yolo_seg;

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::document::ImageDocument;
use super::error::{Error, Result};
use super::fill_rule::FillRule;
use super::ontology::Ontology;
use super::project::Project;

/// Formats `limner convert` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A Limner project folder.
    Project,
    /// COCO panoptic JSON + PNG folder beside it.
    CocoPanoptic,
    /// COCO instance JSON (polygons, RLE, compressed RLE).
    CocoInstance,
    /// Folder of single-channel PNGs of ontology ids (16-bit when needed).
    SemanticPng,
    /// Pascal VOC SegmentationClass + SegmentationObject palette PNGs (255 = void).
    Voc,
    /// Ultralytics YOLO segmentation labels + data.yaml (holes joined by zero-width cuts).
    YoloSeg,
    /// CVAT for images 1.1 XML (polygons, masks in CVAT's RLE).
    Cvat,
    /// LabelMe JSON per image (polygon, rectangle, circle, mask shapes).
    Labelme,
}

impl Format {
    /// Every format, in the order the CLI and the export menu list them.
    pub const ALL: [Format; 8] = [
        Format::Project,
        Format::CocoPanoptic,
        Format::CocoInstance,
        Format::SemanticPng,
        Format::Voc,
        Format::YoloSeg,
        Format::Cvat,
        Format::Labelme,
    ];

    /// The name used on the command line (`coco-panoptic`, `yolo-seg`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Format::Project => "project",
            Format::CocoPanoptic => "coco-panoptic",
            Format::CocoInstance => "coco-instance",
            Format::SemanticPng => "semantic-png",
            Format::Voc => "voc",
            Format::YoloSeg => "yolo-seg",
            Format::Cvat => "cvat",
            Format::Labelme => "labelme",
        }
    }

    /// One line about the format, for `--help`.
    pub fn description(self) -> &'static str {
        match self {
            Format::Project => "A Limner project folder",
            Format::CocoPanoptic => "COCO panoptic JSON + PNG folder beside it",
            Format::CocoInstance => "COCO instance JSON (polygons, RLE, compressed RLE)",
            Format::SemanticPng => {
                "Folder of single-channel PNGs of ontology ids (16-bit when needed)"
            }
            Format::Voc => {
                "Pascal VOC SegmentationClass + SegmentationObject palette PNGs (255 = void)"
            }
            Format::YoloSeg => {
                "Ultralytics YOLO segmentation labels + data.yaml (holes joined by zero-width cuts)"
            }
            Format::Cvat => "CVAT for images 1.1 XML (polygons, masks in CVAT's RLE)",
            Format::Labelme => "LabelMe JSON per image (polygon, rectangle, circle, mask shapes)",
        }
    }

    /// Guesses the format of a dataset at `path`: a project, VOC, YOLO or semantic-PNG
    /// folder; a CVAT XML; a COCO JSON (panoptic when its PNG folder is beside it).
    pub fn guess(path: &Path) -> Format {
        if path.is_dir() {
            if path.join(super::project::SETTINGS_FILE).exists() {
                Format::Project
            } else if path.join("SegmentationClass").is_dir() {
                Format::Voc
            } else if path.join("data.yaml").is_file() {
                Format::YoloSeg
            } else {
                Format::SemanticPng
            }
        } else if path.extension().is_some_and(|e| e == "xml") {
            Format::Cvat
        } else if coco_panoptic::png_folder(path).is_dir() {
            Format::CocoPanoptic
        } else {
            Format::CocoInstance
        }
    }

    /// Where an export of this format goes inside a chosen `folder`: the JSON / XML file
    /// for single-file formats, the folder itself otherwise.
    pub fn output_in(self, folder: &Path) -> PathBuf {
        match self {
            Format::CocoPanoptic => folder.join("panoptic.json"),
            Format::CocoInstance => folder.join("instances.json"),
            Format::Cvat => folder.join("annotations.xml"),
            _ => folder.to_path_buf(),
        }
    }
}

/// Format-neutral dataset in memory.
pub struct Dataset {
    pub ontology: Ontology,
    pub documents: Vec<ImageDocument>,
    /// Folder the documents' `file_name`s are relative to.
    pub images_dir: PathBuf,
    pub name: String,
}

/// What a write did, for the user.
#[derive(Debug, Default)]
pub struct WriteReport {
    pub images: usize,
    pub segments: usize,
    pub warnings: Vec<String>,
    /// Pixels the format cannot express, per segment, under its usual reader's rule.
    pub inexpressible: Vec<yolo_seg::Inexpressible>,
}

/// Reads `input` in `format`. `images` overrides where the images are.
pub fn read(format: Format, input: &Path, images: Option<&Path>) -> Result<Dataset> {
    read_with(format, input, images, None)
}

/// The fill rule a format's polygons are read with by default: the rule of the tool
/// that writes and reads them (`None` for formats without polygons to fill).
pub fn default_fill_rule(format: Format) -> Option<FillRule> {
    match format {
        Format::YoloSeg => Some(FillRule::Opencv),
        Format::Labelme => Some(FillRule::Pil),
        Format::CocoInstance => Some(FillRule::Pycocotools),
        Format::Cvat => Some(FillRule::Limner),
        _ => None,
    }
}

/// The fill rules a format's reader can be asked for (`--fill-rule`, `--reader`).
pub fn fill_rules(format: Format) -> &'static [FillRule] {
    match format {
        Format::YoloSeg | Format::Labelme => &FillRule::ALL,
        Format::CocoInstance => &[FillRule::Pycocotools],
        Format::Cvat => &[FillRule::Limner],
        _ => &[],
    }
}

/// Like [`read`], with the polygons of `yolo-seg` and `labelme` filled by `fill`
/// instead of the format's default rule. Other formats refuse a rule they do not use.
pub fn read_with(
    format: Format,
    input: &Path,
    images: Option<&Path>,
    fill: Option<FillRule>,
) -> Result<Dataset> {
    if let Some(rule) = fill
        && !fill_rules(format).contains(&rule)
    {
        let fixed = match default_fill_rule(format) {
            Some(r) => format!("its polygons are always filled with the {} rule", r.name()),
            None => "it has no polygons to fill".to_string(),
        };
        return Err(Error::invalid(
            input,
            "fill rule",
            format!(
                "{} cannot be read with the {} rule: {fixed}",
                format.name(),
                rule.name()
            ),
        ));
    }
    match format {
        Format::Project => {
            if !input.join(super::project::SETTINGS_FILE).exists() {
                return Err(Error::invalid(
                    input,
                    super::project::SETTINGS_FILE,
                    "not a Limner project (no limner.json)",
                ));
            }
            let p = Project::open(input)?;
            let (names, _) = p.list_images()?;
            let mut by_name = p.load_all_documents()?;
            let mut documents: Vec<ImageDocument> = names
                .iter()
                .map(|n| {
                    by_name
                        .remove(n)
                        .map(Ok)
                        .unwrap_or_else(|| p.load_document(n))
                })
                .collect::<Result<_>>()?;
            documents.extend(by_name.into_values());
            Ok(Dataset {
                ontology: p.ontology.clone(),
                documents,
                images_dir: images
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| p.images_dir()),
                name: p.settings.name.clone(),
            })
        }
        Format::CocoPanoptic => {
            let d = coco_panoptic::read(input, None)?;
            let json_dir = input
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let images_dir = match images {
                Some(d) => d.to_path_buf(),
                None if json_dir.join("images").is_dir() => json_dir.join("images"),
                None => json_dir.to_path_buf(),
            };
            Ok(Dataset {
                ontology: d.ontology,
                documents: d.documents,
                images_dir,
                name: input
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            })
        }
        Format::Labelme => {
            let d = labelme::read(input, fill)?;
            Ok(Dataset {
                ontology: d.ontology,
                documents: d.documents,
                images_dir: images
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| input.to_path_buf()),
                name: stem_name(input),
            })
        }
        Format::Cvat => {
            let d = cvat::read(input)?;
            Ok(Dataset {
                ontology: d.ontology,
                documents: d.documents,
                images_dir: images_beside(input, images),
                name: stem_name(input),
            })
        }
        Format::YoloSeg => {
            let d = yolo_seg::read(input, images, fill)?;
            Ok(Dataset {
                ontology: d.ontology,
                documents: d.documents,
                images_dir: images
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| input.join("images")),
                name: stem_name(input),
            })
        }
        Format::Voc => {
            let d = voc::read(input)?;
            Ok(Dataset {
                ontology: d.ontology,
                documents: d.documents,
                images_dir: images
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| input.join("JPEGImages")),
                name: stem_name(input),
            })
        }
        Format::SemanticPng => {
            let d = semantic_png::read(input)?;
            Ok(Dataset {
                ontology: d.ontology,
                documents: d.documents,
                images_dir: images
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| input.to_path_buf()),
                name: stem_name(input),
            })
        }
        Format::CocoInstance => {
            let d = coco_instance::read(input)?;
            Ok(Dataset {
                ontology: d.ontology,
                documents: d.documents,
                images_dir: images_beside(input, images),
                name: stem_name(input),
            })
        }
    }
}

/// The images folder of a dataset file: `images` override, else `images/` beside the
/// file when present, else the file's folder.
fn images_beside(input: &Path, images: Option<&Path>) -> PathBuf {
    let dir = input
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match images {
        Some(d) => d.to_path_buf(),
        None if dir.join("images").is_dir() => dir.join("images"),
        None => dir.to_path_buf(),
    }
}

/// A dataset's name: the input's file stem.
fn stem_name(input: &Path) -> String {
    input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Writes `data` as `format` at `output`, directly: commands use [`export::export`],
/// which stages this write and refuses to replace inputs and other people's files.
pub fn write(format: Format, data: Dataset, output: &Path) -> Result<WriteReport> {
    match format {
        Format::Project => {
            std::fs::create_dir_all(output).map_err(|e| Error::io(output, e))?;
            let images_abs = data
                .images_dir
                .canonicalize()
                .map_err(|e| Error::io(&data.images_dir, e))?;
            let out_abs = output.canonicalize().map_err(|e| Error::io(output, e))?;
            let rel = pathdiff::diff_paths(&images_abs, &out_abs).unwrap_or(images_abs);
            let rel = match rel.to_string_lossy().replace('\\', "/") {
                s if s.is_empty() => ".".to_string(),
                s => s,
            };
            let project = Project::create(output, &data.name, &rel, data.ontology)?;
            data.documents
                .par_iter()
                .map(|d| project.save_document(d))
                .collect::<Result<Vec<()>>>()?;
            Ok(WriteReport {
                images: data.documents.len(),
                segments: data.documents.iter().map(|d| d.segments.len()).sum(),
                warnings: Vec::new(),
                inexpressible: Vec::new(),
            })
        }
        Format::CocoPanoptic => {
            let r = coco_panoptic::export_documents(data.documents, &data.ontology, output)?;
            Ok(WriteReport {
                images: r.images,
                segments: r.segments,
                warnings: r.warnings,
                inexpressible: Vec::new(),
            })
        }
        Format::Labelme => {
            let n = labelme::export_documents(&data.documents, &data.ontology, output)?;
            Ok(WriteReport {
                images: data.documents.len(),
                segments: n,
                warnings: Vec::new(),
                inexpressible: Vec::new(),
            })
        }
        Format::Cvat => {
            let n = cvat::export_documents(&data.documents, &data.ontology, output)?;
            Ok(WriteReport {
                images: data.documents.len(),
                segments: n,
                warnings: Vec::new(),
                inexpressible: Vec::new(),
            })
        }
        Format::YoloSeg => {
            let r = yolo_seg::export_documents(&data.documents, &data.ontology, output)?;
            let mut warnings = Vec::new();
            if r.bridged_holes + r.bridged_parts > 0 {
                warnings.push(format!(
                    "yolo-seg: {} hole(s) and {} extra part(s) joined to their instance by paths walked there and back",
                    r.bridged_holes, r.bridged_parts
                ));
            }
            let mut worst: Vec<&yolo_seg::Inexpressible> = r.inexpressible.iter().collect();
            worst.sort_by_key(|x| std::cmp::Reverse(x.pixels));
            if worst.len() > 20 {
                warnings.push(format!(
                    "yolo-seg: {} segment(s), {} pixel(s) in all, cannot be expressed by one polygon under OpenCV's fill; the worst 20:",
                    worst.len(),
                    worst.iter().map(|x| x.pixels).sum::<u64>()
                ));
            }
            for x in worst.iter().take(20) {
                warnings.push(format!(
                    "yolo-seg: {} segment {}: {} pixel(s) cannot be expressed by one polygon under OpenCV's fill (the paths joining its separate parts)",
                    x.image, x.segment, x.pixels
                ));
            }
            Ok(WriteReport {
                images: r.images,
                segments: r.segments,
                warnings,
                inexpressible: r.inexpressible,
            })
        }
        Format::Voc => {
            let n = voc::export_documents(&data.documents, &data.ontology, output)?;
            Ok(WriteReport {
                images: n,
                segments: data
                    .documents
                    .iter()
                    .map(|d| d.resolve().stats().len())
                    .sum(),
                warnings: Vec::new(),
                inexpressible: Vec::new(),
            })
        }
        Format::SemanticPng => {
            let r = semantic_png::export_documents(&data.documents, &data.ontology, output)?;
            Ok(WriteReport {
                images: r.images,
                segments: 0,
                warnings: vec![format!(
                    "semantic-png keeps classes only: instances, segment ids and iscrowd are merged ({}-bit PNGs)",
                    r.bits
                )],
                inexpressible: Vec::new(),
            })
        }
        Format::CocoInstance => {
            let r = coco_instance::export_documents(data.documents, &data.ontology, output)?;
            Ok(WriteReport {
                images: r.images,
                segments: r.segments,
                warnings: r.warnings,
                inexpressible: Vec::new(),
            })
        }
    }
}
