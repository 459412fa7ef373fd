//! `limner qa ...`, `limner tags ...` and `limner gold`: each maps to `core::qa` calls.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::core::io::write_json_atomic;
use crate::core::lock::{self, ProjectLock, Writer};
use crate::core::project::Project;
use crate::core::qa::{self, LabelSet, compare, html, tags, workflow};

/// `limner qa ...`
#[derive(Debug, Subcommand)]
pub enum QaCommand {
    /// Score a prediction against the gold set: PQ / SQ / RQ (all, things, stuff; per
    /// class), mIoU and Boundary IoU per class, per slice and per annotator, per image.
    Compare {
        /// Gold labels: a project (its images marked gold; all annotated ones when none
        /// is) or a COCO panoptic JSON.
        #[arg(long)]
        gold: PathBuf,
        /// Labels to score: a project or a COCO panoptic JSON.
        #[arg(long)]
        pred: PathBuf,
        /// Also split every figure by the value of this tag (repeatable).
        #[arg(long)]
        by: Vec<String>,
        /// Write the full report as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write a self-contained HTML report here.
        #[arg(long)]
        html: Option<PathBuf>,
        /// Folder with the images (thumbnails), when the gold is a COCO file.
        #[arg(long)]
        images: Option<PathBuf>,
        /// Worst images shown as thumbnails in the HTML report.
        #[arg(long, default_value_t = 12)]
        thumbnails: usize,
    },
    /// Rank the segments a confident click model disagrees with (box + click at the
    /// label's interior-most point, then corrective clicks): likely label errors first.
    Suspects {
        /// Labels to check: a project or a COCO panoptic JSON.
        labels: PathBuf,
        /// Model config file or model name (default: the shipped limner-click-v2).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Folder with the images (default: the project's; for a COCO file, `images/`
        /// beside it).
        #[arg(long)]
        images: Option<PathBuf>,
        /// How many to print (and show in the HTML report).
        #[arg(long, default_value_t = 20)]
        top: usize,
        /// Corrective clicks after the first box + click.
        #[arg(long, default_value_t = 2)]
        clicks: usize,
        /// Write every checked segment as JSON here (`{"suspects": [...]}`, worst first).
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write the top suspects with thumbnails (both outlines) as HTML here.
        #[arg(long)]
        html: Option<PathBuf>,
    },
    /// Pairwise PQ and mIoU between label sets (projects or COCO panoptic files) over the
    /// images they share; row = reference.
    Agreement {
        /// Two or more projects or COCO panoptic JSON files.
        #[arg(required = true, num_args = 2..)]
        sets: Vec<PathBuf>,
        /// Write the matrices as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Class frequency (pixels, instances) by annotation date and slice; flags classes
    /// whose pixel share moved more than the threshold between two periods.
    Stats {
        /// Project (or COCO panoptic JSON; it has no dates).
        project: PathBuf,
        /// Slice tag to group by.
        #[arg(long)]
        by: Option<String>,
        /// First day of the second period, YYYY-MM-DD (default: the median edit date).
        #[arg(long)]
        split_date: Option<String>,
        /// Pixel-share change that flags a class.
        #[arg(long, default_value_t = 0.05)]
        threshold: f64,
        /// Write the statistics as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Rank images by boundary error against the gold set and send the worst N back to
    /// re-review (status rejected, with a comment).
    Relabel {
        /// The project to change.
        project: PathBuf,
        /// Gold labels: a project or a COCO panoptic JSON.
        #[arg(long)]
        gold: PathBuf,
        /// Rank by this class's Boundary IoU (name or id) instead of the image mean.
        #[arg(long)]
        class: Option<String>,
        /// Only images with this slice tag value, TAG=VALUE.
        #[arg(long)]
        by: Option<String>,
        /// How many images to send back.
        #[arg(long)]
        worst: usize,
        /// User name for the audit log (default: $LIMNER_USER, else $USER).
        #[arg(long)]
        user: Option<String>,
        /// List only; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// `limner tags ...`
#[derive(Debug, Subcommand)]
pub enum TagsCommand {
    /// Import slice tags from CSV: header `file_name,KEY,...`, one row per image; an
    /// empty cell leaves the tag unchanged.
    Import {
        project: PathBuf,
        csv: PathBuf,
        /// User name for the audit log (default: $LIMNER_USER, else $USER).
        #[arg(long)]
        user: Option<String>,
    },
    /// Set tags on one image: `key=value` (`key=` removes the tag).
    Set {
        project: PathBuf,
        /// Image file name, relative to the project's images folder.
        file: String,
        #[arg(required = true)]
        tags: Vec<String>,
        /// User name for the audit log (default: $LIMNER_USER, else $USER).
        #[arg(long)]
        user: Option<String>,
    },
}

/// Opens a project to change it: takes the project's writer lock first (waiting for
/// another command, refused while the app has the project open), so the documents read
/// here are the ones this command replaces and no other writer's update is lost.
pub(crate) fn open_for_writing(path: &Path, what: &str) -> anyhow::Result<(Project, ProjectLock)> {
    anyhow::ensure!(
        path.join(crate::core::project::SETTINGS_FILE).exists(),
        "{}: not a Limner project (no limner.json)",
        path.display()
    );
    let lock = ProjectLock::acquire_within(path, Writer::Command, what, lock::command_wait())?;
    Ok((Project::open(path)?, lock))
}

fn open_project(path: &Path) -> anyhow::Result<Project> {
    anyhow::ensure!(
        path.join(crate::core::project::SETTINGS_FILE).exists(),
        "{}: not a Limner project (no limner.json)",
        path.display()
    );
    Ok(Project::open(path)?)
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{:.1}", 100.0 * v))
}

fn print_groups(title: &str, groups: &[compare::GroupScores]) {
    outln!("\n{title}");
    outln!(
        "  {:<24} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}",
        "",
        "images",
        "PQ",
        "SQ",
        "RQ",
        "mIoU",
        "BIoU"
    );
    for g in groups {
        let s = &g.scores;
        outln!(
            "  {:<24} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}",
            g.name,
            g.images,
            pct(s.all.pq),
            pct(s.all.sq),
            pct(s.all.rq),
            pct(s.miou),
            pct(s.boundary_iou)
        );
    }
}

/// Runs `limner qa ...`.
pub fn run_qa(cmd: QaCommand) -> anyhow::Result<()> {
    match cmd {
        QaCommand::Compare {
            gold,
            pred,
            by,
            json,
            html: html_out,
            images,
            thumbnails,
        } => {
            let gold = LabelSet::load(&gold, images.as_deref())?;
            let pred = LabelSet::load(&pred, None)?;
            let opts = compare::CompareOptions {
                by,
                thumbnails: if html_out.is_some() { thumbnails } else { 0 },
            };
            let r = compare::compare(&gold, &pred, &opts)?;
            outln!("gold set: {}", r.gold_set);
            outln!("images compared: {}", r.images);
            if !r.missing_in_pred.is_empty() {
                outln!(
                    "warning: {} gold image(s) have no prediction and were skipped: {}",
                    r.missing_in_pred.len(),
                    r.missing_in_pred.join(", ")
                );
            }
            outln!("\n{:<8} {:>6} {:>6} {:>6} {:>4}", "", "PQ", "SQ", "RQ", "N");
            for (name, s) in [
                ("All", &r.overall.all),
                ("Things", &r.overall.things),
                ("Stuff", &r.overall.stuff),
            ] {
                outln!(
                    "{name:<8} {:>6} {:>6} {:>6} {:>4}",
                    pct(s.pq),
                    pct(s.sq),
                    pct(s.rq),
                    s.n
                );
            }
            outln!(
                "mIoU {}   Boundary IoU {}",
                pct(r.overall.miou),
                pct(r.overall.boundary_iou)
            );
            outln!(
                "\nper class: {:<22} {:>6} {:>6} {:>6}",
                "",
                "PQ",
                "IoU",
                "BIoU"
            );
            for c in &r.overall.classes {
                outln!(
                    "  {:<30} {:>6} {:>6} {:>6}",
                    c.name,
                    pct(c.pq),
                    pct(c.iou),
                    pct(c.boundary_iou)
                );
            }
            for t in &r.slices {
                print_groups(&format!("by {}", t.tag), &t.groups);
            }
            for t in &r.gold_coverage {
                outln!("\ngold coverage by {} (gold / images)", t.tag);
                for row in &t.rows {
                    outln!("  {:<24} {:>5} / {}", row.value, row.gold, row.images);
                }
            }
            for w in &r.gold_warnings {
                outln!("warning: {w}");
            }
            print_groups("by annotator", &r.annotators);
            outln!("\nworst images:");
            for s in r.per_image.iter().take(10) {
                outln!(
                    "  {:<40} PQ {:>6}  mIoU {:>6}  BIoU {:>6}",
                    s.file_name,
                    pct(s.pq),
                    pct(s.miou),
                    pct(s.boundary_iou)
                );
            }
            if let Some(p) = json {
                write_json_atomic(&p, &r)?;
                outln!("wrote {}", p.display());
            }
            if let Some(p) = html_out {
                html::write(&r, &p)?;
                outln!("wrote {}", p.display());
            }
            Ok(())
        }
        QaCommand::Suspects {
            labels,
            model,
            images,
            top,
            clicks,
            json,
            html: html_out,
        } => {
            use crate::model::suspects;
            let set = LabelSet::load(&labels, images.as_deref())?;
            let images_dir = set
                .images_dir
                .clone()
                .or_else(|| labels.parent().map(|p| p.join("images")))
                .unwrap_or_else(|| PathBuf::from("images"));
            let config = crate::model::config::resolve_model(model.as_deref())?;
            let mut predictor = crate::model::load_predictor(&config)?;
            let opts = suspects::SuspectOptions {
                corrective_clicks: clicks,
                ..Default::default()
            };
            let (found, skipped) =
                suspects::find_suspects(&set, &images_dir, predictor.as_mut(), &opts, |d, n| {
                    eprint!("\rchecked {d}/{n} image(s)");
                })?;
            eprintln!();
            for s in &skipped {
                eprintln!("warning: skipped {s}");
            }
            outln!(
                "{:>4} {:<32} {:>8} {:<16} {:>6} {:>6} {:>6} {:>5}",
                "rank",
                "image",
                "segment",
                "class",
                "score",
                "IoU",
                "BF",
                "conf"
            );
            for (i, s) in found.iter().take(top).enumerate() {
                outln!(
                    "{:>4} {:<32} {:>8} {:<16} {:>6.3} {:>6.3} {:>6.3} {:>5.2}",
                    i + 1,
                    s.image,
                    s.segment_id,
                    s.category,
                    s.check.score,
                    s.check.iou,
                    s.check.boundary_f,
                    s.check.confidence
                );
            }
            outln!("checked {} segment(s)", found.len());
            if let Some(p) = json {
                write_json_atomic(&p, &serde_json::json!({ "suspects": found }))?;
                outln!("wrote {}", p.display());
            }
            if let Some(p) = html_out {
                let thumbs: Vec<Vec<u8>> = found
                    .iter()
                    .take(top)
                    .map(|s| {
                        crate::core::io::read_rgb_image(&images_dir.join(&s.image))
                            .map(|im| suspects::suspect_thumbnail(&im, s, 240))
                            .unwrap_or_default()
                    })
                    .collect();
                suspects::write_html(&found[..top.min(found.len())], &thumbs, &p)?;
                outln!("wrote {}", p.display());
            }
            Ok(())
        }
        QaCommand::Agreement { sets, json } => {
            let sets: Vec<LabelSet> = sets
                .iter()
                .map(|p| LabelSet::load(p, None))
                .collect::<Result<_, _>>()?;
            let r = workflow::agreement(&sets)?;
            for (i, s) in r.sets.iter().enumerate() {
                outln!("[{i}] {s}");
            }
            for (title, m) in [("PQ", &r.pq), ("mIoU", &r.miou)] {
                outln!("\n{title} (row = reference; shared images in brackets)");
                out!("{:>5}", "");
                for j in 0..r.sets.len() {
                    out!(" {:>12}", format!("[{j}]"));
                }
                outln!();
                for (i, row) in m.iter().enumerate() {
                    out!("{:>5}", format!("[{i}]"));
                    for (j, v) in row.iter().enumerate() {
                        let cell = if i == j {
                            "-".to_string()
                        } else {
                            format!("{} ({})", pct(*v), r.shared[i][j])
                        };
                        out!(" {cell:>12}");
                    }
                    outln!();
                }
            }
            if let Some(p) = json {
                write_json_atomic(&p, &r)?;
                outln!("wrote {}", p.display());
            }
            Ok(())
        }
        QaCommand::Stats {
            project,
            by,
            split_date,
            threshold,
            json,
        } => {
            let set = LabelSet::load(&project, None)?;
            let r = workflow::stats(
                &set,
                &workflow::StatsOptions {
                    by,
                    split_date,
                    threshold,
                },
            )?;
            outln!(
                "{} annotated images ({} without an edit date)",
                r.images,
                r.undated
            );
            let table = |title: &str, groups: &std::collections::BTreeMap<String, workflow::ClassFrequency>| {
                outln!("\n{title}");
                for (k, f) in groups {
                    let mut classes: Vec<_> = f.pixels.iter().collect();
                    classes.sort_by(|a, b| b.1.cmp(a.1));
                    let top: Vec<String> = classes
                        .iter()
                        .take(6)
                        .map(|&(c, &px)| {
                            format!(
                                "{c} {:.1}% ({})",
                                100.0 * px as f64 / f.total_pixels.max(1) as f64,
                                f.instances.get(c).copied().unwrap_or(0)
                            )
                        })
                        .collect();
                    outln!("  {k:<14} {:>5} images  {}", f.images, top.join(", "));
                }
            };
            table("by last edit date (pixel share, instances):", &r.by_date);
            if let Some(tag) = &r.slice_tag {
                table(&format!("by {tag}:"), &r.by_slice);
            }
            match &r.split_date {
                Some(d) => outln!(
                    "\nbefore {d}: {} images; from {d}: {} images; threshold {:.1} points",
                    r.before.images,
                    r.after.images,
                    100.0 * r.threshold
                ),
                None => outln!("\nno edit dates: no periods to compare"),
            }
            for s in &r.shifts {
                outln!(
                    "  {} {:<28} {:>6.1}% -> {:>6.1}%  ({:+.1})",
                    if s.flagged { "DRIFT" } else { "     " },
                    s.class,
                    100.0 * s.share_before,
                    100.0 * s.share_after,
                    100.0 * s.change
                );
            }
            let flagged = r.shifts.iter().filter(|s| s.flagged).count();
            outln!("{flagged} class(es) flagged");
            if let Some(p) = json {
                write_json_atomic(&p, &r)?;
                outln!("wrote {}", p.display());
            }
            Ok(())
        }
        QaCommand::Relabel {
            project,
            gold,
            class,
            by,
            worst,
            user,
            dry_run,
        } => {
            let slice = match by {
                Some(b) => Some(
                    crate::core::document::parse_tag(&b)
                        .map_err(|e| anyhow::anyhow!("--by: {e}"))?,
                ),
                None => None,
            };
            // The lock is taken before the project is read, so nothing is lost between
            // ranking and writing.
            let _lock = if dry_run {
                open_project(&project)?;
                None
            } else {
                Some(open_for_writing(&project, "qa relabel")?.1)
            };
            let set = LabelSet::load(&project, None)?;
            let gold = LabelSet::load(&gold, None)?;
            let items = workflow::relabel(
                &set,
                &gold,
                &workflow::RelabelOptions {
                    class,
                    slice,
                    worst,
                    user: qa::user_name(user.as_deref()),
                    dry_run,
                },
            )?;
            for (k, it) in items.iter().enumerate() {
                outln!(
                    "{:>3}. {:<40} boundary IoU {:.3}  class {}",
                    k + 1,
                    it.file_name,
                    it.boundary_iou,
                    it.class
                );
            }
            outln!(
                "{} image(s) {}",
                items.len(),
                if dry_run {
                    "ranked (dry run: nothing changed)"
                } else {
                    "sent back to re-review (status rejected)"
                }
            );
            Ok(())
        }
    }
}

/// Runs `limner tags ...`.
pub fn run_tags(cmd: TagsCommand) -> anyhow::Result<()> {
    match cmd {
        TagsCommand::Import { project, csv, user } => {
            let (p, _lock) = open_for_writing(&project, "tags import")?;
            let r = tags::import_csv(&p, &csv, &qa::user_name(user.as_deref()))?;
            outln!("{} row(s) read, {} image(s) changed", r.images, r.changed);
            Ok(())
        }
        TagsCommand::Set {
            project,
            file,
            tags: t,
            user,
        } => {
            let (p, _lock) = open_for_writing(&project, "tags set")?;
            let changed = tags::set_tags(&p, &file, &t, &qa::user_name(user.as_deref()))?;
            outln!(
                "{file}: {}",
                if changed { "tags changed" } else { "unchanged" }
            );
            Ok(())
        }
    }
}

/// Runs `limner gold`.
pub fn run_gold(
    project: &Path,
    files: &[String],
    unset: bool,
    user: Option<&str>,
) -> anyhow::Result<()> {
    let (p, _lock) = open_for_writing(project, "gold")?;
    for (f, changed) in tags::set_gold(&p, files, !unset, &qa::user_name(user))? {
        outln!(
            "{f}: {}{}",
            if unset { "not gold" } else { "gold" },
            if changed { "" } else { " (unchanged)" }
        );
    }
    Ok(())
}

/// `limner gold sample ...`
#[derive(Debug, Subcommand)]
pub enum GoldCommand {
    /// Mark a stratified random gold set: N images spread over the value combinations of
    /// the `--by` tags (in proportion to their size, at least one each while N allows),
    /// or N per combination with `--per-stratum`. Images already gold count.
    Sample {
        /// Project folder.
        project: PathBuf,
        /// Gold images wanted (in all, or per stratum).
        #[arg(long)]
        n: usize,
        /// Tag keys to stratify by, comma-separated (`scene,device`).
        #[arg(long, value_delimiter = ',')]
        by: Vec<String>,
        /// N per stratum instead of N in all.
        #[arg(long)]
        per_stratum: bool,
        /// Seed of the random choice.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// User name for the audit log (default: $LIMNER_USER, else $USER).
        #[arg(long)]
        user: Option<String>,
    },
}

/// `limner gold sample`: marks the sample and prints it per stratum.
pub fn run_gold_sample(cmd: GoldCommand) -> anyhow::Result<()> {
    let GoldCommand::Sample {
        project,
        n,
        by,
        per_stratum,
        seed,
        user,
    } = cmd;
    let (p, _lock) = open_for_writing(&project, "gold sample")?;
    let opts = tags::GoldSample {
        n,
        by,
        per_stratum,
        seed,
    };
    let strata = tags::sample_gold(&p, &opts, &qa::user_name(user.as_deref()))?;
    outln!(
        "{:<40} {:>7} {:>11} {:>7}",
        "stratum",
        "images",
        "gold before",
        "marked"
    );
    let (mut marked, mut gold) = (0, 0);
    for s in &strata {
        let name = if s.values.is_empty() {
            "(all images)".to_string()
        } else {
            s.values.join(" ")
        };
        outln!(
            "{name:<40} {:>7} {:>11} {:>7}",
            s.images,
            s.gold_before,
            s.chosen.len()
        );
        for f in &s.chosen {
            outln!("  gold: {f}");
        }
        marked += s.chosen.len();
        gold += s.gold_before + s.chosen.len();
    }
    outln!("marked {marked} image(s); the gold set now has {gold}");
    Ok(())
}
