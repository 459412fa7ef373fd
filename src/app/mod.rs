//! The desktop app (egui): a thin layer over the core.
//!
//! | module | what lives there |
//! |---|---|
//! | [`view`] | the `screen_from_image` transform every tool uses |
//! | [`jobs`] | the one job queue: background work whose result comes back to the app |
//! | [`loader`] | image decoding (a job) |
//! | [`path_dialog`] | the in-app file and folder chooser |
//! | [`command`] | every command: label, help, shortcuts; read by keys, menus, tooltips, help |
//! | [`canvas`] | drawing the image + overlay, tool input |
//! | [`classes`] | the class panel: its drafts in, what the user did out |
//! | [`assist`] | model prompts and the predictor worker thread |
//! | [`tiles`] | textures cut into tiles for images beyond the GPU texture limit |
//! | [`lock`] | one instance per project |
//! | [`recent`] | recently opened projects |
//! | [`segment_panel`] | the selected segment's class, flags, z, comments, review state |
//! | [`review`] | user name, slice tags, review queue, pinned comments, disagreement view |
//! | [`demo`] | the embedded demo project |

pub mod assist;
pub mod canvas;
pub mod classes;
pub mod command;
pub mod demo;
pub mod jobs;
pub mod loader;
pub mod path_dialog;
pub mod recent;
pub mod review;
pub mod segment_panel;
pub mod tiles;
pub mod view;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::core::document::ImageStatus;
use crate::core::lock::{ProjectLock, Writer};
use crate::core::ontology::new_class_color;
use crate::core::project::Project;

use crate::core::edit::history::Edit;
use crate::core::edit::session::ImageSession;
use assist::{AssistWorker, ModelState, PromptDraft};
use canvas::{Canvas, Tool};
use command::Command;
use jobs::{AtExit, Jobs};

