//! One open image: its document, undo history, overlay cache and save state.
//! UI state lives in the app; this is the editable store for one image.

use std::time::{Duration, Instant};

use super::history::{Edit, History};
use crate::core::document::ImageDocument;
use std::collections::BTreeMap;

use crate::core::labelmap::{LabelMap, SegmentStats};
use crate::core::project::Project;

/// Autosave delay after the last edit: edits reach disk well within 1 s.
pub const AUTOSAVE_DELAY: Duration = Duration::from_millis(300);

/// The editable state of the image on screen.
pub struct ImageSession {
    pub doc: ImageDocument,
    pub history: History,
    /// Resolved label map of `doc`, rebuilt after each edit.
    pub label_map: LabelMap,
    /// Area and bbox per segment id in `label_map` (kept with it, so panels do not
    /// rescan the map every frame).
    pub stats: BTreeMap<u32, SegmentStats>,
    /// Bumped on every change so views know to refresh their caches.
    pub revision: u64,
    dirty_since: Option<Instant>,
    /// Last save error, shown to the user until a save succeeds.
    pub save_error: Option<String>,
}

impl ImageSession {
    /// Wraps a loaded document.
    pub fn new(doc: ImageDocument) -> Self {
        let label_map = doc.resolve();
        ImageSession {
            doc,
            history: History::default(),
            stats: label_map.stats(),
            label_map,
            revision: 0,
            dirty_since: None,
            save_error: None,
        }
    }

    fn changed(&mut self) {
        self.label_map = self.doc.resolve();
        self.stats = self.label_map.stats();
        self.revision += 1;
        self.dirty_since.get_or_insert_with(Instant::now);
    }

    /// Applies an edit as one undo step.
    pub fn apply(&mut self, edit: Edit) -> bool {
        let ok = self.history.apply(&mut self.doc, edit);
        if ok {
            self.changed();
        }
        ok
    }

    pub fn undo(&mut self) -> bool {
        let ok = self.history.undo(&mut self.doc);
        if ok {
            self.changed();
        }
        ok
    }

    pub fn redo(&mut self) -> bool {
        let ok = self.history.redo(&mut self.doc);
        if ok {
            self.changed();
        }
        ok
    }

    /// Marks a change made outside the history (e.g. image status).
    pub fn touch(&mut self) {
        self.changed();
    }

    /// True when edits are not on disk yet.
    pub fn is_dirty(&self) -> bool {
        self.dirty_since.is_some()
    }

    /// Saves when the autosave delay has passed (or `force`). Returns true when a
    /// save happened.
    pub fn autosave(&mut self, project: &Project, force: bool) -> bool {
        let Some(since) = self.dirty_since else {
            return false;
        };
        if !force && since.elapsed() < AUTOSAVE_DELAY {
            return false;
        }
        match project.save_document(&self.doc) {
            Ok(()) => {
                self.dirty_since = None;
                self.save_error = None;
                true
            }
            Err(e) => {
                self.save_error = Some(e.to_string());
                // Retry later rather than on every frame.
                self.dirty_since = Some(Instant::now());
                false
            }
        }
    }

    /// Time until the next autosave is due, to schedule a repaint.
    pub fn autosave_due_in(&self) -> Option<Duration> {
        self.dirty_since
            .map(|t| AUTOSAVE_DELAY.saturating_sub(t.elapsed()))
    }
}
