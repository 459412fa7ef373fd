//! The `limner` command line: each subcommand maps to core calls, nothing more.

#[macro_use]
pub mod output;
pub mod qa;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::core::fill_rule::FillRule;
use crate::core::formats::{self, Format};

fn fill_rule_arg(s: &str) -> Result<FillRule, String> {
    s.parse()
}
use crate::core::project::{Project, SETTINGS_FILE};
use crate::model::postprocess::PostProcess;

/// Limner: pixel-accurate image segmentation labeling.
#[derive(Debug, Parser)]
#[command(name = "limner", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the app on a project or a plain folder of images (the demo project when no folder is given).
    Open {
        /// Project folder or folder of images.
        dir: Option<PathBuf>,
        /// Gold labels to compare against (a project folder or a COCO panoptic JSON):
        /// opens the disagreement view.
        #[arg(long)]
        gold: Option<PathBuf>,
    },
    /// Convert a dataset from one format to another.
    Convert {
        #[arg(long, value_enum)]
        from: Format,
        /// Input: a project folder, or a COCO panoptic JSON (PNGs in the folder named by its stem).
        #[arg(long)]
        input: PathBuf,
        /// Folder with the source images, when not beside the input.
        #[arg(long)]
        images: Option<PathBuf>,
        #[arg(long, value_enum)]
        to: Format,
        /// Output: a folder (project, VOC, YOLO, LabelMe, semantic PNG), or a file path
        /// (COCO panoptic or instance JSON, CVAT XML).
        #[arg(long)]
        output: PathBuf,
        /// Replace existing files that no Limner export wrote (never the input).
        #[arg(long)]
        overwrite: bool,
        /// Fill rule for the input's polygons: limner, opencv, pil, pycocotools
        /// (default: the producing tool's: opencv for yolo-seg, pil for labelme).
        #[arg(long, value_parser = fill_rule_arg)]
        fill_rule: Option<FillRule>,
    },
    /// Check a project folder or a COCO panoptic JSON; report every problem, exit 1 on any.
    Validate {
        path: PathBuf,
        /// Fix polygon topology problems (pixels kept), listing each change.
        #[arg(long)]
        repair: bool,
    },
    /// Import PATH, export it as FORMAT (temporary folder), import again and compare;
    /// exit 1 on any change beyond the format's documented loss.
    Roundtrip {
        /// Format to round-trip through.
        #[arg(long, value_enum)]
        format: Format,
        /// Format of PATH (default: guessed: project folder, panoptic JSON with its PNG
        /// folder, COCO instance JSON, CVAT XML, VOC or YOLO folder, semantic PNG folder).
        #[arg(long, value_enum)]
        from: Option<Format>,
        /// Folder with the source images, when not beside the input.
        #[arg(long)]
        images: Option<PathBuf>,
        /// Read the export back as this reader fills polygons: limner, opencv
        /// (Ultralytics), pil (LabelMe), pycocotools (default: the format's usual reader).
        #[arg(long, value_parser = fill_rule_arg)]
        reader: Option<FillRule>,
        /// The dataset to check.
        path: PathBuf,
    },
    /// Predict one mask from prompts; writes an 8-bit PNG (255 inside). Bad input exits 2.
    Predict {
        #[arg(long)]
        image: PathBuf,
        /// Prompt file (points, scribbles, box, previous_mask).
        #[arg(long)]
        prompts: PathBuf,
        /// Mask PNG to write (refused if it is the image or the prompt file).
        #[arg(long)]
        out: PathBuf,
        /// Model config file, or a model's name as the app's model picker shows it
        /// (`grabcut`); default: the shipped limner-click-v2.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Keep only the mask parts a positive click or scribble touches (as the app
        /// does by default).
        #[arg(long, default_value_t = PostProcess::default().keep_touching_positive, action = clap::ArgAction::Set)]
        keep_touching: bool,
        /// Fill holes smaller than this many pixels (0: off, the app's default).
        #[arg(long, default_value_t = PostProcess::default().fill_holes_below)]
        fill_holes: u32,
        /// Replace `--out` when it already exists.
        #[arg(long)]
        overwrite: bool,
    },
    /// Pre-label a project's images with a `semantic` or `yolo-seg` model config. Images
    /// a person has labeled are never changed; a re-run continues where one stopped.
    Prelabel {
        /// Project folder.
        project: PathBuf,
        /// Model config (kind `semantic` or `yolo-seg`).
        #[arg(long)]
        model: PathBuf,
        /// Only images whose file name (relative to the images folder) matches this glob.
        #[arg(long)]
        images: Option<String>,
        /// `add`: only images without segments; `replace-model`: also replace earlier
        /// model segments.
        #[arg(long, default_value = "add", value_parser = ["add", "replace-model"])]
        mode: String,
        /// User name for the audit log (default: $LIMNER_USER, else $USER).
        #[arg(long)]
        user: Option<String>,
    },
    /// Benchmarks.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Quality assurance: gold-set comparison, agreement, drift, re-review queue.
    #[command(subcommand)]
    Qa(qa::QaCommand),
    /// Slice tags of images (`scene=indoor`): import from CSV, set on one image.
    #[command(subcommand)]
    Tags(qa::TagsCommand),
    /// Mark images as gold (the reference `qa compare` scores against), or unmark them;
    /// `gold sample` marks a stratified random gold set.
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Gold {
        #[command(subcommand)]
        sample: Option<qa::GoldCommand>,
        /// Project folder.
        #[arg(required = true)]
        project: Option<PathBuf>,
        /// Image file names, relative to the project's images folder.
        #[arg(required = true)]
        files: Vec<String>,
        /// Unmark instead.
        #[arg(long)]
        unset: bool,
        /// User name for the audit log (default: $LIMNER_USER, else $USER).
        #[arg(long)]
        user: Option<String>,
    },
}