/// Starts the app on `dir`, or on the embedded demo project; `gold` (a project or a
/// COCO panoptic file) opens the disagreement view against those labels.
pub fn run(dir: Option<PathBuf>, gold: Option<PathBuf>) -> ExitCode {
    let dir = match dir {
        Some(d) => d,
        None => match demo::unpack() {
            Ok(d) => d,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let mut app = match LimnerApp::open(&dir) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(g) = gold {
        app.load_gold(Some(g), false);
    }
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(format!("Limner — {}", app.project.settings.name))
            .with_inner_size([1280.0, 800.0]),
        ..Default::default()
    };
    match eframe::run_native("Limner", options, Box::new(|_cc| Ok(Box::new(app)))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot open a window: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A message shown briefly over the canvas.
struct Toast {
    text: String,
    is_error: bool,
    until: Instant,
}

/// One image of the project as the image list shows and filters it.
#[derive(Debug, Clone)]
pub struct ImageEntry {
    /// File name, relative to the images folder.
    pub name: String,
    /// Work status (from its document when it has one).
    pub status: ImageStatus,
    /// Slice tags, for the tag filter.
    pub tags: std::collections::BTreeMap<String, String>,
    /// In the gold set.
    pub gold: bool,
}

/// The application: the project (store) plus UI state.
pub struct LimnerApp {
    pub project: Project,
    _lock: Option<ProjectLock>,
    /// The project's images, sorted by name.
    pub images: Vec<ImageEntry>,
    status_filter: Option<ImageStatus>,
    /// Show only gold images.
    gold_filter: bool,
    /// Review state: user, queue, gold labels, disagreement view.
    pub review: review::Review,
    pub current: usize,
    pub session: Option<ImageSession>,
    /// Background work (decodes, dialogs, exports, gold labels, comparisons).
    pub jobs: Jobs,
    pub canvas: Canvas,
    /// Selected class for new segments.
    pub active_class: Option<u32>,
    /// The class list and the active class's admin.
    class_panel: classes::ClassPanel,
    toasts: Vec<Toast>,
    show_help: bool,
    /// Decoded pixels of the image on screen (shared with the model worker).
    current_rgb: Option<std::sync::Arc<image::RgbImage>>,
    /// The selected segment's panel.
    segment_panel: segment_panel::SegmentPanel,
    /// Clean-up applied to the model's masks.
    pub postprocess: crate::model::postprocess::PostProcess,
    pub assist: AssistWorker,
    pub draft: PromptDraft,
    /// Model configs found beside the default one, `(name, path)`.
    models: Vec<(String, PathBuf)>,
    /// Accepted model masks become polygons (else bitmaps).
    pub accept_as_polygon: bool,
    /// Douglas–Peucker tolerance (px) for those polygons; 0 = exact pixel-edge polygons.
    pub polygon_tolerance: f64,
    /// A running pre-label job: (images done, images in all, cancel).
    prelabel: Option<PrelabelProgress>,
    /// Pre-label replaces earlier model segments (else only unlabeled images).
    prelabel_replace: bool,
    /// Accepted model masks take pixels from other segments (else they keep theirs).
    pub model_mode: crate::core::edit::paint::BrushMode,
    /// Undo histories of the images left while the app runs, with the document each
    /// was left at: reopening an image that is unchanged on disk gets its history back.
    histories: std::collections::HashMap<
        String,
        (
            crate::core::document::ImageDocument,
            crate::core::edit::history::History,
        ),
    >,
    /// The in-app file and folder chooser (native dialogs are not on every desktop).
    pub path_dialog: path_dialog::PathDialog,
    /// The segment the list last scrolled to.
    listed_selection: Option<u32>,
    /// The window has been asked for keyboard focus.
    focused: bool,
}

/// Progress of a pre-label job, shared with its worker.
#[derive(Clone, Default)]
struct PrelabelProgress {
    done: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    total: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    cancel: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl LimnerApp {
    /// Opens a project (or a plain folder of images) and takes its lock.
    pub fn open(dir: &std::path::Path) -> Result<Self, String> {
        let project = Project::open(dir).map_err(|e| e.to_string())?;
        let lock = ProjectLock::acquire(&project.root, Writer::App, "(editing)")
            .map_err(|e| e.to_string())?;
        recent::remember(&project.root);
        let mut app = Self::with_project(project);
        app._lock = Some(lock);
        Ok(app)
    }

    /// Switches to another project (saving the current image first). The model worker
    /// is kept, so the model is not loaded again.
    pub fn switch_project(&mut self, dir: &std::path::Path) {
        self.flush();
        // Our own lock is released first, so reopening the same project works; it is
        // taken back if the other project cannot be opened.
        let had_lock = self._lock.take().is_some(); // dropped here: the lock is released
        let opened = Project::open(dir).map_err(|e| e.to_string()).and_then(|p| {
            let lock = ProjectLock::acquire(&p.root, Writer::App, "(editing)")
                .map_err(|e| e.to_string())?;
            Ok((p, lock))
        });
        match opened {
            Ok((project, lock)) => {
                recent::remember(&project.root);
                let assist = std::mem::replace(&mut self.assist, AssistWorker::start(None));
                let mut next = Self::new(project, None);
                next.assist = assist;
                next._lock = Some(lock);
                *self = next;
            }
            Err(e) => {
                self._lock = had_lock
                    .then(|| {
                        ProjectLock::acquire(&self.project.root, Writer::App, "(editing)").ok()
                    })
                    .flatten();
                self.toast_error(e);
            }
        }
    }

    /// Asks for a path in the in-app chooser, starting where `purpose` usually points.
    pub fn ask_path(&mut self, purpose: path_dialog::Purpose) {
        use path_dialog::Purpose;
        let beside = self
            .project
            .root
            .parent()
            .map_or_else(|| self.project.root.clone(), std::path::Path::to_path_buf);
        let start = match &purpose {
            Purpose::Export(f) => beside.join(format!(
                "{}-{}",
                self.project.settings.name.replace('/', "_"),
                f.name()
            )),
            Purpose::PrelabelModel => crate::model::config::default_model_config()
                .and_then(|p| p.parent().map(std::path::Path::to_path_buf))
                .unwrap_or(beside),
            _ => beside,
        };
        self.path_dialog.ask(purpose, &start);
    }

    /// Acts on a path the user chose.
    fn path_chosen(&mut self, purpose: path_dialog::Purpose, path: PathBuf) {
        use path_dialog::Purpose;
        match purpose {
            Purpose::OpenProject => self.switch_project(&path),
            Purpose::Export(f) => self.export_as(f, Some(path)),
            Purpose::PrelabelModel => self.prelabel_with(path),
            Purpose::Gold { folder } => self.load_gold(Some(path), folder),
        }
    }

    /// Runs the system's dialog for `purpose` on a worker thread (never blocks a
    /// frame); when it gives nothing (cancelled, or no portal / zenity), a toast says so.
    fn native_dialog(&mut self, purpose: path_dialog::Purpose) {
        let title = purpose.title();
        let folder = purpose.wants_folder();
        let work = move || {
            let d = rfd::FileDialog::new().set_title(title);
            let path = if folder {
                d.pick_folder()
            } else {
                d.pick_file()
            };
            (purpose, path)
        };
        self.jobs.spawn(
            jobs::FOLDER_DIALOG,
            AtExit::Abandon,
            work,
            |app, _, (purpose, path)| match path {
                Some(p) => app.path_chosen(purpose, p),
                None => app.toast_error(
                    "The system dialog gave no path (cancelled, or this desktop has no xdg portal or zenity); Limner's own chooser works everywhere",
                ),
            },
        );
    }

    /// Exports the project as `format` into a folder the user picks; the dialog, reading
    /// and writing run on a worker thread and the result comes back as a toast.
    pub fn export_as(&mut self, format: crate::core::formats::Format, folder: Option<PathBuf>) {
        use crate::core::formats;
        let Some(folder) = folder else {
            self.ask_path(path_dialog::Purpose::Export(format));
            return;
        };
        self.flush();
        let root = self.project.root.clone();
        let work = move || {
            let out = format.output_in(&folder);
            let opts = formats::export::ExportOptions {
                overwrite: false,
                inputs: vec![root.clone()],
            };
            let result = formats::read(formats::Format::Project, &root, None)
                .and_then(|d| formats::export::export(format, d, &out, &opts))
                .map(|r| {
                    let mut m = format!(
                        "Exported {} image(s), {} segment(s) as {} to {}",
                        r.images,
                        r.segments,
                        format.name(),
                        out.display()
                    );
                    for w in r.warnings.iter().take(3) {
                        m.push_str(&format!("\n{w}"));
                    }
                    m
                })
                .map_err(|e| format!("Export failed: {e}"));
            Some(result)
        };
        self.jobs.spawn(
            jobs::EXPORT,
            AtExit::Finish,
            work,
            |app, _, result| match result {
                Some(Ok(m)) => app.toast(m),
                Some(Err(e)) => app.toast_error(e),
                None => {}
            },
        );
    }

    /// Pre-labels the project with the model config `config` (kind `semantic` or
    /// `yolo-seg`) on a worker thread: every image without a person's segments except
    /// the one on screen, each saved when done (see `model::prelabel`). Progress and a
    /// cancel button show in the toolbar; the image list is refreshed at the end.
    pub fn prelabel_with(&mut self, config: PathBuf) {
        use crate::model::prelabel::{self, Mode, Prelabeler};
        use std::sync::atomic::Ordering;
        if self.prelabel.is_some() {
            return;
        }
        self.flush();
        let progress = PrelabelProgress::default();
        self.prelabel = Some(progress.clone());
        let project = self.project.clone();
        let open = self.images.get(self.current).map(|e| e.name.clone());
        let user = self.review.user.clone();
        let mode = if self.prelabel_replace {
            Mode::ReplaceModel
        } else {
            Mode::Add
        };
        let work = move || -> Result<String, String> {
            let cfg = crate::model::ModelConfig::load(&config).map_err(|e| e.to_string())?;
            let mut model = Prelabeler::load(&cfg).map_err(|e| e.to_string())?;
            let r = prelabel::prelabel_project(
                &project,
                &mut model,
                None,
                mode,
                &user,
                &|name| open.as_deref() == Some(name),
                |done, total| {
                    progress.done.store(done, Ordering::Relaxed);
                    progress.total.store(total, Ordering::Relaxed);
                    !progress.cancel.load(Ordering::Relaxed)
                },
            )
            .map_err(|e| e.to_string())?;
            let mut m = format!(
                "Pre-labeled {} image(s) with {} segment(s){}; kept {} a person labeled, {} already done, {} with other model segments, skipped the open image",
                r.labeled,
                r.segments,
                if r.cancelled { " (cancelled)" } else { "" },
                r.kept_human,
                r.already_done,
                r.kept_model
            );
            for f in r.failed.iter().take(3) {
                m.push_str(&format!("\nfailed: {f}"));
            }
            Ok(m)
        };
        self.jobs
            .spawn(jobs::PRELABEL, AtExit::Abandon, work, |app, _, result| {
                app.prelabel = None;
                app.refresh_image_entries();
                match result {
                    Ok(m) => app.toast(m),
                    Err(e) => app.toast_error(format!("Pre-label failed: {e}")),
                }
            });
    }

    /// Re-reads every image's status, tags and gold flag from disk (after a job wrote
    /// documents), keeping the image on screen as it is.
    fn refresh_image_entries(&mut self) {
        for e in &mut self.images {
            let p = self.project.annotation_path(&e.name);
            if let Some(d) = p
                .exists()
                .then(|| self.project.read_document_file(&p).ok())
                .flatten()
            {
                e.status = d.status;
                e.gold = d.gold;
                e.tags = d.tags;
            }
        }
    }

    /// The pre-label job's progress and its cancel button, while it runs.
    fn prelabel_status_ui(&mut self, ui: &mut egui::Ui) {
        use std::sync::atomic::Ordering;
        let Some(p) = &self.prelabel else { return };
        let (done, total) = (
            p.done.load(Ordering::Relaxed),
            p.total.load(Ordering::Relaxed),
        );
        ui.separator();
        ui.add(
            egui::ProgressBar::new(if total == 0 {
                0.0
            } else {
                done as f32 / total as f32
            })
            .desired_width(120.0)
            .text(format!("pre-label {done}/{total}")),
        );
        if ui
            .button("Cancel")
            .on_hover_text("Stop after the current image; what is done stays saved")
            .clicked()
        {
            p.cancel.store(true, Ordering::Relaxed);
        }
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_millis(200));
    }

    /// The recently used classes, most recent first (the class panel's recent row).
    pub fn class_panel_recent(&self) -> Vec<u32> {
        self.class_panel.recent.clone()
    }

    /// True while an export runs.
    pub fn is_exporting(&self) -> bool {
        self.jobs.is_running(jobs::EXPORT)
    }

    /// Builds the app state for an open project with the default model (no lock).
    pub fn with_project(project: Project) -> Self {
        Self::new(project, crate::model::config::default_model_config())
    }

    /// Builds the app state for an open project; `model` is the model config for the
    /// prompt tools (`None`: prompt tools disabled). No lock is taken (tests use this).
    pub fn new(project: Project, model: Option<PathBuf>) -> Self {
        let (images, warnings) = project.list_images().unwrap_or_default();
        let images = images
            .into_iter()
            .map(|name| {
                let p = project.annotation_path(&name);
                let doc = p
                    .exists()
                    .then(|| project.read_document_file(&p).ok())
                    .flatten();
                ImageEntry {
                    status: doc.as_ref().map(|d| d.status).unwrap_or_default(),
                    gold: doc.as_ref().is_some_and(|d| d.gold),
                    tags: doc.map(|d| d.tags).unwrap_or_default(),
                    name,
                }
            })
            .collect();
        let active_class = project.ontology.active_categories().next().map(|c| c.id);
        let mut app = LimnerApp {
            project,
            _lock: None,
            images,
            status_filter: None,
            gold_filter: false,
            review: review::Review::default(),
            current: 0,
            session: None,
            jobs: Jobs::default(),
            canvas: Canvas::default(),
            active_class,
            class_panel: Default::default(),
            toasts: Vec::new(),
            show_help: false,
            current_rgb: None,
            segment_panel: Default::default(),
            postprocess: Default::default(),
            models: model
                .as_deref()
                .and_then(std::path::Path::parent)
                .map(crate::model::config::list_models)
                .unwrap_or_default(),
            assist: AssistWorker::start(model),
            draft: PromptDraft::default(),
            accept_as_polygon: false,
            polygon_tolerance: 1.0,
            prelabel: None,
            prelabel_replace: false,
            model_mode: crate::core::edit::paint::BrushMode::Protect,
            histories: Default::default(),
            path_dialog: Default::default(),
            listed_selection: None,
            focused: false,
        };
        for w in warnings {
            app.toast_error(format!("{}: {}", w.path.display(), w.message));
        }
        app.open_image(0);
        app
    }

    fn toast(&mut self, text: impl Into<String>) {
        self.toasts.push(Toast {
            text: text.into(),
            is_error: false,
            until: Instant::now() + Duration::from_secs(3),
        });
    }

    fn toast_error(&mut self, text: impl Into<String>) {
        let text = text.into();
        log::error!("{text}");
        self.toasts.push(Toast {
            text,
            is_error: true,
            until: Instant::now() + Duration::from_secs(8),
        });
    }

    /// Saves the current image (if dirty) and opens image `index`.
    pub fn open_image(&mut self, index: usize) {
        if self.images.is_empty() {
            return;
        }
        self.flush();
        if let Some(old) = self.session.take()
            && old.save_error.is_none()
        {
            let name = old.doc.image.file_name.clone();
            self.histories.insert(name, (old.doc, old.history));
        }
        let index = index.min(self.images.len() - 1);
        self.current = index;
        let name = self.images[index].name.clone();
        match self.project.load_document(&name) {
            Ok(doc) => {
                // The history is only valid on the document it was left at: a file
                // changed on disk since (another tool, a merge) starts a new one.
                let kept = self
                    .histories
                    .remove(&name)
                    .filter(|(left, _)| *left == doc)
                    .map(|(_, h)| h);
                let mut session = ImageSession::new(doc);
                if let Some(h) = kept {
                    session.history = h;
                }
                self.session = Some(session);
            }
            Err(e) => {
                self.session = None;
                self.toast_error(e.to_string());
            }
        }
        self.canvas.reset_for_new_image();
        self.draft = PromptDraft::default();
        self.current_rgb = None;
        let path = self.project.image_path(&name);
        let to_decode = path.clone();
        self.jobs.spawn(
            jobs::DECODE,
            AtExit::Abandon,
            move || loader::decode(&to_decode),
            move |app, ctx, image| app.show_decoded(ctx, &path, image),
        );
    }

    /// Puts a decoded image on the canvas if it is still the one open.
    fn show_decoded(
        &mut self,
        ctx: &egui::Context,
        path: &std::path::Path,
        image: Result<loader::LoadedImage, String>,
    ) {
        match image {
            Ok(img)
                if self
                    .images
                    .get(self.current)
                    .map(|e| self.project.image_path(&e.name))
                    .as_deref()
                    == Some(path) =>
            {
                self.canvas.set_image(ctx, img.size, img.tiles);
                // Models with per-image work (SAM's encoder) start on this image now
                // and on the next one in the list afterwards.
                self.assist.prepare(img.rgb.clone());
                if let Some(next) = self.images.get(self.current + 1) {
                    self.assist
                        .prepare_file(self.project.image_path(&next.name));
                }
                self.current_rgb = Some(img.rgb);
                if let Some((segment, bbox)) = self.review.pending_focus.take() {
                    self.canvas.selected = Some(segment);
                    self.zoom_to_bbox(bbox);
                }
            }
            Ok(_) => {}
            Err(e) => self.toast_error(e),
        }
    }

    /// Writes pending edits now.
    pub fn flush(&mut self) {
        if let Some(s) = self.session.as_mut()
            && s.is_dirty()
            && !s.autosave(&self.project, true)
            && let Some(e) = s.save_error.clone()
        {
            self.toast_error(e);
        }
    }

    fn visible_indices(&self) -> Vec<usize> {
        let status = if self.review.mode {
            Some(ImageStatus::Done)
        } else {
            self.status_filter
        };
        (0..self.images.len())
            .filter(|&i| {
                let e = &self.images[i];
                status.is_none_or(|f| e.status == f)
                    && (!self.gold_filter || e.gold)
                    && review::tags_match(&e.tags, &self.review.tag_filter)
            })
            .collect()
    }

    fn step_image(&mut self, delta: i64) {
        let vis = self.visible_indices();
        if vis.is_empty() {
            return;
        }
        let pos = vis.iter().position(|&i| i == self.current).unwrap_or(0) as i64;
        let next = (pos + delta).clamp(0, vis.len() as i64 - 1) as usize;
        if vis[next] != self.current {
            self.open_image(vis[next]);
        }
    }

    /// Applies an edit to the open image as one undo step.
    pub fn apply_edit(&mut self, edit: Edit) {
        if self.session.as_mut().is_some_and(|s| s.apply(edit)) {
            self.after_edit();
        }
    }

    /// Undoes the last edit of the open image and selects what it gave back.
    pub fn undo(&mut self) {
        let ids = self
            .session
            .as_ref()
            .and_then(|s| s.history.next_undo())
            .map(Edit::segment_ids)
            .unwrap_or_default();
        if self.session.as_mut().is_some_and(|s| s.undo()) {
            self.select_after_history(&ids);
            self.after_edit();
        }
    }

    /// Redoes the last undone edit of the open image and selects what it changed.
    pub fn redo(&mut self) {
        let ids = self
            .session
            .as_ref()
            .and_then(|s| s.history.next_redo())
            .map(Edit::segment_ids)
            .unwrap_or_default();
        if self.session.as_mut().is_some_and(|s| s.redo()) {
            self.select_after_history(&ids);
            self.after_edit();
        }
    }

    /// After an undo or redo of an edit of `ids`: the last of them still there is
    /// selected (the edited segment), none when all are gone.
    fn select_after_history(&mut self, ids: &[u32]) {
        let Some(s) = self.session.as_ref() else {
            return;
        };
        self.canvas.selected = ids
            .iter()
            .rev()
            .copied()
            .find(|&id| s.doc.segment(id).is_some());
    }

    /// Records who edited, and moves a todo image to in progress.
    fn after_edit(&mut self) {
        self.record_edit();
        if self
            .session
            .as_ref()
            .is_some_and(|s| s.doc.status == ImageStatus::Todo)
        {
            self.set_image_status(ImageStatus::InProgress);
        }
    }

    /// Sends the current prompts to the model worker.
    fn request_prediction(&mut self) {
        if let ModelState::Unavailable(m) = &self.assist.state {
            let m = format!("Prompt tools are disabled: {m}");
            self.toast_error(m);
            return;
        }
        let Some(rgb) = self.current_rgb.clone() else {
            return;
        };
        if self.draft.prompts.is_empty() {
            self.draft = PromptDraft::default();
            return;
        }
        // Refine: the first prompt on a selected segment starts from its current mask.
        if self.draft.prompts.previous.is_none()
            && self.draft.refining.is_none()
            && let Some(id) = self.canvas.selected
            && let Some(s) = self.session.as_ref()
            && let Some(seg) = s.doc.segment(id)
            && let Ok(mask) = seg.geometry.to_mask(s.doc.image.width, s.doc.image.height)
        {
            self.draft.refining = Some(id);
            self.draft.prompts.previous = Some(mask.data.iter().map(|&v| f32::from(v)).collect());
        }
        self.assist.request(rgb, self.draft.prompts.clone());
    }

    /// Turns the model's preview into a segment of the active class (one undo step).
    fn accept_prediction(&mut self) {
        let Some(mask) = self.draft.preview.take() else {
            return;
        };
        let Some(class) = self.active_class else {
            self.draft.preview = Some(mask);
            self.toast(canvas::PICK_A_CLASS_FIRST);
            return;
        };
        if self.session.is_none() {
            return;
        }
        if mask.area() == 0 {
            self.toast("The mask is empty; add a positive click");
            self.draft = PromptDraft::default();
            return;
        }
        use crate::core::edit::accept::{MaskShape, accept_mask};
        let shape = if self.accept_as_polygon {
            MaskShape::Polygons {
                tolerance: self.polygon_tolerance,
            }
        } else {
            MaskShape::Bitmap
        };
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let (mask, kept) = match self.model_mode {
            crate::core::edit::paint::BrushMode::Protect => {
                crate::core::edit::accept::protect_others(&mask, &s.label_map, self.draft.refining)
            }
            crate::core::edit::paint::BrushMode::Overwrite => (mask, 0),
        };
        if mask.area() == 0 {
            self.toast("Every pixel of the mask belongs to other segments (protect); switch to overwrite to take them");
            self.draft = PromptDraft::default();
            return;
        }
        let accepted = accept_mask(&s.doc, &mask, class, self.draft.refining, shape);
        if kept > 0 {
            self.toast(format!(
                "Protect: {kept} px stay with the segments they belong to"
            ));
        }
        if let Some(a) = accepted {
            if let Some(iou) = a.polygon_iou.filter(|&iou| iou < 0.98) {
                self.toast(format!(
                    "Polygon simplification kept IoU {iou:.3} with the mask; lower the tolerance for a closer fit"
                ));
            }
            if a.is_new {
                // Not selected: the next click starts a new object rather than refining this one.
                self.canvas.selected = None;
            }
            self.apply_edit(a.edit);
        }
        self.draft = PromptDraft::default();
    }

    /// The commands whose shortcuts were pressed this frame; none while a text field
    /// or a review prompt has the keyboard.
    fn pressed_commands(&self, ctx: &egui::Context) -> Vec<(Command, usize)> {
        if ctx.text_edit_focused()
            || self.review_prompt_open()
            || self.path_dialog.is_open()
            || self.class_panel.confirm_merge.is_some()
        {
            return Vec::new();
        }
        ctx.input(Command::pressed)
    }

    /// Runs a command of the app; `index` is the shortcut that gave it (the class
    /// digit). View and drawing commands are the canvas's (see [`Canvas::ui`]).
    pub fn run_command(&mut self, ctx: &egui::Context, command: Command, index: usize) {
        if let Some(t) = command.tool() {
            // Works before the image has decoded: the tool is waiting when it has.
            self.canvas.tool = t;
            return;
        }
        match command {
            Command::NextImage => self.step_image(1),
            Command::PreviousImage => self.step_image(-1),
            Command::PickClass => {
                if let Some(c) = self.project.ontology.active_categories().nth(index) {
                    self.active_class = Some(c.id);
                }
            }
            Command::FindClass => self.class_panel.find(),
            Command::Undo => self.undo(),
            Command::Redo => self.redo(),
            Command::ToggleHoleMode => self.canvas.hole_mode = !self.canvas.hole_mode,
            Command::ToggleHelp => self.show_help = !self.show_help,
            Command::ToggleReviewMode
            | Command::AcceptImage
            | Command::RejectImage
            | Command::PinComment
            | Command::ToggleDisagreement
            | Command::NextWorstSegment
            | Command::NextSuspect => self.run_review_command(ctx, command),
            Command::DeleteSegment
            | Command::ZoomIn
            | Command::ZoomOut
            | Command::FitImage
            | Command::ActualSize
            | Command::Confirm
            | Command::RemoveLast
            | Command::Cancel
            | Command::BrushSmaller
            | Command::BrushLarger
            | Command::SelectTool
            | Command::PolygonTool
            | Command::BrushTool
            | Command::EraserTool
            | Command::WandTool
            | Command::ClickTool
            | Command::ScribbleTool
            | Command::BoxTool => {}
        }
    }

    fn image_list_ui(&mut self, ui: &mut egui::Ui) {
        ui.heading("Images");
        egui::ComboBox::from_label("status")
            .selected_text(self.status_filter.map(status_label).unwrap_or("all"))
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut self.status_filter, None, "all");
                for s in ALL_STATUSES {
                    ui.selectable_value(&mut self.status_filter, Some(s), status_label(s));
                }
            });
        ui.horizontal(|ui| {
            let l = ui.label("tag:");
            ui.add(
                egui::TextEdit::singleline(&mut self.review.tag_filter)
                    .hint_text("scene=indoor")
                    .desired_width(110.0),
            )
            .labelled_by(l.id)
            .on_hover_text("Show only images with this tag (key=value or key)");
            ui.checkbox(&mut self.gold_filter, "gold")
                .on_hover_text("Show only gold images");
        });
        if self.review.mode {
            ui.colored_label(
                egui::Color32::from_rgb(230, 160, 0),
                "Review queue: done, not yet reviewed",
            );
        }
        ui.separator();
        let mut open = None;
        egui::ScrollArea::vertical().show(ui, |ui| {
            for i in self.visible_indices() {
                let e = &self.images[i];
                let gold = if e.gold { " · gold" } else { "" };
                let label = format!("{}  · {}{gold}", e.name, status_label(e.status));
                if ui.selectable_label(i == self.current, label).clicked() {
                    open = Some(i);
                }
            }
        });
        if let Some(i) = open {
            self.open_image(i);
        }
    }

    fn side_panel_ui(&mut self, ui: &mut egui::Ui) {
        let usage = self.session.as_ref().map(|s| {
            let mut u = std::collections::BTreeMap::new();
            for seg in &s.doc.segments {
                *u.entry(seg.category_id).or_insert(0usize) += 1;
            }
            u
        });
        let classes = self.project.ontology.active_categories().count();
        let actions = egui::CollapsingHeader::new(format!("Classes ({classes})"))
            .id_salt("classes_section")
            .default_open(true)
            .show(ui, |ui| {
                self.class_panel.list_ui(
                    ui,
                    &self.project.ontology,
                    self.active_class,
                    &self.canvas.hidden,
                    usage.as_ref(),
                )
            })
            .body_returned
            .unwrap_or_default();
        for a in actions {
            self.apply_class_action(a);
        }
        ui.separator();
        let segments = self.session.as_ref().map_or(0, |s| s.doc.segments.len());
        egui::CollapsingHeader::new(format!("Segments ({segments})"))
            .id_salt("segments_section")
            .default_open(true)
            .show(ui, |ui| self.segment_list_ui(ui));
        ui.separator();
        egui::CollapsingHeader::new("Selected segment")
            .id_salt("selected_section")
            .default_open(true)
            .show(ui, |ui| self.segment_properties_ui(ui));
        ui.separator();
        self.review_panel_ui(ui);
        ui.separator();
        let actions = self
            .class_panel
            .admin_ui(ui, &self.project.ontology, self.active_class);
        for a in actions {
            self.apply_class_action(a);
        }
    }

    /// The open image's segments, in a virtualized list that scrolls to the selection
    /// when it changes (a click on the canvas, an undo, a jump to a suspect).
    fn segment_list_ui(&mut self, ui: &mut egui::Ui) {
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let stats = &s.stats;
        let mut delete = None;
        let mut select = None;
        // Only the visible rows are laid out: an image with 1000 segments costs no more
        // per frame than one with 20.
        let row_height = ui.spacing().interact_size.y;
        let rows = s.doc.segments.len();
        let mut list = egui::ScrollArea::vertical()
            .id_salt("segment_list")
            .max_height(240.0);
        if self.canvas.selected != self.listed_selection {
            self.listed_selection = self.canvas.selected;
            if let Some(row) = self
                .canvas
                .selected
                .and_then(|id| s.doc.segments.iter().position(|g| g.id == id))
            {
                // The selected row in the middle of the list's 240 px.
                let spacing = ui.spacing().item_spacing.y;
                let top = row as f32 * (row_height + spacing) - 100.0;
                list = list.vertical_scroll_offset(top.max(0.0));
            }
        }
        list.show_rows(ui, row_height, rows, |ui, range| {
            for seg in &s.doc.segments[range] {
                let name = self
                    .project
                    .ontology
                    .get(seg.category_id)
                    .map(|c| c.name.as_str())
                    .unwrap_or("?");
                let area = stats.get(&seg.id).map(|st| st.area).unwrap_or(0);
                ui.horizontal(|ui| {
                    let label = format!(
                        "#{} {name} · {area} px · {:?} · z {}",
                        seg.id, seg.source, seg.z
                    );
                    // The button first: a long row is cut at its end, never the button.
                    if ui
                        .small_button("del")
                        .on_hover_text(Command::DeleteSegment.tooltip())
                        .clicked()
                    {
                        delete = Some(seg.id);
                    }
                    if ui
                        .selectable_label(self.canvas.selected == Some(seg.id), label)
                        .clicked()
                    {
                        select = Some(seg.id);
                    }
                });
            }
        });
        if let Some(id) = select {
            self.canvas.selected = Some(id);
            // Picked in the list: it is in view already.
            self.listed_selection = Some(id);
        }
        if let Some(id) = delete
            && let Some(e) = self.session.as_ref().and_then(|s| Edit::remove(&s.doc, id))
        {
            self.apply_edit(e);
        }
    }

    /// Class, iscrowd, z-order and comments of the selected segment; each change is one
    /// undo step.
    fn segment_properties_ui(&mut self, ui: &mut egui::Ui) {
        let selected = self
            .canvas
            .selected
            .and_then(|id| self.session.as_ref()?.doc.segment(id).cloned());
        let actions = self
            .segment_panel
            .ui(ui, selected.as_ref(), &self.project.ontology);
        let Some(id) = selected.map(|s| s.id) else {
            return;
        };
        for a in actions {
            match a {
                segment_panel::SegmentAction::Change(after) => {
                    if let Some(e) = self
                        .session
                        .as_ref()
                        .and_then(|s| Edit::replace(&s.doc, after))
                    {
                        self.apply_edit(e);
                    }
                }
                segment_panel::SegmentAction::Comment(text) => {
                    let user = self.review.user.clone();
                    if let Some(s) = self.session.as_mut()
                        && s.doc.add_comment(&user, Some(id), &text, None)
                    {
                        s.touch_metadata();
                    }
                }
                segment_panel::SegmentAction::SetReview(state) => {
                    self.set_segment_review(id, state)
                }
            }
        }
    }

    /// Applies what the user did in the class panel. Retire refuses a class in use;
    /// merge remaps every segment of the project.
    fn apply_class_action(&mut self, action: classes::ClassAction) {
        use classes::ClassAction;
        match action {
            ClassAction::Pick(id) => self.active_class = Some(id),
            ClassAction::SetHidden(id, hidden) => self.canvas.set_hidden(id, hidden),
            ClassAction::Add(name) => {
                let color = new_class_color(self.project.ontology.next_id(), canvas::PREVIEW_COLOR);
                match self.project.ontology.add(&name, color, true) {
                    Ok(id) => match self.project.save_ontology() {
                        Ok(()) => {
                            self.active_class = Some(id);
                            self.class_panel.added();
                        }
                        Err(e) => self.toast_error(e.to_string()),
                    },
                    Err(e) => self.toast_error(e),
                }
            }
            ClassAction::Rename(id, name) => match self.project.ontology.rename(id, &name) {
                Ok(()) => self.save_ontology_or_toast(),
                Err(e) => self.toast_error(e),
            },
            ClassAction::SetThing(id, isthing) => {
                if let Some(c) = self.category_mut(id) {
                    c.isthing = isthing;
                }
                self.save_ontology_or_toast();
            }
            ClassAction::SetColor(id, color) => {
                if let Some(c) = self.category_mut(id) {
                    c.color = color;
                }
                self.save_ontology_or_toast();
            }
            ClassAction::Retire(id) => {
                self.flush();
                match self.project.retire_category(id) {
                    Ok(()) => {
                        self.active_class = self
                            .project
                            .ontology
                            .active_categories()
                            .next()
                            .map(|c| c.id)
                    }
                    Err(e) => self.toast_error(e.to_string()),
                }
            }
            ClassAction::Merge { from, into } => {
                self.flush();
                let into_name = self
                    .project
                    .ontology
                    .get(into)
                    .map(|c| c.name.clone())
                    .unwrap_or_default();
                match self.project.merge_category(from, into) {
                    Ok(n) => {
                        self.toast(format!("{n} segment(s) moved to {into_name}"));
                        self.active_class = Some(into);
                        self.open_image(self.current);
                    }
                    Err(e) => self.toast_error(e.to_string()),
                }
            }
        }
    }

    fn category_mut(&mut self, id: u32) -> Option<&mut crate::core::ontology::Category> {
        self.project
            .ontology
            .categories
            .iter_mut()
            .find(|c| c.id == id)
    }

    fn save_ontology_or_toast(&mut self) {
        if let Err(e) = self.project.save_ontology() {
            self.toast_error(e.to_string());
        }
        if let Some(s) = self.session.as_mut() {
            s.touch();
        }
    }

    /// The threshold assist's level slider (0 = Otsu): the preview follows it.
    fn threshold_level_ui(&mut self, ui: &mut egui::Ui) {
        if self.assist.kind != Some(crate::model::ModelKind::Threshold) {
            return;
        }
        let mut level = self.assist.threshold_level;
        ui.add(
            egui::Slider::new(&mut level, 0..=255)
                .text("level")
                .custom_formatter(|v, _| {
                    if v < 0.5 {
                        "Otsu".into()
                    } else {
                        format!("{v:.0}")
                    }
                }),
        )
        .on_hover_text(
            "Grey level of the threshold assist (0: Otsu's level, on grey or on the main colour axis \
             when that separates better); the preview follows",
        );
        if level != self.assist.threshold_level {
            self.assist.set_threshold_level(level);
            if !self.draft.prompts.is_empty() {
                self.request_prediction();
            }
        }
    }

    /// Picks the model behind the prompt tools (every config in `models/`).
    fn model_picker_ui(&mut self, ui: &mut egui::Ui) {
        if self.models.len() < 2 {
            return;
        }
        let current = self.assist.config.clone();
        let name = self
            .models
            .iter()
            .find(|(_, p)| Some(p) == current.as_ref())
            .map_or("model", |(n, _)| n.as_str())
            .to_string();
        let mut chosen = None;
        egui::ComboBox::from_id_salt("model_picker")
            .selected_text(name)
            .show_ui(ui, |ui| {
                for (n, p) in &self.models {
                    if ui
                        .selectable_label(Some(p) == current.as_ref(), n)
                        .clicked()
                    {
                        chosen = Some(p.clone());
                    }
                }
            })
            .response
            .on_hover_text("Model or classical assist behind the click, scribble and box tools");
        if let Some(p) = chosen
            && Some(&p) != current.as_ref()
        {
            self.assist = AssistWorker::start(Some(p));
            // Now, not next frame: the model may be ready before another frame runs.
            self.assist.waker.set(ui.ctx());
            self.draft = PromptDraft::default();
            if let Some(rgb) = self.current_rgb.clone() {
                self.assist.prepare(rgb);
            }
        }
    }

    /// Two rows: menus, tools, view and the image's status, which stay put; then the
    /// active tool's options, so switching tools never moves the first row.
    fn toolbar_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            self.review_menu_ui(ui);
            self.project_menu_ui(ui);
            ui.separator();
            self.tool_buttons_ui(ui);
            ui.separator();
            ui.add(
                egui::Slider::new(&mut self.canvas.opacity, 0.0..=1.0)
                    .text("opacity")
                    .show_value(false),
            )
            .on_hover_text("Overlay opacity");
            ui.checkbox(&mut self.canvas.outline_only, "outlines");
            ui.separator();
            self.image_status_ui(ui);
            self.prelabel_status_ui(ui);
        });
        ui.horizontal_wrapped(|ui| {
            ui.weak(format!("{}:", self.canvas.tool.label()));
            self.tool_options_ui(ui);
        });
    }

    /// Open a folder, export, recent projects.
    fn project_menu_ui(&mut self, ui: &mut egui::Ui) {
        ui.menu_button("Project", |ui| {
            if ui
                .button("Open folder…")
                .on_hover_text("A Limner project or a plain folder of images")
                .clicked()
            {
                self.ask_path(path_dialog::Purpose::OpenProject);
                ui.close();
            }
            ui.separator();
            ui.menu_button("Export as", |ui| {
                for f in &crate::core::formats::Format::ALL {
                    if *f == crate::core::formats::Format::Project {
                        continue;
                    }
                    if ui
                        .add_enabled(!self.is_exporting(), egui::Button::new(f.name()))
                        .on_hover_text(
                            "Writes the whole project in this format (all images saved first)",
                        )
                        .clicked()
                    {
                        self.export_as(*f, None);
                        ui.close();
                    }
                }
            });
            ui.separator();
            ui.menu_button("Pre-label", |ui| {
                ui.checkbox(&mut self.prelabel_replace, "Replace earlier model segments")
                    .on_hover_text("Otherwise only images without segments are labeled; images a person labeled are never changed");
                let dir = crate::model::config::default_model_config()
                    .and_then(|p| p.parent().map(std::path::Path::to_path_buf));
                let found = dir
                    .as_deref()
                    .map(crate::model::config::list_prelabel_models)
                    .unwrap_or_default();
                for (name, path) in found {
                    if ui
                        .add_enabled(self.prelabel.is_none(), egui::Button::new(name))
                        .clicked()
                    {
                        self.prelabel_with(path);
                        ui.close();
                    }
                }
                if ui
                    .add_enabled(self.prelabel.is_none(), egui::Button::new("Model config…"))
                    .on_hover_text("A semantic or yolo-seg model config (see the README)")
                    .clicked()
                {
                    self.ask_path(path_dialog::Purpose::PrelabelModel);
                    ui.close();
                }
            });
            ui.separator();
            ui.label("Recent");
            for p in recent::load() {
                if ui.button(p.display().to_string()).clicked() {
                    self.switch_project(&p);
                    ui.close();
                }
            }
        });
    }

    /// The tools, the model's state, undo and redo.
    fn tool_buttons_ui(&mut self, ui: &mut egui::Ui) {
        for t in Tool::ALL {
            let tip = Command::for_tool(t).tooltip();
            let hint = match (&self.assist.state, t.uses_model()) {
                (ModelState::Unavailable(m), true) => format!("{tip}\nunavailable: {m}"),
                (ModelState::Loading, true) => format!("{tip}\nmodel loading…"),
                _ => tip,
            };
            ui.selectable_value(&mut self.canvas.tool, t, t.label())
                .on_hover_text(hint);
        }
        ui.separator();
        let (can_undo, can_redo) = self
            .session
            .as_ref()
            .map(|s| (s.history.can_undo(), s.history.can_redo()))
            .unwrap_or_default();
        for (command, enabled) in [(Command::Undo, can_undo), (Command::Redo, can_redo)] {
            if ui
                .add_enabled(enabled, egui::Button::new(command.label()))
                .on_hover_text(command.tooltip())
                .clicked()
            {
                self.run_command(ui.ctx(), command, 0);
            }
        }
    }

    /// The model's state: loading, running, its last time.
    fn model_status_ui(&mut self, ui: &mut egui::Ui) {
        let model_label = match &self.assist.state {
            ModelState::Loading => "model: loading…".to_string(),
            ModelState::Ready if self.assist.is_busy() => "model: running…".to_string(),
            ModelState::Ready => match self.assist.last_ms {
                Some(ms) => format!("model: {ms:.0} ms"),
                None => "model: ready".to_string(),
            },
            ModelState::Unavailable(_) => "model: unavailable".to_string(),
        };
        let l = ui.label(model_label);
        if let ModelState::Unavailable(m) = &self.assist.state {
            l.on_hover_text(m.clone());
        }
    }

    /// Settings of the active tool (hole mode, model clean-up, wand and brush).
    fn tool_options_ui(&mut self, ui: &mut egui::Ui) {
        if self.canvas.tool == Tool::Polygon {
            ui.checkbox(&mut self.canvas.hole_mode, "hole")
                .on_hover_text(Command::ToggleHoleMode.tooltip());
            ui.separator();
        }
        if self.canvas.tool.uses_model() {
            self.model_status_ui(ui);
            self.model_picker_ui(ui);
            self.threshold_level_ui(ui);
            ui.checkbox(&mut self.accept_as_polygon, "as polygon").on_hover_text(
                    "Accepted masks become polygons with holes (editable vertices) instead of bitmaps",
                );
            if self.accept_as_polygon {
                ui.add(
                    egui::DragValue::new(&mut self.polygon_tolerance)
                        .range(0.0..=20.0)
                        .speed(0.1)
                        .prefix("tolerance ")
                        .suffix(" px"),
                )
                .on_hover_text("Douglas–Peucker tolerance; 0 keeps exact pixel-edge polygons");
            }
            ui.checkbox(
                &mut self.postprocess.keep_touching_positive,
                "only clicked parts",
            )
            .on_hover_text("Drop mask parts that no positive click or scribble touches");
            ui.add(
                egui::DragValue::new(&mut self.postprocess.fill_holes_below)
                    .range(0..=100_000)
                    .custom_formatter(|v, _| fill_holes_text(v as u32))
                    .custom_parser(|t| {
                        let t = t.trim().trim_start_matches("fill holes").trim();
                        if t.is_empty() || t == "off" {
                            return Some(0.0);
                        }
                        t.trim_start_matches('<')
                            .trim_end_matches("px")
                            .trim()
                            .parse()
                            .ok()
                    }),
            )
            .on_hover_text(
                "Fill holes smaller than this many pixels (drag, or type a number; 0: off)",
            );
            ui.separator();
            ui.selectable_value(
                &mut self.model_mode,
                crate::core::edit::paint::BrushMode::Protect,
                "protect",
            )
            .on_hover_text("An accepted mask keeps off other segments' pixels (draw behind)");
            ui.selectable_value(
                &mut self.model_mode,
                crate::core::edit::paint::BrushMode::Overwrite,
                "overwrite",
            )
            .on_hover_text("An accepted mask takes pixels from other segments");
            ui.separator();
        }
        if self.canvas.tool == Tool::Wand {
            ui.add(
                egui::Slider::new(&mut self.canvas.wand_tolerance, 0.0..=200.0).text("tolerance"),
            )
            .on_hover_text("Colour distance (RGB) the flood fill accepts");
            ui.separator();
        }
        if matches!(self.canvas.tool, Tool::Brush | Tool::Eraser) {
            ui.add(
                egui::Slider::new(&mut self.canvas.brush_radius, 0.5..=200.0)
                    .logarithmic(true)
                    .text("radius"),
            )
            .on_hover_text(format!(
                "Brush radius in image pixels ({} and {})",
                Command::BrushSmaller.shortcut_text(),
                Command::BrushLarger.shortcut_text()
            ));
        }
        // The eraser only removes: other segments' pixels are never at stake.
        if self.canvas.tool == Tool::Brush {
            ui.selectable_value(
                &mut self.canvas.brush_mode,
                crate::core::edit::paint::BrushMode::Overwrite,
                "overwrite",
            )
            .on_hover_text("The brush takes pixels from other segments");
            ui.selectable_value(
                &mut self.canvas.brush_mode,
                crate::core::edit::paint::BrushMode::Protect,
                "protect",
            )
            .on_hover_text("The brush paints only unlabeled pixels");
            ui.separator();
        }
    }

    /// The open image's status, whether it is saved, and the help button.
    fn image_status_ui(&mut self, ui: &mut egui::Ui) {
        if let Some(current) = self.session.as_ref().map(|s| s.doc.status) {
            let mut chosen = current;
            egui::ComboBox::from_label("image")
                .selected_text(status_label(current))
                .show_ui(ui, |ui| {
                    for st in ALL_STATUSES {
                        ui.selectable_value(&mut chosen, st, status_label(st));
                    }
                })
                .response
                .on_hover_text("Work status of this image; mark it done to send it to review");
            if chosen != current {
                self.set_image_status(chosen);
            }
        }
        if let Some(s) = self.session.as_ref() {
            let state = if s.save_error.is_some() {
                "not saved!"
            } else if s.is_dirty() {
                "saving…"
            } else {
                "saved"
            };
            ui.label(state);
        }
        if ui
            .button("?")
            .on_hover_text(Command::ToggleHelp.tooltip())
            .clicked()
        {
            self.run_command(ui.ctx(), Command::ToggleHelp, 0);
        }
    }

    fn help_ui(&mut self, ctx: &egui::Context) {
        let mut open = self.show_help;
        egui::Window::new("Shortcuts")
            .open(&mut open)
            .show(ctx, |ui| {
                egui::Grid::new("shortcuts").striped(true).show(ui, |ui| {
                    for group in command::Group::ALL {
                        ui.strong(group.label());
                        ui.end_row();
                        for c in Command::ALL.iter().filter(|c| c.group() == group) {
                            ui.monospace(c.shortcut_text());
                            ui.label(c.help());
                            ui.end_row();
                        }
                    }
                    ui.strong("Mouse");
                    ui.end_row();
                    for (gesture, what) in command::GESTURES {
                        ui.monospace(*gesture);
                        ui.label(*what);
                        ui.end_row();
                    }
                });
            });
        self.show_help = open;
    }

    fn toasts_ui(&mut self, ctx: &egui::Context) {
        let now = Instant::now();
        self.toasts.retain(|t| t.until > now);
        if self.toasts.is_empty() {
            return;
        }
        egui::Area::new(egui::Id::unique("limner-toasts"))
            .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-12.0, -12.0))
            .show(ctx, |ui| {
                for t in &self.toasts {
                    let color = if t.is_error {
                        egui::Color32::from_rgb(200, 60, 60)
                    } else {
                        egui::Color32::from_rgb(60, 120, 200)
                    };
                    egui::Frame::popup(ui.style()).fill(color).show(ui, |ui| {
                        ui.colored_label(egui::Color32::WHITE, &t.text);
                    });
                }
            });
        ctx.request_repaint_after(Duration::from_millis(500));
    }
}

