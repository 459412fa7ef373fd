//! `qa compare`: a prediction (another annotator's project, a model's COCO panoptic
//! output) against the gold set, with every figure overall, per slice tag value, per
//! annotator, and per image (worst first).

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use rayon::prelude::*;
use serde::Serialize;

use super::LabelSet;
use super::metrics::{BOUNDARY_DILATION_RATIO, ClassTable, Counts, EvalOptions, ImagePair, Scores};
use crate::core::document::ImageDocument;
use crate::core::error::{Error, Result};

/// Slice value of images without the tag.
pub const UNTAGGED: &str = "(untagged)";
/// Annotator of images without a recorded edit.
pub const UNKNOWN_ANNOTATOR: &str = "(unknown)";
/// Colour of false-positive pixels in thumbnails (the prediction gives a class the gold
/// does not, on gold void or another class).
pub const FP_COLOR: [u8; 3] = [255, 140, 0];
/// Colour of false-negative pixels in thumbnails (gold labeled, prediction void).
pub const FN_COLOR: [u8; 3] = [0, 150, 255];

/// What to compute besides the figures.
#[derive(Debug, Clone, Default)]
pub struct CompareOptions {
    /// Tags to slice by (`scene`, `device`, ...): one table per tag.
    pub by: Vec<String>,
    /// How many of the worst images get a thumbnail (for the HTML report).
    pub thumbnails: usize,
}

/// Figures of one group of images (a slice value or an annotator).
#[derive(Debug, Clone, Serialize)]
pub struct GroupScores {
    /// The slice value or annotator name.
    pub name: String,
    /// Images in the group.
    pub images: usize,
    /// Every figure of the group.
    pub scores: Scores,
}

/// The groups of one slice tag.
#[derive(Debug, Clone, Serialize)]
pub struct SliceTable {
    /// The tag key.
    pub tag: String,
    /// One entry per value, by value.
    pub groups: Vec<GroupScores>,
}

/// Figures of one image.
#[derive(Debug, Clone, Serialize)]
pub struct ImageScores {
    /// Image file name (the gold document's).
    pub file_name: String,
    /// The prediction's annotator, when recorded.
    pub annotator: Option<String>,
    /// Slice tags (gold, then prediction for keys the gold lacks).
    pub tags: BTreeMap<String, String>,
    /// PQ over the classes present in the image (None: no segment on either side).
    pub pq: Option<f64>,
    /// SQ, same classes.
    pub sq: Option<f64>,
    /// RQ, same classes.
    pub rq: Option<f64>,
    /// Mean semantic IoU over the classes present.
    pub miou: Option<f64>,
    /// Mean Boundary IoU over the classes present.
    pub boundary_iou: Option<f64>,
    /// 1 - Boundary IoU.
    pub boundary_error: Option<f64>,
    /// The class with the lowest Boundary IoU in the image, and that IoU.
    pub worst_class: Option<(String, f64)>,
}

/// A worst image's thumbnail with the disagreement drawn on it.
#[derive(Debug, Clone)]
pub struct Thumbnail {
    /// Image file name.
    pub file_name: String,
    /// PNG bytes, base64.
    pub png_base64: String,
    /// True when drawn over the image, false when over the gold label map.
    pub over_image: bool,
}

/// How much of one slice value the gold set covers.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CoverageRow {
    /// The slice value (`(untagged)` when missing).
    pub value: String,
    /// Images of the gold label set with this value.
    pub images: usize,
    /// Of those, gold images.
    pub gold: usize,
}

/// Gold coverage of one `--by` tag.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CoverageTable {
    /// The tag key.
    pub tag: String,
    /// One row per value, by value.
    pub rows: Vec<CoverageRow>,
}

