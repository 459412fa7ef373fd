//! Review and gold-set work in the app: who is working (recorded with every edit and
//! review action), slice tags, the review queue (accept / reject with a reason),
//! comments pinned to the canvas, and the disagreement view against gold labels.
//!
//! The rules live in the core ([`crate::core::document`] records who and when,
//! [`crate::core::disagreement`] compares); this module is UI state and wiring.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use egui::{Color32, Pos2, Rect, Vec2};

use super::LimnerApp;
use super::command::Command;
use super::jobs::{self, AtExit};
use super::view::ViewTransform;
use crate::core::disagreement::{self, Disagreement, PixelDiff};
use crate::core::document::{Action, ImageDocument, ImageStatus, ReviewState, parse_tag};
use crate::core::formats::{self, Format};

/// Colours of the disagreement view (also shown in its legend).
pub const FALSE_POSITIVE_COLOR: Color32 = Color32::from_rgb(255, 96, 0);
pub const FALSE_NEGATIVE_COLOR: Color32 = Color32::from_rgb(0, 170, 255);
pub const WRONG_CLASS_COLOR: Color32 = Color32::from_rgb(230, 0, 230);
/// Half-width (px) of the gold boundary band in the disagreement view.
pub const BOUNDARY_BAND_PX: u32 = 3;

/// Per-user settings, remembered in `<data dir>/limner/settings.json`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, Default)]
struct UserSettings {
    #[serde(default)]
    user: String,
}

fn settings_file() -> PathBuf {
    super::demo::demo_dir().with_file_name("settings.json")
}

/// The user name recorded with edits: the saved setting, else `$LIMNER_USER`, else
/// `$USER`, else "annotator".
pub fn default_user() -> String {
    std::fs::read(settings_file())
        .ok()
        .and_then(|b| serde_json::from_slice::<UserSettings>(&b).ok())
        .map(|s| s.user)
        .filter(|u| !u.trim().is_empty())
        .or_else(|| std::env::var("LIMNER_USER").ok())
        .or_else(|| std::env::var("USER").ok())
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "annotator".into())
}

/// Gold labels loaded from another project or a COCO panoptic file, by image file name.
pub struct GoldSet {
    pub source: PathBuf,
    pub documents: HashMap<String, ImageDocument>,
}

impl GoldSet {
    /// Reads a Limner project folder or a COCO panoptic JSON file.
    pub fn load(source: &Path) -> Result<GoldSet, String> {
        let format = if source.is_dir() {
            Format::Project
        } else {
            Format::CocoPanoptic
        };
        let data = formats::read(format, source, None).map_err(|e| e.to_string())?;
        Ok(GoldSet {
            source: source.to_path_buf(),
            documents: data
                .documents
                .into_iter()
                .map(|d| (d.image.file_name.clone(), d))
                .collect(),
        })
    }
}

/// The comparison shown for the image on screen.
pub struct DiffLayer {
    pub file: String,
    pub revision: u64,
    pub diff: Disagreement,
    texture: Option<egui::TextureHandle>,
}

/// A comment being written, pinned at an image point.
struct PinDraft {
    at: [f64; 2],
    text: String,
    segment: Option<u32>,
}

/// Review UI state (the documents hold the reviewed data).
pub struct Review {
    /// Recorded as "who" with every edit and review action.
    pub user: String,
    user_draft: String,
    settings_open: bool,
    /// Review mode: the image list is the queue of done, not yet reviewed images.
    pub mode: bool,
    /// The reason being typed for a rejection (Some = the prompt is open).
    pub reject_reason: Option<String>,
    /// `key=value` (or `key`) the image list is filtered by; empty = no filter.
    pub tag_filter: String,
    tag_draft: String,
    pin: Option<PinDraft>,
    pub gold: Option<GoldSet>,
    /// Show the disagreement with the gold labels over the canvas.
    pub show_diff: bool,
    pub diff: Option<DiffLayer>,
    /// Position in the worst-first segment list (J steps it).
    worst_cursor: usize,
    /// Canvas area of the last frame, for zooming to a segment.
    canvas_rect: Rect,
    /// Segments the click model disagrees with, most suspect first (K steps them).
    pub suspects: Vec<SuspectItem>,
    suspect_cursor: usize,
    /// Segment to select and zoom to once the image being opened is on screen.
    pub(super) pending_focus: Option<(u32, [u32; 4])>,
}

