//! One open image: its document, undo history, overlay cache and save state.
//! UI state lives in the app; this is the editable store for one image.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::history::{Edit, History};
use crate::core::document::ImageDocument;
use crate::core::geometry::PixelRect;
use crate::core::labelmap::{LabelMap, SegmentStats};
use crate::core::project::Project;

/// Autosave delay after the last edit: edits reach disk well within 1 s.
pub const AUTOSAVE_DELAY: Duration = Duration::from_millis(300);

/// How many recent changes [`ImageSession::changed_since`] can sum up.
const CHANGE_LOG: usize = 64;

/// Revisions are unique across sessions, so a view's cache of one image never passes
/// for another's.
fn next_revision() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The editable state of the image on screen.
pub struct ImageSession {
    pub doc: ImageDocument,
    pub history: History,
    /// Resolved label map of `doc`, kept equal to `doc.resolve()`: after an edit only
    /// the rectangle the edit can touch is repainted.
    pub label_map: LabelMap,
    /// Area and bbox per segment id in `label_map` (kept with it, so panels do not
    /// rescan the map every frame), updated from the repainted rectangle.
    pub stats: BTreeMap<u32, SegmentStats>,
    /// Changes on every change (unique across sessions) so views know to refresh their
    /// caches; [`Self::changed_since`] says where.
    pub revision: u64,
    /// Pixel bounds per segment id, for region resolves; `None` when ids repeat (an
    /// invalid document), where bounds come from the geometry each time.
    bounds: Option<HashMap<u32, PixelRect>>,
    /// Recent changes, oldest first: the revision they made and the pixels they
    /// touched (`None`: possibly all).
    changes: VecDeque<(u64, Option<PixelRect>)>,
    /// The ids of the repainted rectangle before an edit (kept to reuse its memory).
    scratch: Vec<u32>,
    dirty_since: Option<Instant>,
    /// Last save error, shown to the user until a save succeeds.
    pub save_error: Option<String>,
}

impl ImageSession {
    /// Wraps a loaded document.
    pub fn new(doc: ImageDocument) -> Self {
        let label_map = doc.resolve();
        let mut s = ImageSession {
            doc,
            history: History::default(),
            stats: label_map.stats(),
            label_map,
            revision: next_revision(),
            bounds: None,
            changes: VecDeque::new(),
            scratch: Vec::new(),
            dirty_since: None,
            save_error: None,
        };
        s.rebuild_bounds();
        // The base a view's first overlay is built from.
        s.changes.push_back((s.revision, None));
        s
    }

    fn rebuild_bounds(&mut self) {
        let (w, h) = (self.doc.image.width, self.doc.image.height);
        let mut ids = HashSet::new();
        let unique = self.doc.segments.iter().all(|s| ids.insert(s.id));
        self.bounds = unique.then(|| {
            self.doc
                .segments
                .iter()
                .map(|s| (s.id, s.geometry.pixel_bounds(w, h)))
                .collect()
        });
    }

    /// Re-resolves the whole image (after changes outside the history).
    fn changed(&mut self) {
        self.label_map = self.doc.resolve();
        self.stats = self.label_map.stats();
        self.rebuild_bounds();
        self.record_change(None);
    }

    /// Brings the map, stats and bounds up to date after an edit of the segments `ids`
    /// whose pixels all lie in `rect` (`None`: anywhere).
    fn changed_in(&mut self, rect: Option<PixelRect>, ids: &[u32]) {
        let Some(rect) = rect else {
            self.changed();
            return;
        };
        let (w, h) = (self.doc.image.width, self.doc.image.height);
        if let Some(bounds) = self.bounds.as_mut() {
            for id in ids {
                match self.doc.segment(*id) {
                    Some(s) => bounds.insert(*id, s.geometry.pixel_bounds(w, h)),
                    None => bounds.remove(id),
                };
            }
        }
        let rect = rect.intersect(PixelRect::full(w, h));
        if !rect.is_empty() {
            let mut before = std::mem::take(&mut self.scratch);
            self.label_map.crop_into(rect, &mut before);
            let bounds = &self.bounds;
            self.doc
                .resolve_region_with(&mut self.label_map, rect, |s| match bounds {
                    Some(b) => b
                        .get(&s.id)
                        .copied()
                        .unwrap_or_else(|| s.geometry.pixel_bounds(w, h)),
                    None => s.geometry.pixel_bounds(w, h),
                });
            self.label_map.update_stats(&mut self.stats, rect, &before);
            // Keep the memory unless it is large (a whole-image edit on a big image).
            if before.capacity() <= 16 << 20 {
                self.scratch = before;
            }
        }
        self.record_change(Some(rect));
    }