/// `limner bench ...`
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Clicks to reach IoU 0.85 / 0.90 with the standard click simulation.
    Noc {
        /// Folder of images.
        #[arg(long)]
        images: PathBuf,
        /// Folder of binary masks named `<image stem>__<k>.png` (or `<image stem>.png`).
        #[arg(long)]
        masks: PathBuf,
        #[arg(long, default_value_t = 20)]
        max_clicks: usize,
        /// Model config file or model name (default: the shipped limner-click-v2).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Evaluate only the first N objects.
        #[arg(long)]
        limit: Option<usize>,
        /// Also write per-object results and the summary as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Per-click latency of the model at given image sizes (synthetic scene, click simulation).
    Click {
        /// Image sizes as WxH.
        #[arg(long, value_delimiter = ',', default_value = "481x321,4000x3000")]
        sizes: Vec<String>,
        /// Clicks per run (the first runs on the whole image, the rest on zoom-in crops).
        #[arg(long, default_value_t = 10)]
        clicks: usize,
        /// Runs per size.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Model config file or model name (default: the shipped limner-click-v2).
        #[arg(long)]
        model: Option<PathBuf>,
    },
}

/// The CLI's names of the formats (the core knows them; clap stays out of the core).
impl clap::ValueEnum for Format {
    fn value_variants<'a>() -> &'a [Self] {
        &Format::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.name()).help(self.description()))
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    let code = run_command(cli);
    if output::failed() {
        return ExitCode::FAILURE;
    }
    code
}