/// One entry of the suspects queue.
#[derive(Debug, Clone, PartialEq)]
pub struct SuspectItem {
    pub image: String,
    pub segment: u32,
    /// COCO `[x, y, w, h]` of the label and the model's mask together.
    pub bbox: [u32; 4],
    pub score: f64,
}

impl Default for Review {
    fn default() -> Self {
        let user = default_user();
        Review {
            user_draft: user.clone(),
            user,
            settings_open: false,
            mode: false,
            reject_reason: None,
            tag_filter: String::new(),
            tag_draft: String::new(),
            pin: None,
            gold: None,
            show_diff: false,
            diff: None,
            worst_cursor: 0,
            canvas_rect: Rect::NOTHING,
            suspects: Vec::new(),
            suspect_cursor: 0,
            pending_focus: None,
        }
    }
}

/// True when `tags` match a `key=value` or `key` filter (empty filter: everything).
pub fn tags_match(tags: &BTreeMap<String, String>, filter: &str) -> bool {
    let filter = filter.trim();
    if filter.is_empty() {
        return true;
    }
    match filter.split_once('=') {
        Some((k, v)) => tags.get(k.trim()).is_some_and(|t| t == v.trim()),
        None => tags.contains_key(filter),
    }
}

impl LimnerApp {
    /// Records an edit of the open image by the current user.
    pub(super) fn record_edit(&mut self) {
        let user = self.review.user.clone();
        if let Some(s) = self.session.as_mut() {
            s.doc.record(&user, Action::Edit { count: 1 });
        }
    }

    /// Sets the open image's status (recorded) and keeps the list in step.
    pub fn set_image_status(&mut self, status: ImageStatus) {
        let user = self.review.user.clone();
        if let Some(s) = self.session.as_mut()
            && s.doc.set_status(&user, status)
        {
            s.touch_metadata();
            if let Some(e) = self.images.get_mut(self.current) {
                e.status = status;
            }
        }
    }

    /// Turns review mode on or off; on: opens the first image of the queue.
    pub fn toggle_review_mode(&mut self) {
        self.review.mode = !self.review.mode;
        self.review.reject_reason = None;
        if self.review.mode {
            if self.images.get(self.current).map(|e| e.status) != Some(ImageStatus::Done) {
                self.next_in_queue();
            }
            if self.visible_indices().is_empty() {
                self.toast("Review queue is empty: no image has status “done”");
            }
        }
    }

    /// Opens the next visible image after the current one (wrapping), if any.
    fn next_in_queue(&mut self) {
        let vis = self.visible_indices();
        if let Some(&i) = vis
            .iter()
            .find(|&&i| i > self.current)
            .or_else(|| vis.first())
        {
            if i != self.current {
                self.open_image(i);
            }
        } else if self.review.mode {
            self.toast("Review queue done");
        }
    }

    /// Accepts the open image: status reviewed; its unreviewed segments accepted.
    pub fn accept_image(&mut self) {
        if let Some(s) = self.session.as_mut() {
            for seg in &mut s.doc.segments {
                if seg.review == ReviewState::Unreviewed {
                    seg.review = ReviewState::Accepted;
                }
            }
        }
        self.set_image_status(ImageStatus::Reviewed);
        self.flush();
        self.next_in_queue();
    }

    /// Rejects the open image with a reason: it goes back to the annotator's queue
    /// (status rejected) with the reason as an image comment.
    pub fn reject_image(&mut self, reason: &str) {
        let user = self.review.user.clone();
        let reason = reason.trim();
        if let Some(s) = self.session.as_mut() {
            let text = if reason.is_empty() {
                "rejected".to_string()
            } else {
                format!("rejected: {reason}")
            };
            s.doc.add_comment(&user, None, &text, None);
            s.touch_metadata();
        }
        self.set_image_status(ImageStatus::Rejected);
        self.flush();
        self.next_in_queue();
    }

    /// Sets the review state of a segment of the open image (recorded).
    pub fn set_segment_review(&mut self, id: u32, state: ReviewState) {
        let user = self.review.user.clone();
        if let Some(s) = self.session.as_mut()
            && s.doc.set_review(&user, id, state)
        {
            s.touch_metadata();
        }
    }