/// The hole-filling setting as the toolbar shows it.
fn fill_holes_text(below: u32) -> String {
    if below == 0 {
        "fill holes: off".into()
    } else {
        format!("fill holes < {below} px")
    }
}

const ALL_STATUSES: [ImageStatus; 5] = [
    ImageStatus::Todo,
    ImageStatus::InProgress,
    ImageStatus::Done,
    ImageStatus::Reviewed,
    ImageStatus::Rejected,
];

fn status_label(s: ImageStatus) -> &'static str {
    match s {
        ImageStatus::Todo => "todo",
        ImageStatus::InProgress => "in progress",
        ImageStatus::Done => "done",
        ImageStatus::Reviewed => "reviewed",
        ImageStatus::Rejected => "rejected",
    }
}

impl eframe::App for LimnerApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        Jobs::run_finished(self, ctx);
        self.review_logic();
        if let Some(result) = self.assist.poll() {
            match result {
                Ok(mut p) => {
                    p.mask = crate::model::postprocess::apply(
                        &p.mask,
                        &self.draft.prompts,
                        self.postprocess,
                    );
                    self.draft.accept_prediction(p);
                }
                Err(e) => self.toast_error(e),
            }
        }
        self.assist.waker.set(ctx);
        if let Some(s) = self.session.as_mut() {
            s.autosave(&self.project, false);
            if let Some(due) = s.autosave_due_in() {
                ctx.request_repaint_after(due + Duration::from_millis(10));
            }
        }
        if ctx.input(|i| i.viewport().close_requested()) {
            self.flush();
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        if !std::mem::replace(&mut self.focused, true) {
            // Some window managers open the window without keyboard focus, so the
            // first shortcut would need a click first.
            ctx.send_viewport_cmd(egui::ViewportCommand::Focus);
        }
        // Read before any panel runs, while a text field that Enter is about to leave
        // still has the keyboard.
        let pressed = self.pressed_commands(&ctx);
        for &(c, index) in &pressed {
            self.run_command(&ctx, c, index);
        }
        let commands: Vec<Command> = pressed.into_iter().map(|(c, _)| c).collect();
        egui::Panel::top("toolbar").show(ui, |ui| self.toolbar_ui(ui));
        egui::Panel::left("images")
            .default_size(220.0)
            .show(ui, |ui| self.image_list_ui(ui));
        egui::Panel::right("classes")
            .default_size(300.0)
            .size_range(260.0..=560.0)
            .show(ui, |ui| {
                // Long names are cut, not widening the panel: its width stays where the
                // user dragged it whatever rows it shows.
                ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Truncate);
                // The panel scrolls as a whole; the segment list inside keeps its own
                // bounded, virtualized scroll area.
                egui::ScrollArea::vertical()
                    .id_salt("side_panel")
                    .show(ui, |ui| self.side_panel_ui(ui));
            });
        egui::CentralPanel::default().show(ui, |ui| {
            let active_class = self.active_class;
            let cx = canvas::CanvasContext {
                session: self.session.as_ref(),
                ontology: &self.project.ontology,
                active_class,
                loading: self.jobs.is_running(jobs::DECODE),
                rgb: self.current_rgb.as_deref(),
                commands: &commands,
            };
            let out = self.canvas.ui(ui, cx, &mut self.draft);
            for e in out.edits {
                self.apply_edit(e);
            }
            for m in out.messages {
                self.toast(m);
            }
            if out.prompts_changed {
                self.request_prediction();
            }
            if out.accept_prediction {
                self.accept_prediction();
            }
            self.review_canvas_ui(ui);
        });
        self.review_windows_ui(&ctx);
        let usage = self
            .class_panel
            .confirm_merge
            .and_then(|(from, _)| self.project.category_usage().ok()?.get(&from).copied());
        let actions = self
            .class_panel
            .confirm_ui(&ctx, &self.project.ontology, usage);
        for a in actions {
            self.apply_class_action(a);
        }
        match self.path_dialog.ui(&ctx) {
            Some(path_dialog::PathAnswer::Chosen(purpose, path)) => self.path_chosen(purpose, path),
            Some(path_dialog::PathAnswer::Native(purpose)) => self.native_dialog(purpose),
            None => {}
        }
        self.help_ui(&ctx);
        self.toasts_ui(&ctx);
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        self.flush();
        for label in self.jobs.finish_before_exit(Duration::from_secs(30)) {
            log::warn!("exiting with the {label} job unfinished");
        }
        if !self.assist.shutdown(Duration::from_secs(10)) {
            log::warn!("the model worker was still busy at exit");
        }
    }
}