fn run_command(cli: Cli) -> ExitCode {
    match cli.command {
        None => crate::app::run(None, None),
        Some(Command::Open { dir, gold }) => crate::app::run(dir, gold),
        Some(Command::Convert {
            from,
            input,
            images,
            to,
            output,
            overwrite,
            fill_rule,
        }) => report(convert(
            from,
            &input,
            images.as_deref(),
            to,
            &output,
            overwrite,
            fill_rule,
        )),
        Some(Command::Validate { path, repair }) => validate(&path, repair),
        Some(Command::Roundtrip {
            format,
            from,
            images,
            reader,
            path,
        }) => roundtrip(format, from, images.as_deref(), reader, &path),
        Some(Command::Predict {
            image,
            prompts,
            out,
            model,
            keep_touching,
            fill_holes,
            overwrite,
        }) => {
            let clean_up = PostProcess {
                keep_touching_positive: keep_touching,
                fill_holes_below: fill_holes,
            };
            predict(&image, &prompts, &out, model, clean_up, overwrite)
        }
        Some(Command::Prelabel {
            project,
            model,
            images,
            mode,
            user,
        }) => report(prelabel(
            &project,
            &model,
            images.as_deref(),
            &mode,
            user.as_deref(),
        )),
        Some(Command::Bench(BenchCommand::Noc {
            images,
            masks,
            max_clicks,
            model,
            limit,
            json,
        })) => report(bench_noc(&images, &masks, max_clicks, model, limit, json)),
        Some(Command::Bench(BenchCommand::Click {
            sizes,
            clicks,
            runs,
            model,
        })) => report(bench_click(&sizes, clicks, runs, model)),
        Some(Command::Qa(cmd)) => report(qa::run_qa(cmd)),
        Some(Command::Tags(cmd)) => report(qa::run_tags(cmd)),
        Some(Command::Gold {
            sample: Some(cmd), ..
        }) => report(qa::run_gold_sample(cmd)),
        Some(Command::Gold {
            project,
            files,
            unset,
            user,
            ..
        }) => report(match project {
            Some(project) => qa::run_gold(&project, &files, unset, user.as_deref()),
            None => Err(anyhow::anyhow!("limner gold needs a project folder")),
        }),
    }
}

fn report(r: anyhow::Result<()>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error_text(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, each said once: the core's errors already include their
/// OS cause in their text, which `{:#}` would print a second time.
fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let c = cause.to_string();
        if !text.ends_with(&c) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&c);
        }
    }
    text
}

fn convert(
    from: Format,
    input: &std::path::Path,
    images: Option<&std::path::Path>,
    to: Format,
    output: &std::path::Path,
    overwrite: bool,
    fill_rule: Option<FillRule>,
) -> anyhow::Result<()> {
    let data = formats::read_with(from, input, images, fill_rule)?;
    let opts = formats::export::ExportOptions {
        overwrite,
        inputs: formats::export::ExportOptions::input_paths(from, input),
    };
    let r = formats::export::export(to, data, output, &opts)?;
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    outln!(
        "wrote {} image(s), {} segment(s) to {}",
        r.images,
        r.segments,
        output.display()
    );
    Ok(())
}

/// `limner prelabel`: a progress bar with rate and ETA, then a summary; exit 1 when an
/// image failed (the others are done and saved).
fn prelabel(
    project: &std::path::Path,
    model: &std::path::Path,
    images: Option<&str>,
    mode: &str,
    user: Option<&str>,
) -> anyhow::Result<()> {
    use crate::model::prelabel::{self, Mode, Prelabeler};
    let _lock = crate::core::lock::ProjectLock::acquire_within(
        project,
        crate::core::lock::Writer::Command,
        "prelabel",
        crate::core::lock::command_wait(),
    )?;
    let p = Project::open(project)?;
    let config = crate::model::ModelConfig::load(model)?;
    let mut m = Prelabeler::load(&config)?;
    let mode = if mode == "replace-model" {
        Mode::ReplaceModel
    } else {
        Mode::Add
    };
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} images  {per_sec}  ETA {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let r = prelabel::prelabel_project(
        &p,
        &mut m,
        images,
        mode,
        &crate::core::qa::user_name(user),
        &|_| false,
        |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            true
        },
    )?;
    bar.finish_and_clear();
    for f in &r.failed {
        eprintln!("error: {f}");
    }
    let secs = started.elapsed().as_secs_f64();
    outln!(
        "labeled {} image(s) with {} segment(s) in {secs:.1} s ({:.2} images/s)",
        r.labeled,
        r.segments,
        r.labeled as f64 / secs.max(1e-9)
    );
    outln!(
        "kept {} image(s) a person labeled, {} already done by this model, {} with another model's segments (--mode replace-model replaces them)",
        r.kept_human,
        r.already_done,
        r.kept_model
    );
    if r.failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "{} image(s) failed (listed above); the others are saved",
            r.failed.len()
        )
    }
}