    /// Pins a comment at `at` (image pixels) to the selected segment or the image.
    pub fn pin_comment(&mut self, at: [f64; 2], text: &str, segment: Option<u32>) {
        let user = self.review.user.clone();
        if let Some(s) = self.session.as_mut()
            && s.doc.add_comment(&user, segment, text.trim(), Some(at))
        {
            s.touch_metadata();
        }
    }

    /// Starts loading gold labels as a job (the path chooser first when `source` is None).
    pub fn load_gold(&mut self, source: Option<PathBuf>, folder: bool) {
        let Some(source) = source else {
            self.ask_path(super::path_dialog::Purpose::Gold { folder });
            return;
        };
        let work = move || Some(GoldSet::load(&source));
        self.jobs.spawn(
            jobs::GOLD,
            AtExit::Abandon,
            work,
            |app, _, gold| match gold {
                Some(Ok(gold)) => {
                    app.toast(format!(
                        "Gold labels: {} image(s) from {}",
                        gold.documents.len(),
                        gold.source.display()
                    ));
                    app.review.gold = Some(gold);
                    app.review.show_diff = true;
                    app.review.diff = None;
                }
                Some(Err(e)) => app.toast_error(format!("Cannot read the gold labels: {e}")),
                None => {}
            },
        );
    }

    /// True while gold labels load or a comparison runs.
    pub fn review_busy(&self) -> bool {
        self.jobs.is_running(jobs::GOLD) || self.jobs.is_running(jobs::COMPARE)
    }

    /// Starts a comparison when the image or its labels changed. Called once per frame.
    pub(super) fn review_logic(&mut self) {
        // (Re)compare when shown and out of date, one job at a time.
        let (Some(gold), Some(s)) = (&self.review.gold, &self.session) else {
            return;
        };
        if !self.review.show_diff || self.jobs.is_running(jobs::COMPARE) {
            return;
        }
        let file = &s.doc.image.file_name;
        let fresh = self
            .review
            .diff
            .as_ref()
            .is_some_and(|d| &d.file == file && d.revision == s.revision);
        if fresh {
            return;
        }
        let Some(g) = gold.documents.get(file) else {
            self.review.diff = None;
            return;
        };
        let (g, cur) = (g.clone(), s.doc.clone());
        let (file, revision) = (file.clone(), s.revision);
        if self.review.diff.as_ref().is_some_and(|d| d.file != file) {
            self.review.diff = None;
            self.review.worst_cursor = 0;
        }
        self.jobs.spawn(
            jobs::COMPARE,
            AtExit::Abandon,
            move || disagreement::compare(&g, &cur, BOUNDARY_BAND_PX),
            move |app, _, diff| match diff {
                Ok(diff) => {
                    app.review.diff = Some(DiffLayer {
                        file,
                        revision,
                        diff,
                        texture: None,
                    })
                }
                Err(e) => {
                    app.review.show_diff = false;
                    app.toast_error(e);
                }
            },
        );
    }

    /// Selects the next worst segment of the comparison and zooms to it.
    pub fn jump_to_next_worst(&mut self) {
        let Some(d) = &self.review.diff else {
            self.toast("Load gold labels first (Review → Compare with gold)");
            return;
        };
        let worst: Vec<_> = d.diff.segments.iter().filter(|s| s.iou < 1.0).collect();
        if worst.is_empty() {
            self.toast("Every segment matches the gold labels");
            return;
        }
        let k = self.review.worst_cursor % worst.len();
        let seg = worst[k].clone();
        self.review.worst_cursor = k + 1;
        self.canvas.selected = seg.current;
        self.zoom_to_bbox(seg.bbox);
    }

