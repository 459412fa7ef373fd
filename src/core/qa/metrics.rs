//! Per-image evaluation of a prediction against a gold document: panoptic matching
//! (hotcoco's port of panopticapi's `pq_compute_single_core`), the semantic pixel
//! confusion behind mIoU, and Boundary IoU (Cheng et al., CVPR 2021).
//!
//! Every figure is built from additive [`Counts`], so a slice, an annotator or the whole
//! set is scored by summing its images' counts and reading [`Scores`] off the sum, exactly
//! as panopticapi sums `PQStat` over images before averaging.
//!
//! **Conventions.** Category id 0 is void. Gold void pixels are ignored by mIoU and by
//! Boundary IoU (as panopticapi and the usual semantic protocols ignore them); a
//! predicted void pixel on a labeled gold pixel is a miss for the gold class.
//!
//! **Boundary IoU.** For a class mask `M`, its boundary band is `M` minus its erosion by
//! the L∞ ball of radius `d` (a `(2d+1)²` square, what `cv2.erode` with a 3×3 kernel and
//! `d` iterations does), with everything outside the image counted as background, as the
//! authors' `mask_to_boundary` pads the mask with one row of zeros. `d` is 2 % of the
//! image diagonal rounded half to even (Python's `round`), at least 1. Boundary IoU of a
//! class is `|Gb ∩ Pb| / |Gb ∪ Pb|` over the bands of the gold and predicted semantic
//! masks; over several images the intersections and unions are summed.

use std::collections::HashMap;
use std::path::Path;

use hotcoco::metrics::panoptic::{PqCounts, pq_average};
use hotcoco::primitives::panoptic::{Overlaps, Segment as PqSegment, VOID, match_segments};
use serde::Serialize;

use crate::core::document::{Geometry, ImageDocument, Segment};
use crate::core::error::{Error, Result};
use crate::core::geometry::{check_rle_size, scan_polygons};
use crate::core::ontology::Ontology;

/// Fraction of the image diagonal used as the boundary band width.
pub const BOUNDARY_DILATION_RATIO: f64 = 0.02;

/// One scored category.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassInfo {
    /// Ontology id.
    pub id: u32,
    /// Display name.
    pub name: String,
    /// Thing (countable) or stuff.
    pub isthing: bool,
    /// Colour used in reports, `#rrggbb`.
    pub color: [u8; 3],
}

/// The categories a comparison scores (the gold side's active categories, as
/// panopticapi scores the ground truth's `categories`), with a dense index.
#[derive(Debug, Clone)]
pub struct ClassTable {
    /// Categories in id order; [`Counts`] vectors are indexed like this.
    pub classes: Vec<ClassInfo>,
    index: HashMap<u32, usize>,
}

impl ClassTable {
    /// The active categories of `ontology`, in id order.
    pub fn from_ontology(ontology: &Ontology) -> ClassTable {
        let mut classes: Vec<ClassInfo> = ontology
            .active_categories()
            .map(|c| ClassInfo {
                id: c.id,
                name: c.name.clone(),
                isthing: c.isthing,
                color: c.color.0,
            })
            .collect();
        classes.sort_by_key(|c| c.id);
        let index = classes.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
        ClassTable { classes, index }
    }

    /// Dense index of category `id`.
    pub fn index(&self, id: u32) -> Option<usize> {
        self.index.get(&id).copied()
    }

    /// Number of categories.
    pub fn len(&self) -> usize {
        self.classes.len()
    }

    /// True when there are no categories.
    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }

    /// The category named `name` (exact match), or with id `name` when it is a number.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.classes
            .iter()
            .position(|c| c.name == name)
            .or_else(|| name.parse::<u32>().ok().and_then(|id| self.index(id)))
    }
}

/// Additive per-class counts of one image or of a sum of images.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    /// Panoptic match counts per class (panopticapi's `PQStatCat`).
    pub pq: Vec<PqCounts>,
    /// Pixels where gold and prediction agree on the class.
    pub sem_tp: Vec<u64>,
    /// Gold pixels of the class.
    pub sem_gold: Vec<u64>,
    /// Predicted pixels of the class on labeled (non-void) gold pixels.
    pub sem_pred: Vec<u64>,
    /// Boundary band intersection per class.
    pub b_inter: Vec<u64>,
    /// Boundary band union per class.
    pub b_union: Vec<u64>,
}