    fn record_change(&mut self, rect: Option<PixelRect>) {
        self.revision = next_revision();
        self.changes.push_back((self.revision, rect));
        if self.changes.len() > CHANGE_LOG {
            self.changes.pop_front();
        }
        self.dirty_since.get_or_insert_with(Instant::now);
    }

    /// The pixels that may differ between revision `since` and now (an empty rect when
    /// none); `None` when unknown (possibly all, or `since` is too old or not ours).
    pub fn changed_since(&self, since: u64) -> Option<PixelRect> {
        if since == self.revision {
            return Some(PixelRect::EMPTY);
        }
        // `since` must be a revision this session made and still remembers.
        let at = self.changes.iter().position(|c| c.0 == since)?;
        let mut r = PixelRect::EMPTY;
        for (_, rect) in self.changes.iter().skip(at + 1) {
            r = r.union((*rect)?);
        }
        Some(r)
    }

    /// Applies an edit as one undo step.
    pub fn apply(&mut self, edit: Edit) -> bool {
        let (w, h) = (self.doc.image.width, self.doc.image.height);
        let (rect, ids) = (edit.dirty_rect(w, h), edit.segment_ids());
        let ok = self.history.apply(&mut self.doc, edit);
        if ok {
            self.changed_in(rect, &ids);
        }
        ok
    }

    pub fn undo(&mut self) -> bool {
        let (w, h) = (self.doc.image.width, self.doc.image.height);
        let Some((rect, ids)) = self
            .history
            .next_undo()
            .map(|e| (e.dirty_rect(w, h), e.segment_ids()))
        else {
            return false;
        };
        let ok = self.history.undo(&mut self.doc);
        if ok {
            self.changed_in(rect, &ids);
        }
        ok
    }

    pub fn redo(&mut self) -> bool {
        let (w, h) = (self.doc.image.width, self.doc.image.height);
        let Some((rect, ids)) = self
            .history
            .next_redo()
            .map(|e| (e.dirty_rect(w, h), e.segment_ids()))
        else {
            return false;
        };
        let ok = self.history.redo(&mut self.doc);
        if ok {
            self.changed_in(rect, &ids);
        }
        ok
    }

    /// Marks a change made outside the history (e.g. image status): re-resolves the
    /// whole image.
    pub fn touch(&mut self) {
        self.changed();
    }