    /// Runs `qa suspects` on the project (the default click model, on the job queue);
    /// K then steps through the result.
    pub fn find_suspects(&mut self) {
        if self.jobs.is_running(super::jobs::SUSPECTS) {
            return;
        }
        self.flush();
        let root = self.project.root.clone();
        let work = move || -> Result<Vec<SuspectItem>, String> {
            use crate::model::suspects;
            let set = crate::core::qa::LabelSet::load(&root, None).map_err(|e| e.to_string())?;
            let images = set.images_dir.clone().unwrap_or_else(|| root.clone());
            let config = crate::model::config::resolve_model(None).map_err(|e| e.to_string())?;
            let mut predictor = crate::model::load_predictor(&config).map_err(|e| e.to_string())?;
            let (found, _) = suspects::find_suspects(
                &set,
                &images,
                predictor.as_mut(),
                &suspects::SuspectOptions::default(),
                |_, _| {},
            )
            .map_err(|e| e.to_string())?;
            Ok(found
                .into_iter()
                .map(|s| {
                    let b = s.label.bounds().union(s.check.mask.bounds());
                    SuspectItem {
                        image: s.image,
                        segment: s.segment_id,
                        bbox: [b.x0, b.y0, b.width(), b.height()],
                        score: s.check.score,
                    }
                })
                .collect())
        };
        self.toast("Looking for label suspects (the click model checks every segment)…");
        self.jobs.spawn(
            super::jobs::SUSPECTS,
            super::jobs::AtExit::Abandon,
            work,
            |app, _, result| match result {
                Ok(items) => {
                    let n = items.len();
                    app.review.suspects = items;
                    app.review.suspect_cursor = 0;
                    app.toast(format!(
                        "{n} segment(s) checked, most suspect first: {} jumps to the next",
                        Command::NextSuspect.shortcut_text()
                    ));
                }
                Err(e) => app.toast_error(format!("Label suspects: {e}")),
            },
        );
    }

    /// Opens the next suspect's image (if needed), selects the segment, zooms to it.
    pub fn jump_to_next_suspect(&mut self) {
        if self.review.suspects.is_empty() {
            self.toast("No suspects yet (Review > Find label suspects)");
            return;
        }
        let k = self.review.suspect_cursor % self.review.suspects.len();
        self.review.suspect_cursor = k + 1;
        let item = self.review.suspects[k].clone();
        let Some(index) = self.images.iter().position(|e| e.name == item.image) else {
            self.toast_error(format!("{} is not in the image list", item.image));
            return;
        };
        if index == self.current && self.canvas.has_image() {
            self.canvas.selected = Some(item.segment);
            self.zoom_to_bbox(item.bbox);
        } else {
            self.open_image(index);
            self.review.pending_focus = Some((item.segment, item.bbox));
        }
        self.toast(format!(
            "Suspect {} of {}: {} segment {} (score {:.2})",
            k + 1,
            self.review.suspects.len(),
            item.image,
            item.segment,
            item.score
        ));
    }

    /// The canvas area of the last frame (where segments are zoomed into).
    pub fn review_canvas_rect(&self) -> Rect {
        self.review.canvas_rect
    }

    pub(super) fn zoom_to_bbox(&mut self, [x, y, w, h]: [u32; 4]) {
        let viewport = self.review.canvas_rect;
        if !viewport.is_positive() {
            return;
        }
        // Show the box with a margin of half its size on every side (at least 32 px).
        let pad = (w.max(h) as f32 * 0.5).max(32.0);
        let size = Vec2::new(w as f32 + 2.0 * pad, h as f32 + 2.0 * pad);
        let mut v = ViewTransform::fit(size, viewport);
        v.origin -= Vec2::new(x as f32 - pad, y as f32 - pad) * v.scale;
        self.canvas.view = v;
    }

    /// Runs a review command (see [`Command`]).
    pub(super) fn run_review_command(&mut self, ctx: &egui::Context, command: Command) {
        match command {
            Command::ToggleReviewMode => self.toggle_review_mode(),
            Command::AcceptImage if self.review.mode => self.accept_image(),
            Command::RejectImage if self.review.mode => {
                self.review.reject_reason = Some(String::new())
            }
            Command::ToggleDisagreement => {
                if self.review.gold.is_some() {
                    self.review.show_diff = !self.review.show_diff;
                } else {
                    self.toast("No gold labels loaded (Review → Compare with gold)");
                }
            }
            Command::NextWorstSegment => self.jump_to_next_worst(),
            Command::NextSuspect => self.jump_to_next_suspect(),
            Command::PinComment => {
                if let Some(p) = ctx.input(|i| i.pointer.hover_pos())
                    && self.review.canvas_rect.contains(p)
                {
                    let at = self.canvas.view.image_from_screen(p);
                    self.review.pin = Some(PinDraft {
                        at: [f64::from(at.x), f64::from(at.y)],
                        text: String::new(),
                        segment: self.canvas.selected,
                    });
                }
            }
            _ => {}
        }
    }