/// `limner roundtrip`: exit 1 on a change beyond the documented loss, 2 on bad input.
fn roundtrip(
    format: Format,
    from: Option<Format>,
    images: Option<&std::path::Path>,
    reader: Option<FillRule>,
    path: &std::path::Path,
) -> ExitCode {
    let from = from.unwrap_or_else(|| Format::guess(path));
    let r = match formats::roundtrip::run(from, path, images, format, reader) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    for d in &r.details {
        outln!("{d}");
    }
    const SHOWN: usize = 20;
    if !r.worst_segments.is_empty() {
        outln!("worst segments (image, segment id, changed pixels):");
        for (image, id, n) in r.worst_segments.iter().take(SHOWN) {
            outln!("  {image}  {id}  {n}");
        }
        if r.worst_segments.len() > SHOWN {
            outln!("  ... and {} more", r.worst_segments.len() - SHOWN);
        }
        outln!("worst images (image, changed pixels):");
        for (image, n) in r.worst_images.iter().take(SHOWN) {
            outln!("  {image}  {n}");
        }
        if r.worst_images.len() > SHOWN {
            outln!("  ... and {} more", r.worst_images.len() - SHOWN);
        }
    }
    match r.reader {
        Some(rule) => outln!("reader          {} ({})", rule.name(), rule.reader()),
        None => outln!("reader          (no polygons to fill)"),
    }
    outln!("images          {}", r.images);
    outln!("segments        {}", r.segments);
    outln!("changed pixels  {}", r.changed_pixels);
    if r.reported_pixels > 0 {
        outln!(
            "  of which       {} reported by the export as inexpressible for this reader",
            r.reported_pixels
        );
    }
    outln!("lost segments   {}", r.lost_segments);
    outln!("lost holes      {}", r.lost_holes);
    outln!("changed classes {}", r.changed_classes);
    outln!("changed iscrowd {}", r.changed_iscrowd);
    if !r.documented_loss.is_empty() {
        outln!("documented loss {}", r.documented_loss);
    }
    if r.failed() {
        outln!("FAILED: changes beyond the format's documented loss");
        ExitCode::FAILURE
    } else {
        outln!("ok");
        ExitCode::SUCCESS
    }
}

/// Topology findings of a project's polygon segments as problems; with `repair`, fixes
/// them first (saving each changed document) and prints each change.
fn topology(p: &Project, repair: bool) -> Vec<crate::core::error::Error> {
    use crate::core::formats::topology as topo;
    let docs = match p.load_all_documents() {
        Ok(d) => d,
        Err(e) => return vec![e],
    };
    let mut out = Vec::new();
    for (name, mut d) in docs {
        if repair {
            let changes = topo::repair_document(&mut d);
            for c in &changes {
                outln!("repaired {name}: {c}");
            }
            if !changes.is_empty()
                && let Err(e) = p.save_document(&d)
            {
                out.push(e);
            }
        }
        let origin = p.annotation_path(&name);
        out.extend(
            topo::check_document(&d)
                .into_iter()
                .map(|f| crate::core::error::Error::invalid(&origin, f.field, f.message)),
        );
    }
    out
}

fn validate(path: &std::path::Path, repair: bool) -> ExitCode {
    let problems = if path.is_dir() {
        if !path.join(SETTINGS_FILE).exists() {
            vec![crate::core::error::Error::invalid(
                path,
                SETTINGS_FILE,
                "not a Limner project (no limner.json)",
            )]
        } else {
            let lock = if repair {
                crate::core::lock::ProjectLock::acquire_within(
                    path,
                    crate::core::lock::Writer::Command,
                    "validate --repair",
                    crate::core::lock::command_wait(),
                )
                .map(Some)
            } else {
                Ok(None)
            };
            match lock.and_then(|lock| Ok((Project::open(path)?, lock))) {
                Ok((p, _lock)) => {
                    let mut v = p.validate();
                    v.extend(topology(&p, repair));
                    v
                }
                Err(e) => vec![e],
            }
        }
    } else {
        formats::coco_panoptic::check(path, None).1
    };
    for p in &problems {
        outln!("{p}");
    }
    if problems.is_empty() {
        outln!("{}: ok", path.display());
        ExitCode::SUCCESS
    } else {
        outln!("{} problem(s) found", problems.len());
        ExitCode::FAILURE
    }
}

