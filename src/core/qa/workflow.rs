//! `qa agreement` (pairwise PQ / mIoU between label sets), `qa stats` (class frequency
//! by annotation date and slice, drift flags) and `qa relabel` (the images with the worst
//! boundaries back into the re-review queue).

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Serialize;

use super::compare::{UNTAGGED, eval_pairs, match_documents, slice_value};
use super::metrics::{ClassTable, Counts, EvalOptions, Scores};
use super::{LabelSet, SetKind};
use crate::core::document::{ImageDocument, ImageStatus};
use crate::core::error::{Error, Result};

/// Pairwise agreement between label sets.
#[derive(Debug, Clone, Serialize)]
pub struct AgreementReport {
    /// The label sets, in argument order.
    pub sets: Vec<String>,
    /// `shared[i][j]`: annotated images of set i that set j also has.
    pub shared: Vec<Vec<usize>>,
    /// `pq[i][j]`: PQ (all classes) of set j scored against set i as reference, over
    /// the shared images; None on the diagonal and when nothing is shared.
    pub pq: Vec<Vec<Option<f64>>>,
    /// `miou[i][j]`: mean IoU, same convention.
    pub miou: Vec<Vec<Option<f64>>>,
}

/// PQ and mIoU of every ordered pair of label sets (row = reference, whose categories
/// are scored), over the images both have; the reference's annotated images (at least
/// one segment) are the ones compared.
pub fn agreement(sets: &[LabelSet]) -> Result<AgreementReport> {
    let n = sets.len();
    let mut shared = vec![vec![0; n]; n];
    let mut pq = vec![vec![None; n]; n];
    let mut miou = vec![vec![None; n]; n];
    for i in 0..n {
        let table = ClassTable::from_ontology(&sets[i].ontology);
        let reference: Vec<&ImageDocument> = sets[i]
            .documents
            .iter()
            .filter(|d| !d.segments.is_empty())
            .collect();
        shared[i][i] = reference.len();
        for j in (0..n).filter(|&j| j != i) {
            let (pairs, _) = match_documents(&reference, &sets[j]);
            shared[i][j] = pairs.len();
            if pairs.is_empty() {
                continue;
            }
            let counts = eval_pairs(
                &pairs,
                &sets[i],
                &sets[j],
                &table,
                EvalOptions { boundary: false },
            )?;
            let mut sum = Counts::zeros(table.len());
            for c in &counts {
                sum.add(c);
            }
            let s = Scores::from_counts(&table, &sum);
            pq[i][j] = s.all.pq;
            miou[i][j] = s.miou;
        }
    }
    Ok(AgreementReport {
        sets: sets
            .iter()
            .map(|s| s.origin.display().to_string())
            .collect(),
        shared,
        pq,
        miou,
    })
}

/// Class frequency of a group of images.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClassFrequency {
    /// Images in the group.
    pub images: usize,
    /// Labeled (non-void) pixels.
    pub total_pixels: u64,
    /// Visible pixels per class name.
    pub pixels: BTreeMap<String, u64>,
    /// Visible segments (instances) per class name.
    pub instances: BTreeMap<String, u64>,
}