    /// The Review menu of the toolbar.
    pub(super) fn review_menu_ui(&mut self, ui: &mut egui::Ui) {
        ui.menu_button("Review", |ui| {
            let label = if self.review.mode {
                "Leave review mode"
            } else {
                Command::ToggleReviewMode.label()
            };
            if ui
                .button(label)
                .on_hover_text(format!(
                    "{}; {} accepts, {} rejects with a reason",
                    Command::ToggleReviewMode.tooltip(),
                    Command::AcceptImage.shortcut_text(),
                    Command::RejectImage.shortcut_text()
                ))
                .clicked()
            {
                self.toggle_review_mode();
                ui.close();
            }
            ui.separator();
            if ui
                .add_enabled(
                    !self.jobs.is_running(super::jobs::SUSPECTS),
                    egui::Button::new("Find label suspects"),
                )
                .on_hover_text(format!(
                    "The click model checks every segment of the project; {} then jumps to the next suspect, zoomed",
                    Command::NextSuspect.shortcut_text()
                ))
                .clicked()
            {
                self.find_suspects();
                ui.close();
            }
            ui.separator();
            if ui
                .button("Compare with gold project…")
                .on_hover_text("Gold labels from another Limner project folder")
                .clicked()
            {
                self.load_gold(None, true);
                ui.close();
            }
            if ui
                .button("Compare with gold COCO panoptic…")
                .on_hover_text("Gold labels from a COCO panoptic JSON (PNGs beside it)")
                .clicked()
            {
                self.load_gold(None, false);
                ui.close();
            }
            if ui
                .add_enabled(
                    self.review.gold.is_some(),
                    egui::Checkbox::new(
                        &mut self.review.show_diff,
                        Command::ToggleDisagreement.label(),
                    ),
                )
                .on_hover_text(format!(
                    "False positives, false negatives and wrong classes vs gold ({})",
                    Command::ToggleDisagreement.shortcut_text()
                ))
                .changed()
            {
                ui.close();
            }
            if ui
                .add_enabled(
                    self.review.diff.is_some(),
                    egui::Button::new(Command::NextWorstSegment.label()),
                )
                .on_hover_text(Command::NextWorstSegment.tooltip())
                .clicked()
            {
                self.jump_to_next_worst();
                ui.close();
            }
            ui.separator();
            if ui
                .button("Settings…")
                .on_hover_text("Your user name")
                .clicked()
            {
                self.review.user_draft = self.review.user.clone();
                self.review.settings_open = true;
                ui.close();
            }
        });
        if self.review.mode {
            ui.colored_label(Color32::from_rgb(230, 160, 0), "REVIEW")
                .on_hover_text(format!(
                    "{} accept · {} reject with reason · {} leave review mode",
                    Command::AcceptImage.shortcut_text(),
                    Command::RejectImage.shortcut_text(),
                    Command::ToggleReviewMode.shortcut_text()
                ));
            for command in [Command::AcceptImage, Command::RejectImage] {
                if ui
                    .button(command.label())
                    .on_hover_text(command.tooltip())
                    .clicked()
                {
                    self.run_review_command(ui.ctx(), command);
                }
            }
        }
    }

    /// The image's review panel: gold flag, slice tags, comments, disagreement summary.
    pub(super) fn review_panel_ui(&mut self, ui: &mut egui::Ui) {
        egui::CollapsingHeader::new("Image: tags, gold, comments")
            .default_open(true)
            .show(ui, |ui| self.image_review_ui(ui));
        if self.review.gold.is_some() {
            egui::CollapsingHeader::new("Disagreement with gold")
                .default_open(true)
                .show(ui, |ui| self.disagreement_panel_ui(ui));
        }
    }