/// Gold coverage per value of each tag over the gold label set's images, and a warning
/// per value that has images but no gold image (its scores would rest on nothing).
pub fn gold_coverage(gold: &LabelSet, by: &[String]) -> (Vec<CoverageTable>, Vec<String>) {
    let (gold_docs, _) = gold.gold_set();
    let is_gold: std::collections::HashSet<&str> = gold_docs
        .iter()
        .map(|d| d.image.file_name.as_str())
        .collect();
    let mut warnings = Vec::new();
    let tables = by
        .iter()
        .map(|tag| {
            let mut rows: BTreeMap<String, CoverageRow> = BTreeMap::new();
            for d in &gold.documents {
                let value = crate::core::qa::tags::slice_of(d, tag);
                let row = rows.entry(value.clone()).or_insert(CoverageRow {
                    value,
                    images: 0,
                    gold: 0,
                });
                row.images += 1;
                row.gold += usize::from(is_gold.contains(d.image.file_name.as_str()));
            }
            for r in rows.values().filter(|r| r.gold == 0) {
                warnings.push(format!(
                    "slice {tag}={} has {} image(s) and no gold image: mark some (`limner gold sample --by {tag}`)",
                    r.value, r.images
                ));
            }
            CoverageTable {
                tag: tag.clone(),
                rows: rows.into_values().collect(),
            }
        })
        .collect();
    (tables, warnings)
}

/// Everything `qa compare` found.
#[derive(Debug, Clone, Serialize)]
pub struct CompareReport {
    /// The gold label set.
    pub gold: String,
    /// The predicted label set.
    pub pred: String,
    /// How the gold set was chosen.
    pub gold_set: String,
    /// Images compared.
    pub images: usize,
    /// Gold images with no prediction (skipped).
    pub missing_in_pred: Vec<String>,
    /// Band width of Boundary IoU as a fraction of the image diagonal.
    pub boundary_dilation_ratio: f64,
    /// Every figure over all compared images.
    pub overall: Scores,
    /// One table per `--by` tag.
    pub slices: Vec<SliceTable>,
    /// Gold coverage per `--by` tag over the gold label set's images.
    pub gold_coverage: Vec<CoverageTable>,
    /// Slice values with images but no gold image.
    pub gold_warnings: Vec<String>,
    /// One entry per annotator of the prediction.
    pub annotators: Vec<GroupScores>,
    /// Per image, worst first (lowest PQ, then lowest mIoU, then largest boundary error).
    pub per_image: Vec<ImageScores>,
    /// Category colours by id, for plots.
    #[serde(skip)]
    pub colors: BTreeMap<u32, [u8; 3]>,
    /// Thumbnails of the worst images, in `per_image` order.
    #[serde(skip)]
    pub thumbnails: Vec<Thumbnail>,
}

/// Slice value of `tag` for an image pair: the gold document's, else the prediction's.
pub fn slice_value(gold: &ImageDocument, pred: &ImageDocument, tag: &str) -> String {
    gold.tags
        .get(tag)
        .or_else(|| pred.tags.get(tag))
        .cloned()
        .unwrap_or_else(|| UNTAGGED.into())
}

/// Pairs every gold document with its prediction by file name; returns the pairs and
/// the gold names with no prediction.
pub fn match_documents<'a>(
    gold: &[&'a ImageDocument],
    pred: &'a LabelSet,
) -> (Vec<(&'a ImageDocument, &'a ImageDocument)>, Vec<String>) {
    let index = pred.index();
    let mut pairs = Vec::new();
    let mut missing = Vec::new();
    for g in gold {
        match index.get(&g.image.file_name) {
            Some(p) => pairs.push((*g, p)),
            None => missing.push(g.image.file_name.clone()),
        }
    }
    (pairs, missing)
}

/// Evaluates image pairs in parallel (one [`Counts`] per pair, in order).
pub fn eval_pairs(
    pairs: &[(&ImageDocument, &ImageDocument)],
    gold: &LabelSet,
    pred: &LabelSet,
    table: &ClassTable,
    opts: EvalOptions,
) -> Result<Vec<Counts>> {
    pairs
        .par_iter()
        .map(|(g, p)| {
            let pair = ImagePair::new(
                g,
                p,
                table,
                &gold.document_origin(&g.image.file_name),
                &pred.document_origin(&p.image.file_name),
            )?;
            Ok(pair.eval(table.len(), opts))
        })
        .collect()
}