fn bench_noc(
    images: &std::path::Path,
    masks: &std::path::Path,
    max_clicks: usize,
    model: Option<PathBuf>,
    limit: Option<usize>,
    json: Option<PathBuf>,
) -> anyhow::Result<()> {
    use crate::model::{self, noc};
    let config = model::config::resolve_model(model.as_deref())?;
    let mut predictor = model::load_predictor(&config)?;
    let mut pairs = noc::eval_pairs(images, masks).map_err(anyhow::Error::msg)?;
    if let Some(n) = limit {
        pairs.truncate(n);
    }
    anyhow::ensure!(!pairs.is_empty(), "no masks found in {}", masks.display());
    let mut runs = Vec::new();
    let mut current: Option<(PathBuf, image::RgbImage)> = None;
    for (img_path, mask_path) in &pairs {
        if current.as_ref().is_none_or(|(p, _)| p != img_path) {
            current = Some((img_path.clone(), crate::core::io::read_rgb_image(img_path)?));
        }
        let image = &current.as_ref().map(|c| &c.1).expect("loaded above");
        let gt = noc::read_mask(mask_path).map_err(anyhow::Error::msg)?;
        anyhow::ensure!(
            gt.width == image.width() && gt.height == image.height(),
            "{}: mask size differs from {}",
            mask_path.display(),
            img_path.display()
        );
        let name = mask_path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut run = noc::run_object(predictor.as_mut(), image, &gt, max_clicks, &name)?;
        run.box_only_iou = noc::box_only_iou(predictor.as_mut(), image, &gt)?;
        eprintln!(
            "{name}: IoU@1 {:.3}, NoC@90 {}",
            run.ious.first().copied().unwrap_or(0.0),
            run.noc(0.90, max_clicks)
        );
        runs.push(run);
    }
    let s = noc::summarize(&runs, max_clicks);
    outln!("model            {}", config.display());
    outln!("objects          {}", s.objects);
    outln!("NoC@85           {:.2}", s.noc85);
    outln!("NoC@90           {:.2}", s.noc90);
    outln!("mIoU@1           {:.3}", s.miou_at_1);
    if let Some(b) = s.miou_box_only {
        outln!("mIoU box only    {b:.3}");
    }
    outln!("ms/click median  {:.1}", s.ms_per_click_median);
    outln!("ms/click mean    {:.1}", s.ms_per_click_mean);
    if let Some(path) = json {
        let v = serde_json::json!({"summary": s, "objects": runs, "max_clicks": max_clicks});
        crate::core::io::write_json_atomic(&path, &v)?;
    }
    Ok(())
}