impl Counts {
    /// Zero counts for `n` classes.
    pub fn zeros(n: usize) -> Counts {
        Counts {
            pq: vec![PqCounts::default(); n],
            sem_tp: vec![0; n],
            sem_gold: vec![0; n],
            sem_pred: vec![0; n],
            b_inter: vec![0; n],
            b_union: vec![0; n],
        }
    }

    /// Adds another image's counts (same class table).
    pub fn add(&mut self, o: &Counts) {
        if self.pq.is_empty() {
            *self = o.clone();
            return;
        }
        for (a, b) in self.pq.iter_mut().zip(&o.pq) {
            a.add(b);
        }
        let add = |a: &mut Vec<u64>, b: &Vec<u64>| {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        };
        add(&mut self.sem_tp, &o.sem_tp);
        add(&mut self.sem_gold, &o.sem_gold);
        add(&mut self.sem_pred, &o.sem_pred);
        add(&mut self.b_inter, &o.b_inter);
        add(&mut self.b_union, &o.b_union);
    }

    /// Semantic IoU of class `c`, None when neither side has it.
    pub fn iou(&self, c: usize) -> Option<f64> {
        let union = self.sem_gold[c] + self.sem_pred[c] - self.sem_tp[c];
        (union > 0).then(|| self.sem_tp[c] as f64 / union as f64)
    }

    /// Boundary IoU of class `c`, None when neither side has a band of it.
    pub fn boundary_iou(&self, c: usize) -> Option<f64> {
        (self.b_union[c] > 0).then(|| self.b_inter[c] as f64 / self.b_union[c] as f64)
    }
}

/// PQ, SQ, RQ of a set of categories and how many were averaged (`None` when none).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PqSplit {
    /// Panoptic quality.
    pub pq: Option<f64>,
    /// Segmentation quality.
    pub sq: Option<f64>,
    /// Recognition quality.
    pub rq: Option<f64>,
    /// Categories with at least one segment on either side.
    pub n: usize,
}

/// Every figure of one class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassScores {
    /// Ontology id.
    pub id: u32,
    /// Name.
    pub name: String,
    /// Thing or stuff.
    pub isthing: bool,
    /// Panoptic quality (None: no segment of the class on either side).
    pub pq: Option<f64>,
    /// Segmentation quality.
    pub sq: Option<f64>,
    /// Recognition quality.
    pub rq: Option<f64>,
    /// Matched segments.
    pub tp: u64,
    /// Unmatched predicted segments.
    pub fp: u64,
    /// Unmatched gold segments.
    #[serde(rename = "fn")]
    pub fn_: u64,
    /// Semantic IoU.
    pub iou: Option<f64>,
    /// Boundary IoU.
    pub boundary_iou: Option<f64>,
}

/// Every figure of a set of images.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scores {
    /// PQ over every category.
    pub all: PqSplit,
    /// PQ over things.
    pub things: PqSplit,
    /// PQ over stuff.
    pub stuff: PqSplit,
    /// Mean semantic IoU over the classes present on either side.
    pub miou: Option<f64>,
    /// Mean Boundary IoU over the classes with a band on either side.
    pub boundary_iou: Option<f64>,
    /// Classes that appear on either side, in id order.
    pub classes: Vec<ClassScores>,
}

fn split(table: &ClassTable, counts: &Counts, want: Option<bool>) -> PqSplit {
    let (s, n) = pq_average(
        table
            .classes
            .iter()
            .zip(&counts.pq)
            .filter(|(c, _)| want.is_none_or(|t| c.isthing == t))
            .map(|(_, p)| p),
    );
    let some = |v: f64| (n > 0).then_some(v);
    PqSplit {
        pq: some(s.pq),
        sq: some(s.sq),
        rq: some(s.rq),
        n,
    }
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (mut sum, mut n) = (0.0, 0usize);
    for v in values {
        sum += v;
        n += 1;
    }
    (n > 0).then(|| sum / n as f64)
}