    fn image_review_ui(&mut self, ui: &mut egui::Ui) {
        let user = self.review.user.clone();
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let mut changed = false;
        let mut gold = s.doc.gold;
        if ui
            .checkbox(&mut gold, "gold")
            .on_hover_text("Part of the gold set other labels are compared against")
            .changed()
        {
            s.doc.gold = gold;
            s.doc.record(&user, Action::Gold { gold });
            changed = true;
        }
        let mut remove = None;
        for (k, v) in &s.doc.tags {
            ui.horizontal(|ui| {
                ui.monospace(format!("{k}={v}"));
                if ui.small_button("x").on_hover_text("Remove tag").clicked() {
                    remove = Some(k.clone());
                }
            });
        }
        if let Some(k) = remove {
            s.doc.tags.remove(&k);
            s.doc.record(&user, Action::Tags);
            changed = true;
        }
        let mut add_error = None;
        ui.horizontal(|ui| {
            let label = ui.label("Tag:");
            let r = ui
                .add(
                    egui::TextEdit::singleline(&mut self.review.tag_draft)
                        .hint_text("scene=indoor")
                        .desired_width(120.0),
                )
                .labelled_by(label.id);
            let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if (ui.button("add").clicked() || enter) && !self.review.tag_draft.trim().is_empty() {
                match parse_tag(&self.review.tag_draft) {
                    Ok((k, v)) => {
                        s.doc.tags.insert(k, v);
                        s.doc.record(&user, Action::Tags);
                        self.review.tag_draft.clear();
                        changed = true;
                    }
                    Err(e) => add_error = Some(e),
                }
            }
        });
        let comments: Vec<String> = s
            .doc
            .all_comments()
            .map(|(seg, c)| {
                format!(
                    "{}{}{}",
                    seg.map(|id| format!("#{id}: ")).unwrap_or_default(),
                    c.text,
                    c.author
                        .as_ref()
                        .map(|a| format!(" — {a}"))
                        .unwrap_or_default()
                )
            })
            .collect();
        if !comments.is_empty() {
            ui.label(format!(
                "Comments ({} pins one at the cursor):",
                Command::PinComment.shortcut_text()
            ));
            for c in comments {
                ui.label(format!("• {c}"));
            }
        }
        if changed {
            s.touch_metadata();
            if let Some(e) = self.images.get_mut(self.current) {
                e.tags = s.doc.tags.clone();
                e.gold = s.doc.gold;
            }
        }
        if let Some(e) = add_error {
            self.toast_error(e);
        }
    }

    fn disagreement_panel_ui(&mut self, ui: &mut egui::Ui) {
        ui.checkbox(
            &mut self.review.show_diff,
            format!("show ({})", Command::ToggleDisagreement.shortcut_text()),
        );
        let Some(d) = &self.review.diff else {
            let waiting = self.jobs.is_running(jobs::COMPARE);
            ui.label(if waiting {
                "comparing…"
            } else {
                "no gold labels for this image"
            });
            return;
        };
        let count = |k| d.diff.pixels.iter().filter(|p| **p == k).count();
        let (fp, fn_, wc) = (
            count(PixelDiff::FalsePositive),
            count(PixelDiff::FalseNegative),
            count(PixelDiff::WrongClass),
        );
        legend(
            ui,
            FALSE_POSITIVE_COLOR,
            &format!("false positive: {fp} px"),
        );
        legend(
            ui,
            FALSE_NEGATIVE_COLOR,
            &format!("false negative: {fn_} px"),
        );
        legend(ui, WRONG_CLASS_COLOR, &format!("wrong class: {wc} px"));
        if d.diff.error_pixels > 0 {
            ui.label(format!(
                "{:.0}% of the errors lie within {BOUNDARY_BAND_PX} px of a gold boundary (bright)",
                100.0 * d.diff.band_error_pixels as f64 / d.diff.error_pixels as f64
            ));
        }
        ui.label("Worst segments (J jumps to the next):");
        let mut jump = None;
        for (i, seg) in d
            .diff
            .segments
            .iter()
            .filter(|s| s.iou < 1.0)
            .take(8)
            .enumerate()
        {
            let class = self
                .project
                .ontology
                .get(seg.category_id)
                .map_or("?", |c| c.name.as_str());
            let what = match seg.current {
                Some(id) => format!("#{id} {class}"),
                None => format!("missing {class} (gold #{})", seg.gold.unwrap_or(0)),
            };
            if ui
                .selectable_label(
                    seg.current.is_some() && self.canvas.selected == seg.current,
                    format!("IoU {:.2} · {what}", seg.iou),
                )
                .clicked()
            {
                jump = Some(i);
            }
        }
        if let Some(i) = jump {
            self.review.worst_cursor = i;
            self.jump_to_next_worst();
        }
    }