/// `limner predict`: exit 2 on bad input, 1 on a failure of the model.
fn predict(
    image: &std::path::Path,
    prompts: &std::path::Path,
    out: &std::path::Path,
    model: Option<PathBuf>,
    clean_up: PostProcess,
    overwrite: bool,
) -> ExitCode {
    let same = |a: &std::path::Path| matches!((a.canonicalize(), out.canonicalize()), (Ok(x), Ok(y)) if x == y);
    if same(image) || same(prompts) {
        eprintln!(
            "error: {}: --out is an input of this command; choose another file",
            out.display()
        );
        return ExitCode::from(2);
    }
    if out.is_dir() || (out.exists() && !overwrite) {
        eprintln!(
            "error: {}: already exists; nothing was written (pass --overwrite to replace it)",
            out.display()
        );
        return ExitCode::from(2);
    }
    let img = match crate::core::io::read_rgb_image(image) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let p = match crate::model::request::read_prompt_file(prompts, img.width(), img.height()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // Buffers are dropped as soon as they are used and reused in place: a large image
    // costs about 10 bytes a pixel at the peak (see the README's limits).
    let run = move || -> anyhow::Result<()> {
        let config = crate::model::config::resolve_model(model.as_deref())?;
        let mut predictor = crate::model::load_predictor(&config)?;
        let pred = predictor.predict(&img, &p)?;
        drop(img);
        // The clean-up the app applies to the mask it shows.
        let mask = crate::model::postprocess::apply(&pred.mask, &p, clean_up);
        drop(pred);
        let (width, height) = (mask.width, mask.height);
        let mut data = mask.data;
        for v in &mut data {
            *v *= 255;
        }
        let png = image::GrayImage::from_raw(width, height, data)
            .ok_or_else(|| anyhow::anyhow!("mask size mismatch"))?;
        let mut bytes = Vec::new();
        png.write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )?;
        crate::core::io::write_atomic(out, &bytes)?;
        Ok(())
    };
    match run() {
        // A prompt the backend cannot use is bad input, like a bad prompt file.
        Err(e)
            if matches!(
                e.downcast_ref::<crate::model::ModelError>(),
                Some(crate::model::ModelError::Prompt(_))
            ) =>
        {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        r => report(r),
    }
}

/// A textured scene with an elliptic object filling about a fifth of it.
fn synthetic_scene(w: u32, h: u32) -> (image::RgbImage, crate::core::geometry::BitMask) {
    let mut gt = crate::core::geometry::BitMask::new(w, h);
    let (cx, cy, rx, ry) = (
        w as f32 * 0.55,
        h as f32 * 0.5,
        w as f32 * 0.25,
        h as f32 * 0.22,
    );
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let (dx, dy) = ((x as f32 - cx) / rx, (y as f32 - cy) / ry);
        let inside = dx * dx + dy * dy <= 1.0;
        gt.set(i64::from(x), i64::from(y), inside);
        let n = ((x * 7 + y * 13) % 17) as u8;
        if inside {
            image::Rgb([220 - n, 180 - n, 50 + n])
        } else {
            image::Rgb([50 + n, 70 + n, 100 + n])
        }
    });
    (img, gt)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn bench_click(
    sizes: &[String],
    clicks: usize,
    runs: usize,
    model: Option<PathBuf>,
) -> anyhow::Result<()> {
    use crate::model::{self, noc};
    let config = model::config::resolve_model(model.as_deref())?;
    let mut predictor = model::load_predictor(&config)?;
    outln!(
        "{:>11}  {:>16}  {:>18}  {:>8}",
        "image",
        "first click ms",
        "later clicks ms",
        "IoU"
    );
    for size in sizes {
        let (w, h) = size
            .split_once('x')
            .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))
            .ok_or_else(|| anyhow::anyhow!("size {size:?}: expected WxH, e.g. 481x321"))?;
        let (img, gt) = synthetic_scene(w, h);
        let (mut first, mut later, mut last_iou) = (Vec::new(), Vec::new(), 0.0);
        for _ in 0..runs {
            // Every click is simulated (even past IoU 0.9), so later clicks are timed too.
            let mut prompts = model::Prompts::default();
            let mut pred = crate::core::geometry::BitMask::new(w, h);
            for k in 0..clicks {
                let Some(c) = noc::next_click(&gt, &pred) else {
                    break;
                };
                prompts.clicks.push(c);
                let t = std::time::Instant::now();
                let p = predictor.predict(&img, &prompts)?;
                let ms = t.elapsed().as_secs_f64() * 1e3;
                if k == 0 {
                    first.push(ms)
                } else {
                    later.push(ms)
                }
                pred = p.mask;
                prompts.previous = Some(p.probability);
            }
            last_iou = noc::iou(&gt, &pred);
        }
        outln!(
            "{size:>11}  {:>16.1}  {:>18.1}  {last_iou:>8.3}",
            median(first),
            median(later)
        );
    }
    outln!("(medians; predict() wall time: crop, resize, encode, inference, paste back)");
    Ok(())
}