impl Scores {
    /// Reads every figure off summed counts.
    pub fn from_counts(table: &ClassTable, counts: &Counts) -> Scores {
        let n = table.len();
        let mut classes = Vec::new();
        for (c, info) in table.classes.iter().enumerate() {
            let pq = counts.pq.get(c).copied().unwrap_or_default();
            let s = pq.scores();
            let iou = counts.iou(c);
            let biou = counts.boundary_iou(c);
            if s.is_none() && iou.is_none() && biou.is_none() {
                continue;
            }
            classes.push(ClassScores {
                id: info.id,
                name: info.name.clone(),
                isthing: info.isthing,
                pq: s.map(|s| s.pq),
                sq: s.map(|s| s.sq),
                rq: s.map(|s| s.rq),
                tp: pq.tp,
                fp: pq.fp,
                fn_: pq.fn_,
                iou,
                boundary_iou: biou,
            });
        }
        Scores {
            all: split(table, counts, None),
            things: split(table, counts, Some(true)),
            stuff: split(table, counts, Some(false)),
            miou: mean((0..n).filter_map(|c| counts.iou(c))),
            boundary_iou: mean((0..n).filter_map(|c| counts.boundary_iou(c))),
            classes,
        }
    }
}

/// What to compute for an image pair.
#[derive(Debug, Clone, Copy)]
pub struct EvalOptions {
    /// Compute Boundary IoU (the costliest part; agreement matrices skip it).
    pub boundary: bool,
}

/// Boundary band width `d` for an image: 2 % of the diagonal, rounded half to even
/// (as Python's `round` in the authors' code), at least 1.
pub fn boundary_width(width: u32, height: u32) -> usize {
    let diag = (f64::from(width).powi(2) + f64::from(height).powi(2)).sqrt();
    ((BOUNDARY_DILATION_RATIO * diag).round_ties_even() as usize).max(1)
}

/// Marks the pixels whose `(2d+1)²` window lies inside the image and holds only their
/// own value: the erosion of every value's mask at once (outside the image counts as a
/// different value). `values` is row-major, `w` × `h`.
pub fn interior(values: &[u16], w: usize, h: usize, d: usize) -> Vec<bool> {
    const NONE: u16 = u16::MAX;
    let mut out = vec![false; values.len()];
    if w == 0 || h == 0 || 2 * d + 1 > w || 2 * d + 1 > h {
        return out;
    }
    // Rows: key = value where the horizontal window [x-d, x+d] is inside the row's run.
    let mut key = vec![NONE; values.len()];
    for (row, krow) in values.chunks_exact(w).zip(key.chunks_exact_mut(w)) {
        let mut a = 0;
        while a < w {
            let v = row[a];
            let mut b = a + 1;
            while b < w && row[b] == v {
                b += 1;
            }
            // x with x - d >= a and x + d <= b - 1.
            if b - a > 2 * d && v != NONE {
                krow[a + d..b - d].fill(v);
            }
            a = b;
        }
    }
    // Columns: runs of equal keys; up = equal keys directly above (capped at d).
    let mut up = vec![0u16; values.len()];
    let cap = d as u16;
    // Zipped slices (no bounds checks, no branches) so that these passes vectorize.
    for y in 1..h {
        let (done, rest) = up.split_at_mut(y * w);
        let above = &done[(y - 1) * w..];
        let (kprev, kcur) = (&key[(y - 1) * w..y * w], &key[y * w..(y + 1) * w]);
        for (((c, &a), &kp), &kc) in rest[..w].iter_mut().zip(above).zip(kprev).zip(kcur) {
            let same = u16::from((kc != NONE) & (kc == kp));
            *c = (a + 1).min(cap) * same;
        }
    }
    let mut down = vec![0u16; w];
    for y in (0..h).rev() {
        let kcur = &key[y * w..(y + 1) * w];
        if y + 1 < h {
            let knext = &key[(y + 1) * w..(y + 2) * w];
            for ((dn, &kc), &kn) in down.iter_mut().zip(kcur).zip(knext) {
                let same = u16::from((kc != NONE) & (kc == kn));
                *dn = (*dn + 1).min(cap) * same;
            }
        }
        let urow = &up[y * w..(y + 1) * w];
        for (((o, &kc), &u), &dn) in out[y * w..(y + 1) * w]
            .iter_mut()
            .zip(kcur)
            .zip(urow)
            .zip(down.iter())
        {
            *o = (kc != NONE) & (u >= cap) & (dn >= cap);
        }
    }
    out
}