impl ClassFrequency {
    fn add(&mut self, o: &ClassFrequency) {
        self.images += o.images;
        self.total_pixels += o.total_pixels;
        for (k, v) in &o.pixels {
            *self.pixels.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.instances {
            *self.instances.entry(k.clone()).or_default() += v;
        }
    }

    /// Pixel share of a class (0 when the group has no labeled pixel).
    pub fn share(&self, class: &str) -> f64 {
        if self.total_pixels == 0 {
            0.0
        } else {
            self.pixels.get(class).copied().unwrap_or(0) as f64 / self.total_pixels as f64
        }
    }
}

/// How one class's pixel share moved between the two periods.
#[derive(Debug, Clone, Serialize)]
pub struct Shift {
    /// Class name.
    pub class: String,
    /// Pixel share before the split date.
    pub share_before: f64,
    /// Pixel share on or after the split date.
    pub share_after: f64,
    /// `share_after - share_before`.
    pub change: f64,
    /// True when |change| exceeds the threshold (and both periods have labels).
    pub flagged: bool,
}

/// Options of `qa stats`.
#[derive(Debug, Clone)]
pub struct StatsOptions {
    /// Slice tag to group by.
    pub by: Option<String>,
    /// First day of the second period (`YYYY-MM-DD`); default: the median edit date.
    pub split_date: Option<String>,
    /// Share change that flags a class.
    pub threshold: f64,
}

/// Class frequency by annotation date and by slice, and drift between two periods.
#[derive(Debug, Clone, Serialize)]
pub struct StatsReport {
    /// The project or file.
    pub source: String,
    /// Annotated images counted.
    pub images: usize,
    /// Images with no recorded edit (no date; in neither period).
    pub undated: usize,
    /// Per day of the last edit (`YYYY-MM-DD`).
    pub by_date: BTreeMap<String, ClassFrequency>,
    /// The slice tag, when given.
    pub slice_tag: Option<String>,
    /// Per value of the slice tag.
    pub by_slice: BTreeMap<String, ClassFrequency>,
    /// First day of the second period.
    pub split_date: Option<String>,
    /// Images edited last before the split date.
    pub before: ClassFrequency,
    /// Images edited last on or after the split date.
    pub after: ClassFrequency,
    /// Share threshold used for flags.
    pub threshold: f64,
    /// Every class, largest absolute change first.
    pub shifts: Vec<Shift>,
}

fn frequency(doc: &ImageDocument, names: &BTreeMap<u32, String>) -> ClassFrequency {
    let stats = doc.resolve().stats();
    let mut f = ClassFrequency {
        images: 1,
        ..Default::default()
    };
    for s in &doc.segments {
        if let Some(st) = stats.get(&s.id) {
            let name = names
                .get(&s.category_id)
                .cloned()
                .unwrap_or_else(|| format!("id {}", s.category_id));
            *f.pixels.entry(name.clone()).or_default() += st.area;
            *f.instances.entry(name).or_default() += 1;
            f.total_pixels += st.area;
        }
    }
    f
}

/// Computes `qa stats` over the annotated images (at least one segment) of a set.
pub fn stats(set: &LabelSet, opts: &StatsOptions) -> Result<StatsReport> {
    let split_given = match &opts.split_date {
        Some(s) => Some(
            s.parse::<jiff::civil::Date>()
                .map_err(|e| {
                    Error::invalid(
                        &set.origin,
                        "--split-date",
                        format!("{s:?}: {e} (expected YYYY-MM-DD)"),
                    )
                })?
                .to_string(),
        ),
        None => None,
    };
    if !(opts.threshold.is_finite() && opts.threshold >= 0.0) {
        return Err(Error::invalid(
            &set.origin,
            "--threshold",
            format!("{} is not a non-negative number", opts.threshold),
        ));
    }
    let names: BTreeMap<u32, String> = set
        .ontology
        .categories
        .iter()
        .map(|c| (c.id, c.name.clone()))
        .collect();
    let docs: Vec<&ImageDocument> = set
        .documents
        .iter()
        .filter(|d| !d.segments.is_empty())
        .collect();
    let freqs: Vec<ClassFrequency> = docs.par_iter().map(|d| frequency(d, &names)).collect();

    let mut by_date: BTreeMap<String, ClassFrequency> = BTreeMap::new();
    let mut by_slice: BTreeMap<String, ClassFrequency> = BTreeMap::new();
    let mut dated: Vec<(&str, &ClassFrequency)> = Vec::new();
    let mut undated = 0;
    for (d, f) in docs.iter().zip(&freqs) {
        match d.last_edit_date() {
            Some(day) => {
                by_date.entry(day.to_string()).or_default().add(f);
                dated.push((day, f));
            }
            None => undated += 1,
        }
        if let Some(tag) = &opts.by {
            let v = d.tags.get(tag).cloned().unwrap_or_else(|| UNTAGGED.into());
            by_slice.entry(v).or_default().add(f);
        }
    }
    let split = split_given.or_else(|| {
        let mut days: Vec<&str> = dated.iter().map(|(d, _)| *d).collect();
        days.sort_unstable();
        days.get(days.len() / 2).map(|d| d.to_string())
    });
    let (mut before, mut after) = (ClassFrequency::default(), ClassFrequency::default());
    if let Some(split) = &split {
        for (day, f) in &dated {
            if *day < split.as_str() {
                before.add(f);
            } else {
                after.add(f);
            }
        }
    }
    let mut classes: Vec<&String> = before.pixels.keys().chain(after.pixels.keys()).collect();
    classes.sort();
    classes.dedup();
    let both = before.total_pixels > 0 && after.total_pixels > 0;
    let mut shifts: Vec<Shift> = classes
        .into_iter()
        .map(|c| {
            let (b, a) = (before.share(c), after.share(c));
            Shift {
                class: c.clone(),
                share_before: b,
                share_after: a,
                change: a - b,
                flagged: both && (a - b).abs() > opts.threshold,
            }
        })
        .collect();
    shifts.sort_by(|x, y| {
        y.change
            .abs()
            .total_cmp(&x.change.abs())
            .then(x.class.cmp(&y.class))
    });
    Ok(StatsReport {
        source: set.origin.display().to_string(),
        images: docs.len(),
        undated,
        by_date,
        slice_tag: opts.by.clone(),
        by_slice,
        split_date: split,
        before,
        after,
        threshold: opts.threshold,
        shifts,
    })
}

/// Options of `qa relabel`.
#[derive(Debug, Clone)]
pub struct RelabelOptions {
    /// Rank by this class's Boundary IoU only (name or id).
    pub class: Option<String>,
    /// Only images whose slice tag has this value (`(tag, value)`).
    pub slice: Option<(String, String)>,
    /// How many images go back to re-review.
    pub worst: usize,
    /// Who is recorded in the audit log.
    pub user: String,
    /// Rank and list only; change nothing.
    pub dry_run: bool,
}

/// One image put back into the re-review queue.
#[derive(Debug, Clone, Serialize)]
pub struct RelabelItem {
    /// Image file name.
    pub file_name: String,
    /// Its Boundary IoU (of the class, or the mean over its classes).
    pub boundary_iou: f64,
    /// The class named in the comment: the chosen class, or the image's worst.
    pub class: String,
}

/// Ranks the project's images that the gold set also has by boundary error
/// (1 - Boundary IoU) and sends the worst `opts.worst` back to re-review: status
/// `rejected` and a comment "re-review: boundary IoU X for class Y", both recorded with
/// the user, each document written atomically.
pub fn relabel(
    project: &LabelSet,
    gold: &LabelSet,
    opts: &RelabelOptions,
) -> Result<Vec<RelabelItem>> {
    let Some(p) = project
        .project
        .as_ref()
        .filter(|_| project.kind == SetKind::Project)
    else {
        return Err(Error::invalid(
            &project.origin,
            "(root)",
            "qa relabel changes a Limner project; this is not one",
        ));
    };
    let table = ClassTable::from_ontology(&gold.ontology);
    let class = match &opts.class {
        Some(name) => Some(table.find(name).ok_or_else(|| {
            Error::invalid(
                &gold.origin,
                "categories",
                format!("no class named {name:?} in the gold set"),
            )
        })?),
        None => None,
    };
    let (gold_docs, _) = gold.gold_set();
    let (pairs, _) = match_documents(&gold_docs, project);
    if pairs.is_empty() {
        return Err(Error::invalid(
            &project.origin,
            "(images)",
            format!(
                "no image of the project is in the gold set {} ({} gold image(s), matched by file name)",
                gold.origin.display(),
                gold_docs.len()
            ),
        ));
    }
    let shared = pairs.len();
    let pairs: Vec<_> = pairs
        .into_iter()
        .filter(|(g, d)| {
            opts.slice
                .as_ref()
                .is_none_or(|(tag, value)| slice_value(g, d, tag) == *value)
        })
        .collect();
    if let (true, Some((tag, value))) = (pairs.is_empty(), &opts.slice) {
        return Err(Error::invalid(
            &project.origin,
            "--by",
            format!(
                "none of the {shared} image(s) shared with the gold set has the tag {tag}={value}"
            ),
        ));
    }
    let counts = eval_pairs(
        &pairs,
        gold,
        project,
        &table,
        EvalOptions { boundary: true },
    )?;
    let mut ranked: Vec<RelabelItem> = pairs
        .iter()
        .zip(&counts)
        .filter_map(|((_, d), c)| {
            let (biou, name) = match class {
                Some(ci) => (c.boundary_iou(ci)?, table.classes[ci].name.clone()),
                None => {
                    let s = Scores::from_counts(&table, c);
                    let worst = s
                        .classes
                        .iter()
                        .filter_map(|k| k.boundary_iou.map(|b| (b, k.name.clone())))
                        .min_by(|a, b| a.0.total_cmp(&b.0))?;
                    (s.boundary_iou?, worst.1)
                }
            };
            Some(RelabelItem {
                file_name: d.image.file_name.clone(),
                boundary_iou: biou,
                class: name,
            })
        })
        .collect();
    ranked.sort_by(|a, b| {
        a.boundary_iou
            .total_cmp(&b.boundary_iou)
            .then(a.file_name.cmp(&b.file_name))
    });
    ranked.truncate(opts.worst);
    if !opts.dry_run {
        let mut docs = Vec::with_capacity(ranked.len());
        for item in &ranked {
            let mut doc = p.load_document(&item.file_name)?;
            doc.add_comment(
                &opts.user,
                None,
                &format!(
                    "re-review: boundary IoU {:.3} for class {}",
                    item.boundary_iou, item.class
                ),
                None,
            );
            doc.set_status(&opts.user, ImageStatus::Rejected);
            docs.push(doc);
        }
        p.save_documents(&docs)?;
    }
    Ok(ranked)
}