    /// Draws over the canvas: the disagreement layer, pinned comments, the rejection
    /// banner; and the pin / reject / settings prompts.
    pub(super) fn review_canvas_ui(&mut self, ui: &mut egui::Ui) {
        self.review.canvas_rect = ui.max_rect();
        let painter = ui.painter().clone();
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let size = Vec2::new(s.doc.image.width as f32, s.doc.image.height as f32);
        let image_rect = self.canvas.view.image_rect_on_screen(size);
        if self.review.show_diff
            && let Some(layer) = self.review.diff.as_mut()
            && layer.file == s.doc.image.file_name
        {
            let tex = layer.texture.get_or_insert_with(|| {
                ui.ctx().load_texture(
                    "limner-disagreement",
                    diff_image(&layer.diff),
                    egui::TextureOptions::NEAREST,
                )
            });
            painter.image(
                tex.id(),
                image_rect,
                Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
                Color32::WHITE,
            );
        }
        // Pinned comments: numbered dots, the text on hover.
        let pins: Vec<([f64; 2], String)> = s
            .doc
            .all_comments()
            .filter_map(|(_, c)| c.at.map(|at| (at, c.text.clone())))
            .collect();
        let hover = ui.input(|i| i.pointer.hover_pos());
        for (n, (at, text)) in pins.iter().enumerate() {
            let p = self
                .canvas
                .view
                .screen_from_image(Pos2::new(at[0] as f32, at[1] as f32));
            painter.circle(
                p,
                9.0,
                Color32::from_rgb(250, 210, 40),
                egui::Stroke::new(1.5, Color32::BLACK),
            );
            painter.text(
                p,
                egui::Align2::CENTER_CENTER,
                (n + 1).to_string(),
                egui::FontId::proportional(11.0),
                Color32::BLACK,
            );
            if hover.is_some_and(|h| h.distance(p) < 10.0) {
                let galley = painter.layout_no_wrap(
                    text.clone(),
                    egui::FontId::proportional(14.0),
                    Color32::WHITE,
                );
                let at = p + Vec2::new(12.0, -12.0 - galley.size().y);
                painter.rect_filled(
                    Rect::from_min_size(at, galley.size()).expand(4.0),
                    3.0,
                    Color32::from_black_alpha(210),
                );
                painter.galley(at, galley, Color32::WHITE);
            }
        }
        if s.doc.status == ImageStatus::Rejected {
            let reasons: Vec<&str> = s
                .doc
                .comments
                .iter()
                .filter(|c| c.text.starts_with("rejected"))
                .map(|c| {
                    c.text
                        .trim_start_matches("rejected")
                        .trim_start_matches(':')
                        .trim()
                })
                .filter(|t| !t.is_empty())
                .collect();
            let text = format!(
                "Rejected in review — {}",
                reasons.last().copied().unwrap_or("see comments")
            );
            let r = Rect::from_min_size(
                self.review.canvas_rect.min + Vec2::new(8.0, 8.0),
                Vec2::new(self.review.canvas_rect.width() - 16.0, 26.0),
            );
            painter.rect_filled(r, 4.0, Color32::from_rgba_unmultiplied(180, 40, 40, 220));
            painter.text(
                r.left_center() + Vec2::new(8.0, 0.0),
                egui::Align2::LEFT_CENTER,
                text,
                egui::FontId::proportional(14.0),
                Color32::WHITE,
            );
        }
    }