/// Resolves a document into column-major segment ids and category codes (class index
/// plus one, 0 void; pixel (x, y) at `x * height + y`), by the document's overlap rule:
/// ascending `(z, id)`, later paints win. Same result as [`ImageDocument::resolve`]
/// transposed, without its row-major scatter of column-major RLE runs.
fn resolve_column_major(doc: &ImageDocument, cats: &HashMap<u32, u16>) -> (Vec<u32>, Vec<u16>) {
    let (w, h) = (doc.image.width, doc.image.height);
    let hu = h as usize;
    let n = w as usize * hu;
    let mut ids = vec![0u32; n];
    let mut cat = vec![0u16; n];
    let mut order: Vec<&Segment> = doc.segments.iter().collect();
    order.sort_by_key(|s| (s.z, s.id));
    for s in order {
        let c = cats.get(&s.id).copied().unwrap_or(0);
        match &s.geometry {
            Geometry::Polygons { polygons } => scan_polygons(polygons, w, h, |r, x0, x1| {
                for x in x0..x1 {
                    let i = x as usize * hu + r as usize;
                    ids[i] = s.id;
                    cat[i] = c;
                }
            }),
            Geometry::Rle { counts } => {
                if let Ok(rle) = hotcoco::mask::rle_from_string(counts, h, w)
                    && check_rle_size(&rle.counts, w, h).is_ok()
                {
                    let mut pos = 0usize;
                    for (k, &len) in rle.counts.iter().enumerate() {
                        let len = len as usize;
                        if k % 2 == 1 {
                            ids[pos..pos + len].fill(s.id);
                            cat[pos..pos + len].fill(c);
                        }
                        pos += len;
                    }
                }
            }
        }
    }
    (ids, cat)
}

/// The gold and predicted labels of one image, resolved: segment ids and category
/// codes (class index + 1, 0 void), column-major (pixel (x, y) at `x * height + y`;
/// every figure here is independent of pixel order or symmetric under transposition).
pub struct ImagePair {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Gold segment ids, column-major.
    pub gold_ids: Vec<u32>,
    /// Predicted segment ids, column-major.
    pub pred_ids: Vec<u32>,
    /// Gold category codes, column-major.
    pub gold_cats: Vec<u16>,
    /// Predicted category codes, column-major.
    pub pred_cats: Vec<u16>,
    gold_lut: HashMap<u32, (usize, bool)>,
    pred_lut: HashMap<u32, usize>,
}

impl ImagePair {
    /// Resolves both documents and maps their categories into `table`. Errors name
    /// `pred_origin` (or `gold_origin`) and the field at fault.
    pub fn new(
        gold: &ImageDocument,
        pred: &ImageDocument,
        table: &ClassTable,
        gold_origin: &Path,
        pred_origin: &Path,
    ) -> Result<ImagePair> {
        if (gold.image.width, gold.image.height) != (pred.image.width, pred.image.height) {
            return Err(Error::invalid(
                pred_origin,
                format!("{}: image.width", pred.image.file_name),
                format!(
                    "prediction is {}x{} but the gold image is {}x{}",
                    pred.image.width, pred.image.height, gold.image.width, gold.image.height
                ),
            ));
        }
        if table.len() >= usize::from(u16::MAX) {
            return Err(Error::invalid(
                gold_origin,
                "categories",
                format!("{} categories; at most 65534 can be scored", table.len()),
            ));
        }
        let mut gold_lut = HashMap::new();
        for s in &gold.segments {
            let c = table.index(s.category_id).ok_or_else(|| {
                Error::invalid(
                    gold_origin,
                    format!("{}: segment {}: category_id", gold.image.file_name, s.id),
                    format!("category id {} is not an active category", s.category_id),
                )
            })?;
            gold_lut.insert(s.id, (c, s.iscrowd));
        }
        let mut pred_lut = HashMap::new();
        for s in &pred.segments {
            let c = table.index(s.category_id).ok_or_else(|| {
                Error::invalid(
                    pred_origin,
                    format!("{}: segment {}: category_id", pred.image.file_name, s.id),
                    format!(
                        "category id {} is not a category of the gold set",
                        s.category_id
                    ),
                )
            })?;
            pred_lut.insert(s.id, c);
        }
        let code = |c: usize| c as u16 + 1;
        let gcodes = gold_lut
            .iter()
            .map(|(&id, &(c, _))| (id, code(c)))
            .collect();
        let pcodes = pred_lut.iter().map(|(&id, &c)| (id, code(c))).collect();
        let ((gold_ids, gold_cats), (pred_ids, pred_cats)) = (
            resolve_column_major(gold, &gcodes),
            resolve_column_major(pred, &pcodes),
        );
        Ok(ImagePair {
            width: gold.image.width,
            height: gold.image.height,
            gold_ids,
            pred_ids,
            gold_cats,
            pred_cats,
            gold_lut,
            pred_lut,
        })
    }