fn group_scores(table: &ClassTable, counts: &[Counts], keys: &[String]) -> Vec<GroupScores> {
    let mut groups: BTreeMap<&str, (usize, Counts)> = BTreeMap::new();
    for (k, c) in keys.iter().zip(counts) {
        let e = groups.entry(k).or_default();
        e.0 += 1;
        e.1.add(c);
    }
    groups
        .into_iter()
        .map(|(name, (images, c))| GroupScores {
            name: name.to_string(),
            images,
            scores: Scores::from_counts(table, &c),
        })
        .collect()
}

/// Compares `pred` against the gold set of `gold`.
pub fn compare(gold: &LabelSet, pred: &LabelSet, opts: &CompareOptions) -> Result<CompareReport> {
    let (gold_docs, gold_note) = gold.gold_set();
    if gold_docs.is_empty() {
        return Err(Error::invalid(
            &gold.origin,
            "annotations",
            "the gold set is empty (no annotated image)",
        ));
    }
    let (pairs, missing) = match_documents(&gold_docs, pred);
    if pairs.is_empty() {
        return Err(Error::invalid(
            &pred.origin,
            "images",
            format!(
                "no image of the gold set ({} images) is in the prediction",
                gold_docs.len()
            ),
        ));
    }
    let table = ClassTable::from_ontology(&gold.ontology);
    let counts = eval_pairs(&pairs, gold, pred, &table, EvalOptions { boundary: true })?;

    let mut overall = Counts::zeros(table.len());
    for c in &counts {
        overall.add(c);
    }
    let slices = opts
        .by
        .iter()
        .map(|tag| {
            let keys: Vec<String> = pairs.iter().map(|(g, p)| slice_value(g, p, tag)).collect();
            SliceTable {
                tag: tag.clone(),
                groups: group_scores(&table, &counts, &keys),
            }
        })
        .collect();
    let keys: Vec<String> = pairs
        .iter()
        .map(|(_, p)| p.annotator().unwrap_or(UNKNOWN_ANNOTATOR).to_string())
        .collect();
    let annotators = group_scores(&table, &counts, &keys);

    let mut per_image: Vec<(usize, ImageScores)> = pairs
        .iter()
        .zip(&counts)
        .enumerate()
        .map(|(i, ((g, p), c))| (i, image_scores(&table, g, p, c)))
        .collect();
    per_image.sort_by(|(_, a), (_, b)| {
        let key = |s: &ImageScores| {
            (
                s.pq.unwrap_or(1.0),
                s.miou.unwrap_or(1.0),
                -s.boundary_error.unwrap_or(0.0),
            )
        };
        let (ka, kb) = (key(a), key(b));
        ka.0.total_cmp(&kb.0)
            .then(ka.1.total_cmp(&kb.1))
            .then(ka.2.total_cmp(&kb.2))
            .then(a.file_name.cmp(&b.file_name))
    });

    let (gold_coverage, gold_warnings) = gold_coverage(gold, &opts.by);
    let images_dir = gold.images_dir.clone().or_else(|| pred.images_dir.clone());
    let thumbnails = per_image
        .iter()
        .take(opts.thumbnails)
        .collect::<Vec<_>>()
        .par_iter()
        .map(|(i, s)| {
            let (g, p) = pairs[*i];
            let pair = ImagePair::new(
                g,
                p,
                &table,
                &gold.document_origin(&g.image.file_name),
                &pred.document_origin(&p.image.file_name),
            )?;
            let image = images_dir
                .as_ref()
                .map(|d| d.join(&g.image.file_name))
                .filter(|f| f.is_file())
                .and_then(|f| crate::core::io::read_rgb_image(&f).ok())
                .filter(|im| im.dimensions() == (pair.width, pair.height));
            thumbnail(&pair, image.as_ref(), &table, &s.file_name)
        })
        .collect::<Result<Vec<_>>>()?;

    Ok(CompareReport {
        gold: gold.origin.display().to_string(),
        pred: pred.origin.display().to_string(),
        gold_set: gold_note,
        images: pairs.len(),
        missing_in_pred: missing,
        boundary_dilation_ratio: BOUNDARY_DILATION_RATIO,
        overall: Scores::from_counts(&table, &overall),
        slices,
        gold_coverage,
        gold_warnings,
        annotators,
        per_image: per_image.into_iter().map(|(_, s)| s).collect(),
        colors: table.classes.iter().map(|c| (c.id, c.color)).collect(),
        thumbnails,
    })
}