    /// Modal prompts: pin text, rejection reason, settings.
    pub(super) fn review_windows_ui(&mut self, ctx: &egui::Context) {
        if let Some(pin) = self.review.pin.as_mut() {
            let mut done = None;
            egui::Window::new("Pin a comment")
                .collapsible(false)
                .anchor(egui::Align2::CENTER_TOP, [0.0, 90.0])
                .show(ctx, |ui| {
                    let target = match pin.segment {
                        Some(id) => format!("on segment #{id}"),
                        None => "on the image".to_string(),
                    };
                    ui.label(format!("At ({:.0}, {:.0}) {target}", pin.at[0], pin.at[1]));
                    let r = ui.add(egui::TextEdit::singleline(&mut pin.text).hint_text("comment"));
                    r.request_focus();
                    let enter = ui.input(|i| i.key_pressed(egui::Key::Enter));
                    ui.horizontal(|ui| {
                        if ui.button("Pin (Enter)").clicked() || enter {
                            done = Some(true);
                        }
                        if ui.button("Cancel (Esc)").clicked()
                            || ui.input(|i| i.key_pressed(egui::Key::Escape))
                        {
                            done = Some(false);
                        }
                    });
                });
            if let Some(ok) = done {
                let pin = self.review.pin.take().expect("pin prompt is open");
                if ok && !pin.text.trim().is_empty() {
                    self.pin_comment(pin.at, &pin.text, pin.segment);
                }
            }
        }
        if let Some(reason) = self.review.reject_reason.as_mut() {
            let mut done = None;
            egui::Window::new("Reject image")
                .collapsible(false)
                .anchor(egui::Align2::CENTER_TOP, [0.0, 90.0])
                .show(ctx, |ui| {
                    ui.label("Why? The annotator sees this on the image.");
                    let r = ui.add(
                        egui::TextEdit::singleline(reason)
                            .hint_text("e.g. car boundaries too loose"),
                    );
                    r.request_focus();
                    let enter = ui.input(|i| i.key_pressed(egui::Key::Enter));
                    ui.horizontal(|ui| {
                        if ui.button("Reject (Enter)").clicked() || enter {
                            done = Some(true);
                        }
                        if ui.button("Cancel (Esc)").clicked()
                            || ui.input(|i| i.key_pressed(egui::Key::Escape))
                        {
                            done = Some(false);
                        }
                    });
                });
            if let Some(ok) = done {
                let reason = self.review.reject_reason.take().unwrap_or_default();
                if ok {
                    self.reject_image(&reason);
                }
            }
        }
        if self.review.settings_open {
            let mut open = true;
            let mut save = false;
            egui::Window::new("Settings")
                .open(&mut open)
                .collapsible(false)
                .show(ctx, |ui| {
                    ui.horizontal(|ui| {
                        let l = ui.label("Your name:");
                        ui.text_edit_singleline(&mut self.review.user_draft)
                            .labelled_by(l.id)
                            .on_hover_text("Recorded with every edit and review action");
                    });
                    save = ui.button("Save").clicked();
                });
            if save {
                let user = self.review.user_draft.trim().to_string();
                if user.is_empty() {
                    self.toast_error("The user name must not be empty");
                } else {
                    self.review.user = user.clone();
                    self.review.settings_open = false;
                    if let Err(e) =
                        crate::core::io::write_json_atomic(&settings_file(), &UserSettings { user })
                    {
                        self.toast_error(format!("Cannot save settings: {e}"));
                    }
                }
            } else if !open {
                self.review.settings_open = false;
            }
        }
    }

    /// True while a review prompt owns the keyboard.
    pub(super) fn review_prompt_open(&self) -> bool {
        self.review.pin.is_some() || self.review.reject_reason.is_some()
    }
}

fn legend(ui: &mut egui::Ui, color: Color32, text: &str) {
    ui.horizontal(|ui| {
        let (r, _) = ui.allocate_exact_size(Vec2::splat(12.0), egui::Sense::hover());
        ui.painter().rect_filled(r, 2.0, color);
        ui.label(text);
    });
}

/// The disagreement as an RGBA image: errors in the boundary band bright, others
/// half-transparent. Images beyond 4096 px are sampled down to fit a texture.
fn diff_image(d: &Disagreement) -> egui::ColorImage {
    let step = (d.width.max(d.height) as usize).div_ceil(4096).max(1);
    let (w, h) = (
        (d.width as usize).div_ceil(step),
        (d.height as usize).div_ceil(step),
    );
    let mut pixels = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            let i = (y * step) * d.width as usize + x * step;
            let base = match d.pixels[i] {
                PixelDiff::Agree => {
                    pixels.push(Color32::TRANSPARENT);
                    continue;
                }
                PixelDiff::FalsePositive => FALSE_POSITIVE_COLOR,
                PixelDiff::FalseNegative => FALSE_NEGATIVE_COLOR,
                PixelDiff::WrongClass => WRONG_CLASS_COLOR,
            };
            let alpha = if d.in_band[i] { 235 } else { 120 };
            pixels.push(Color32::from_rgba_unmultiplied(
                base.r(),
                base.g(),
                base.b(),
                alpha,
            ));
        }
    }
    egui::ColorImage::new([w, h], pixels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_filter_matches_key_or_key_value() {
        let mut t = BTreeMap::new();
        t.insert("scene".to_string(), "indoor".to_string());
        assert!(tags_match(&t, ""));
        assert!(tags_match(&t, "scene"));
        assert!(tags_match(&t, "scene = indoor"));
        assert!(!tags_match(&t, "scene=outdoor"));
        assert!(!tags_match(&t, "device"));
    }
}