    /// Evaluates the pair into per-class counts.
    pub fn eval(&self, n_classes: usize, opts: EvalOptions) -> Counts {
        let mut counts = Counts::zeros(n_classes);
        let overlaps = Overlaps::compute(&self.gold_ids, &self.pred_ids);
        // Panoptic matching, exactly as hotcoco's PanopticEval does per image.
        let gt_segments: Vec<PqSegment> = overlaps
            .gt_areas()
            .into_iter()
            .filter_map(|(label, area)| {
                let &(c, crowd) = self.gold_lut.get(&label)?;
                Some(PqSegment {
                    label,
                    category_id: c as u64,
                    area,
                    iscrowd: crowd,
                })
            })
            .collect();
        let pred_segments: Vec<PqSegment> = overlaps
            .pred_areas()
            .into_iter()
            .filter(|&(label, _)| label != VOID)
            .filter_map(|(label, area)| {
                let &c = self.pred_lut.get(&label)?;
                Some(PqSegment {
                    label,
                    category_id: c as u64,
                    area,
                    iscrowd: false,
                })
            })
            .collect();
        let m = match_segments(&gt_segments, &pred_segments, &overlaps);
        for (gi, _, iou) in m.matched {
            let c = &mut counts.pq[gt_segments[gi].category_id as usize];
            c.tp += 1;
            c.iou += iou;
        }
        for gi in m.missed {
            counts.pq[gt_segments[gi].category_id as usize].fn_ += 1;
        }
        for pi in m.false_positives {
            counts.pq[pred_segments[pi].category_id as usize].fp += 1;
        }
        // Semantic confusion read off the same histogram.
        for (g, p, n) in overlaps.iter() {
            let Some(&(gc, _)) = self.gold_lut.get(&g) else {
                continue; // gold void (or an unlisted id): ignored
            };
            counts.sem_gold[gc] += n;
            if let Some(&pc) = self.pred_lut.get(&p) {
                counts.sem_pred[pc] += n;
                if pc == gc {
                    counts.sem_tp[gc] += n;
                }
            }
        }
        if opts.boundary {
            let d = boundary_width(self.width, self.height);
            // Column-major: "rows" are image columns, `height` long.
            boundary_counts(
                &self.gold_cats,
                &self.pred_cats,
                self.height as usize,
                self.width as usize,
                d,
                &mut counts,
            );
        }
        counts
    }

    /// Gold category code (class index + 1, 0 void) at (x, y).
    pub fn gold_cat_at(&self, x: u32, y: u32) -> u16 {
        self.gold_cats[x as usize * self.height as usize + y as usize]
    }

    /// Per pixel, row-major: 0 agreement, 1 false positive (the prediction gives a class
    /// the gold does not: gold void or another class), 2 false negative (gold labeled,
    /// prediction void), by `core::disagreement::classify`, with wrong-class
    /// pixels drawn as false positives.
    pub fn disagreement(&self) -> Vec<u8> {
        let (w, h) = (self.width as usize, self.height as usize);
        let mut out = vec![0u8; w * h];
        for x in 0..w {
            let (g, p) = (
                &self.gold_cats[x * h..(x + 1) * h],
                &self.pred_cats[x * h..(x + 1) * h],
            );
            for y in 0..h {
                use crate::core::disagreement::{PixelDiff, classify};
                out[y * w + x] = match classify(u32::from(g[y]), u32::from(p[y])) {
                    PixelDiff::Agree => 0,
                    PixelDiff::FalseNegative => 2,
                    PixelDiff::FalsePositive | PixelDiff::WrongClass => 1,
                };
            }
        }
        out
    }
}