    /// Marks a change that leaves every pixel as it was (status, review states,
    /// comments, tags): saved like an edit, without resolving anything again.
    pub fn touch_metadata(&mut self) {
        self.record_change(Some(PixelRect::EMPTY));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::document::{Geometry, Segment, Source};
    use crate::core::edit::paint::{BrushMode, BrushTarget, brush_edit, erase_edit, stamp_line};
    use crate::core::geometry::{BitMask, PolygonWithHoles};

    /// xorshift64*: deterministic, no dependency.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u32) -> u32 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % u64::from(n.max(1))) as u32
        }
    }

    fn polygon(rng: &mut Rng, w: u32, h: u32) -> Geometry {
        let (x, y) = (f64::from(rng.below(w)) - 3.0, f64::from(rng.below(h)) - 3.0);
        let (sx, sy) = (
            2.0 + f64::from(rng.below(w / 2)),
            2.0 + f64::from(rng.below(h / 2)),
        );
        Geometry::Polygons {
            polygons: vec![PolygonWithHoles {
                outer: vec![
                    [x, y],
                    [x + sx, y],
                    [x + sx, y + sy],
                    [x + 0.3, y + sy * 0.8],
                ],
                holes: vec![],
            }],
        }
    }

    /// Some edit of the kinds the app makes: a polygon, a brush stroke (either mode,
    /// into a new or an existing segment), an eraser stroke, a deletion, a class, z or
    /// shape change.
    fn random_edit(rng: &mut Rng, s: &ImageSession) -> Option<Edit> {
        let d = &s.doc;
        let (w, h) = (d.image.width, d.image.height);
        let pick = |rng: &mut Rng| -> Option<&Segment> {
            (!d.segments.is_empty())
                .then(|| &d.segments[rng.below(d.segments.len() as u32) as usize])
        };
        let mut stroke = BitMask::new(w, h);
        let a = [rng.below(w) as f32, rng.below(h) as f32];
        let b = [rng.below(w) as f32, rng.below(h) as f32];
        stamp_line(&mut stroke, a, b, 0.5 + rng.below(4) as f32);
        match rng.below(7) {
            0 => Some(Edit::add(Segment::new(
                d.next_segment_id(),
                1 + rng.below(3),
                polygon(rng, w, h),
                Source::Polygon,
            ))),
            1 | 2 => {
                let target = match pick(rng) {
                    Some(seg) if rng.below(2) == 0 => BrushTarget::Existing(seg.id),
                    _ => BrushTarget::New { category_id: 1 },
                };
                let mode = if rng.below(2) == 0 {
                    BrushMode::Overwrite
                } else {
                    BrushMode::Protect
                };
                brush_edit(d, &s.label_map, &stroke, target, mode)
            }
            3 => erase_edit(
                d,
                &stroke,
                pick(rng).map(|s| s.id).filter(|_| rng.below(2) == 0),
            ),
            4 => Edit::remove(d, pick(rng)?.id),
            _ => {
                let mut after = pick(rng)?.clone();
                match rng.below(3) {
                    0 => after.category_id += 1,
                    1 => after.z += rng.below(3) as i32 - 1,
                    _ => after.geometry = polygon(rng, w, h),
                }
                Edit::replace(d, after)
            }
        }
    }

    fn assert_consistent(s: &ImageSession, what: &str) {
        let full = s.doc.resolve();
        assert!(
            s.label_map == full,
            "{what}: map differs from a full resolve"
        );
        assert_eq!(s.stats, full.stats(), "{what}: stats");
    }

    #[test]
    fn edits_undo_and_redo_keep_the_map_equal_to_a_full_resolve() {
        let mut rng = Rng(0xC0FF_EE00_1234_5678);
        for case in 0..60 {
            let (w, h) = (10 + rng.below(50), 10 + rng.below(40));
            let mut s = ImageSession::new(ImageDocument::new("a.png", w, h));
            let mut snapshots = vec![(s.revision, s.label_map.clone())];
            for step in 0..25 {
                let what = format!("case {case} step {step}");
                let done = match rng.below(5) {
                    0 => s.undo(),
                    1 => s.redo(),
                    _ => match random_edit(&mut rng, &s) {
                        Some(e) => s.apply(e),
                        None => false,
                    },
                };
                assert_consistent(&s, &what);
                if done {
                    // Every pixel that changed since any remembered revision is inside
                    // the rect the session reports for it.
                    for (rev, old) in &snapshots {
                        if let Some(r) = s.changed_since(*rev) {
                            for (i, (a, b)) in old.ids.iter().zip(&s.label_map.ids).enumerate() {
                                let (x, y) = ((i as u32) % w, (i as u32) / w);
                                let inside = x >= r.x0 && x < r.x1 && y >= r.y0 && y < r.y1;
                                assert!(a == b || inside, "{what}: ({x}, {y}) outside {r:?}");
                            }
                        }
                    }
                    snapshots.push((s.revision, s.label_map.clone()));
                }
            }
            while s.undo() {
                assert_consistent(&s, &format!("case {case} unwinding"));
            }
            assert!(s.doc.segments.is_empty(), "case {case}: back to the start");
        }
    }

    #[test]
    fn metadata_changes_save_without_touching_pixels() {
        let mut s = ImageSession::new(ImageDocument::new("a.png", 40, 30));
        let base = s.revision;
        s.doc.status = crate::core::document::ImageStatus::Done;
        s.touch_metadata();
        assert!(s.is_dirty(), "a status change must reach disk");
        assert_ne!(s.revision, base);
        assert_eq!(
            s.changed_since(base),
            Some(crate::core::geometry::PixelRect::EMPTY),
            "no pixel changed"
        );
    }

    #[test]
    fn changes_are_reported_by_region() {
        let mut s = ImageSession::new(ImageDocument::new("a.png", 40, 30));
        let base = s.revision;
        let g = Geometry::Polygons {
            polygons: vec![PolygonWithHoles {
                outer: vec![[2.0, 3.0], [8.0, 3.0], [8.0, 9.0], [2.0, 9.0]],
                holes: vec![],
            }],
        };
        assert!(s.apply(Edit::add(Segment::new(1, 1, g, Source::Polygon))));
        let r = s.changed_since(base).expect("known");
        assert!(r.contains(crate::core::geometry::PixelRect::new(2, 3, 8, 9)));
        assert!(r.area() < 100, "{r:?} is about the square, not the image");
        assert_eq!(s.stats[&1].area, 36);
        assert_eq!(s.changed_since(s.revision), Some(PixelRect::EMPTY));
        assert_eq!(s.changed_since(12_345_678_901), None, "not ours");
        s.touch();
        assert_eq!(s.changed_since(base), None, "a full re-resolve");
    }
}