fn image_scores(
    table: &ClassTable,
    g: &ImageDocument,
    p: &ImageDocument,
    c: &Counts,
) -> ImageScores {
    let s = Scores::from_counts(table, c);
    let mut tags = p.tags.clone();
    tags.extend(g.tags.clone());
    let worst_class = s
        .classes
        .iter()
        .filter_map(|k| k.boundary_iou.map(|b| (k.name.clone(), b)))
        .min_by(|a, b| a.1.total_cmp(&b.1));
    ImageScores {
        file_name: g.image.file_name.clone(),
        annotator: p.annotator().map(str::to_string),
        tags,
        pq: s.all.pq,
        sq: s.all.sq,
        rq: s.all.rq,
        miou: s.miou,
        boundary_iou: s.boundary_iou,
        boundary_error: s.boundary_iou.map(|b| 1.0 - b),
        worst_class,
    }
}

/// Longest side of a thumbnail, in pixels.
pub const THUMBNAIL_SIDE: u32 = 360;

/// Draws the disagreement of a pair over the image (or the gold label map) at thumbnail
/// size: a thumbnail pixel takes the colour of the error that covers most of its block.
pub fn thumbnail(
    pair: &ImagePair,
    image: Option<&image::RgbImage>,
    table: &ClassTable,
    file_name: &str,
) -> Result<Thumbnail> {
    let (w, h) = (pair.width, pair.height);
    if w == 0 || h == 0 {
        return Err(Error::invalid(
            Path::new(file_name),
            "image.width",
            "the image has no pixels",
        ));
    }
    let scale = (f64::from(THUMBNAIL_SIDE) / f64::from(w.max(h))).min(1.0);
    let tw = ((f64::from(w) * scale).round() as u32).max(1);
    let th = ((f64::from(h) * scale).round() as u32).max(1);
    let code = pair.disagreement();
    let background =
        image.map(|im| image::imageops::resize(im, tw, th, image::imageops::FilterType::Triangle));
    let mut out = image::RgbImage::new(tw, th);
    for ty in 0..th {
        let y0 = (u64::from(ty) * u64::from(h) / u64::from(th)) as usize;
        let y1 = ((u64::from(ty + 1) * u64::from(h) / u64::from(th)) as usize).max(y0 + 1);
        for tx in 0..tw {
            let x0 = (u64::from(tx) * u64::from(w) / u64::from(tw)) as usize;
            let x1 = ((u64::from(tx + 1) * u64::from(w) / u64::from(tw)) as usize).max(x0 + 1);
            let (mut fp, mut fneg) = (0u32, 0u32);
            for y in y0..y1.min(h as usize) {
                let row = &code[y * w as usize..(y + 1) * w as usize];
                for &c in &row[x0..x1.min(w as usize)] {
                    match c {
                        1 => fp += 1,
                        2 => fneg += 1,
                        _ => {}
                    }
                }
            }
            let base = match &background {
                Some(bg) => bg.get_pixel(tx, ty).0,
                None => {
                    let c = pair.gold_cat_at(x0 as u32, y0 as u32);
                    if c == 0 {
                        [40, 40, 40]
                    } else {
                        let col = table.classes[c as usize - 1].color;
                        col.map(|v| (u16::from(v) * 3 / 5) as u8)
                    }
                }
            };
            let px = if fp + fneg == 0 {
                base
            } else {
                let col = if fp >= fneg { FP_COLOR } else { FN_COLOR };
                std::array::from_fn(|k| ((u16::from(base[k]) + 3 * u16::from(col[k])) / 4) as u8)
            };
            out.put_pixel(tx, ty, image::Rgb(px));
        }
    }
    let mut bytes = Vec::new();
    out.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .map_err(|e| Error::image(Path::new(file_name), e.to_string()))?;
    Ok(Thumbnail {
        file_name: file_name.to_string(),
        png_base64: base64::engine::general_purpose::STANDARD.encode(&bytes),
        over_image: image.is_some(),
    })
}