/// Adds the Boundary IoU counts of two category maps (class index + 1, 0 void) of
/// `rows` rows of `row_len` pixels, band width `d`.
pub fn boundary_counts(
    gcat: &[u16],
    pcat: &[u16],
    row_len: usize,
    rows: usize,
    d: usize,
    counts: &mut Counts,
) {
    let gi = interior(gcat, row_len, rows, d);
    let pi = interior(pcat, row_len, rows, d);
    for (((&g, &p), &g_in), &p_in) in gcat.iter().zip(pcat).zip(&gi).zip(&pi) {
        // Gold void is ignored; most pixels are inside on both sides.
        if g == 0 || (g_in && (p_in || p == 0)) {
            continue;
        }
        let gb = !g_in;
        let pb = p != 0 && !p_in;
        if gb && pb && g == p {
            counts.b_inter[g as usize - 1] += 1;
            counts.b_union[g as usize - 1] += 1;
        } else {
            if gb {
                counts.b_union[g as usize - 1] += 1;
            }
            if pb {
                counts.b_union[p as usize - 1] += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imageproc::distance_transform::Norm;

    /// Reference band via imageproc: pad with one ring of zeros, erode by the L∞ ball of
    /// radius d, crop, band = mask and not eroded.
    fn band_imageproc(mask: &[bool], w: usize, h: usize, d: u8) -> Vec<bool> {
        let padded = image::GrayImage::from_fn(w as u32 + 2, h as u32 + 2, |x, y| {
            let (x, y) = (x as i64 - 1, y as i64 - 1);
            let inside = x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h;
            image::Luma([if inside && mask[y as usize * w + x as usize] {
                255
            } else {
                0
            }])
        });
        let eroded = imageproc::morphology::erode(&padded, Norm::LInf, d);
        (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                mask[i] && eroded.get_pixel(x as u32 + 1, y as u32 + 1)[0] == 0
            })
            .collect()
    }

    #[test]
    fn interior_matches_imageproc_erosion_per_class() {
        // A pseudo-random map of blocky regions of 4 values, several radii.
        let (w, h) = (37usize, 29usize);
        let mut s = 12345u32;
        let mut vals = vec![0u16; w * h];
        for by in 0..h.div_ceil(5) {
            for bx in 0..w.div_ceil(7) {
                s = s.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let v = ((s >> 16) % 4) as u16;
                for y in by * 5..((by + 1) * 5).min(h) {
                    for x in bx * 7..((bx + 1) * 7).min(w) {
                        vals[y * w + x] = v;
                    }
                }
            }
        }
        // Some single-pixel noise.
        for k in 0..40 {
            vals[(k * 97) % (w * h)] = 3 - vals[(k * 97) % (w * h)] % 4;
        }
        for d in [1usize, 2, 3, 5] {
            let inner = interior(&vals, w, h, d);
            for v in 0..4 {
                let mask: Vec<bool> = vals.iter().map(|&x| x == v).collect();
                let reference = band_imageproc(&mask, w, h, d as u8);
                let ours: Vec<bool> = (0..w * h).map(|i| mask[i] && !inner[i]).collect();
                assert_eq!(ours, reference, "value {v}, d {d}");
            }
        }
    }

    #[test]
    fn column_major_resolution_is_the_document_rule_transposed() {
        use crate::core::document::Source;
        use crate::core::geometry::{BitMask, PolygonWithHoles};
        let (w, h) = (13u32, 9u32);
        let mut d = ImageDocument::new("a.png", w, h);
        let poly = |x0: f64, y0: f64, x1: f64, y1: f64| Geometry::Polygons {
            polygons: vec![PolygonWithHoles {
                outer: vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]],
                holes: vec![],
            }],
        };
        let mut m = BitMask::new(w, h);
        for y in 2..8 {
            for x in (y % 3)..11 {
                m.set(x, y, true);
            }
        }
        d.segments = vec![
            Segment::new(1, 1, poly(0.0, 0.0, 7.0, 9.0), Source::Polygon),
            Segment::new(2, 2, Geometry::from_mask(&m), Source::Brush),
            Segment::new(3, 1, poly(5.5, 1.2, 12.0, 4.7), Source::Polygon),
        ];
        d.segments[2].z = -1; // under segment 2 where they overlap
        let cats: HashMap<u32, u16> = [(1, 1), (2, 2), (3, 1)].into_iter().collect();
        let (ids, cat) = resolve_column_major(&d, &cats);
        let map = d.resolve();
        for y in 0..h {
            for x in 0..w {
                let i = (x * h + y) as usize;
                assert_eq!(ids[i], map.at(x, y), "({x}, {y})");
                assert_eq!(cat[i], cats.get(&ids[i]).copied().unwrap_or(0));
            }
        }
    }

    #[test]
    fn boundary_width_follows_the_paper() {
        // 1920x1080: diagonal 2202.9, 2 % = 44.06 -> 44.
        assert_eq!(boundary_width(1920, 1080), 44);
        // 10x10: diagonal 14.14, 2 % = 0.28 -> 0 -> at least 1.
        assert_eq!(boundary_width(10, 10), 1);
    }
}
