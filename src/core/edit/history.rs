//! Edits as command objects that apply and revert; undo is a stack of them.
//! One polygon, one brush stroke, one merge = one command = one undo step.

use std::collections::VecDeque;

use crate::core::document::{ImageDocument, Segment};
use crate::core::geometry::PixelRect;

/// An invertible edit of one image's document.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// Inserts a segment (its id must be free) at `index`, or at the end when `None`.
    Insert {
        segment: Segment,
        index: Option<usize>,
    },
    /// Removes the segment with `segment.id`, remembering it and where it was.
    Remove { segment: Segment, index: usize },
    /// Replaces a segment's whole state (geometry, class, z, flags).
    Replace { before: Segment, after: Segment },
    /// Several edits applied as one undo step (e.g. a brush stroke that takes pixels
    /// from several segments).
    Batch(Vec<Edit>),
}

impl Edit {
    /// A new segment at the end of the list.
    pub fn add(segment: Segment) -> Edit {
        Edit::Insert {
            segment,
            index: None,
        }
    }

    /// A removal that remembers the segment's list position.
    pub fn remove(doc: &ImageDocument, id: u32) -> Option<Edit> {
        let index = doc.segments.iter().position(|s| s.id == id)?;
        Some(Edit::Remove {
            segment: doc.segments[index].clone(),
            index,
        })
    }

    /// A change of one segment, from its current state to `after`.
    pub fn replace(doc: &ImageDocument, after: Segment) -> Option<Edit> {
        let before = doc.segment(after.id)?.clone();
        (before != after).then_some(Edit::Replace { before, after })
    }

    /// The pixels of a `width` x `height` image this edit (or its inverse) can change:
    /// the union of the bounds of every segment state it holds, before and after. A
    /// change of class or z recolours or restacks only the segment's own pixels, so it
    /// is inside too. `None` would mean unknown (the whole image); every edit kind
    /// knows its rectangle today.
    pub fn dirty_rect(&self, width: u32, height: u32) -> Option<PixelRect> {
        let bounds = |s: &Segment| s.geometry.pixel_bounds(width, height);
        Some(match self {
            Edit::Batch(edits) => {
                let mut r = PixelRect::EMPTY;
                for e in edits {
                    r = r.union(e.dirty_rect(width, height)?);
                }
                r
            }
            Edit::Insert { segment, .. } | Edit::Remove { segment, .. } => bounds(segment),
            Edit::Replace { before, after } if before.geometry == after.geometry => bounds(after),
            Edit::Replace { before, after } => bounds(before).union(bounds(after)),
        })
    }

    /// Ids of the segments this edit adds, removes or changes.
    pub fn segment_ids(&self) -> Vec<u32> {
        match self {
            Edit::Batch(edits) => edits.iter().flat_map(Edit::segment_ids).collect(),
            Edit::Insert { segment, .. } | Edit::Remove { segment, .. } => vec![segment.id],
            Edit::Replace { before, after } => {
                if before.id == after.id {
                    vec![after.id]
                } else {
                    vec![before.id, after.id]
                }
            }
        }
    }

    /// Applies the edit. Returns false (and changes nothing) when it does not fit the
    /// document.
    pub fn apply(&self, doc: &mut ImageDocument) -> bool {
        match self {
            Edit::Batch(edits) => {
                for (i, e) in edits.iter().enumerate() {
                    if !e.apply(doc) {
                        // All or nothing: undo the part already applied.
                        for done in edits[..i].iter().rev() {
                            done.inverse().apply(doc);
                        }
                        return false;
                    }
                }
                true
            }
            Edit::Insert { segment, index } => {
                if doc.segment(segment.id).is_some() {
                    return false;
                }
                let at = index.unwrap_or(usize::MAX).min(doc.segments.len());
                doc.segments.insert(at, segment.clone());
                true
            }
            Edit::Remove { segment, .. } => {
                let Some(i) = doc.segments.iter().position(|s| s.id == segment.id) else {
                    return false;
                };
                doc.segments.remove(i);
                true
            }
            Edit::Replace { after, .. } => match doc.segment_mut(after.id) {
                Some(s) => {
                    *s = after.clone();
                    true
                }
                None => false,
            },
        }
    }

    /// The edit that undoes this one.
    pub fn inverse(&self) -> Edit {
        match self {
            Edit::Batch(edits) => Edit::Batch(edits.iter().rev().map(Edit::inverse).collect()),
            Edit::Insert { segment, index } => Edit::Remove {
                segment: segment.clone(),
                index: index.unwrap_or(usize::MAX),
            },
            Edit::Remove { segment, index } => Edit::Insert {
                segment: segment.clone(),
                index: Some(*index),
            },
            Edit::Replace { before, after } => Edit::Replace {
                before: after.clone(),
                after: before.clone(),
            },
        }
    }
}

/// Per-image undo / redo stacks. The undo stack is bounded: the oldest step drops off
/// its front when it is full.
#[derive(Debug, Default)]
pub struct History {
    undo: VecDeque<Edit>,
    redo: Vec<Edit>,
}

/// Most undo steps kept per image.
pub const MAX_UNDO: usize = 500;

impl History {
    /// Applies `edit` and records it; a new edit clears the redo stack.
    pub fn apply(&mut self, doc: &mut ImageDocument, edit: Edit) -> bool {
        if !edit.apply(doc) {
            return false;
        }
        self.undo.push_back(edit);
        if self.undo.len() > MAX_UNDO {
            self.undo.pop_front();
        }
        self.redo.clear();
        true
    }

    /// Reverts the last edit.
    pub fn undo(&mut self, doc: &mut ImageDocument) -> bool {
        let Some(e) = self.undo.pop_back() else {
            return false;
        };
        let ok = e.inverse().apply(doc);
        if ok {
            self.redo.push(e);
        }
        ok
    }

    /// Re-applies the last undone edit.
    pub fn redo(&mut self, doc: &mut ImageDocument) -> bool {
        let Some(e) = self.redo.pop() else {
            return false;
        };
        let ok = e.apply(doc);
        if ok {
            self.undo.push_back(e);
        }
        ok
    }

    /// The edit [`Self::undo`] would revert.
    pub fn next_undo(&self) -> Option<&Edit> {
        self.undo.back()
    }

    /// The edit [`Self::redo`] would re-apply.
    pub fn next_redo(&self) -> Option<&Edit> {
        self.redo.last()
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::document::{Geometry, Source};

    fn seg(id: u32) -> Segment {
        Segment {
            id,
            category_id: 1,
            geometry: Geometry::Polygons { polygons: vec![] },
            z: 0,
            iscrowd: false,
            source: Source::Polygon,
            review: Default::default(),
            comments: vec![],
        }
    }

    #[test]
    fn undo_redo_restore_exact_states() {
        let mut doc = ImageDocument::new("a.png", 4, 4);
        let mut h = History::default();
        let s0 = doc.clone();
        assert!(h.apply(&mut doc, Edit::add(seg(1))));
        assert!(h.apply(&mut doc, Edit::add(seg(2))));
        let s2 = doc.clone();
        let mut changed = seg(1);
        changed.z = 3;
        let e = Edit::replace(&doc, changed).unwrap();
        assert!(h.apply(&mut doc, e));
        let e = Edit::remove(&doc, 1).unwrap();
        assert!(h.apply(&mut doc, e));
        assert_eq!(doc.segments.len(), 1);
        assert!(h.undo(&mut doc));
        assert_eq!(doc.segments[0].z, 3, "removed segment back in its place");
        assert!(h.undo(&mut doc));
        assert_eq!(doc, s2);
        assert!(h.undo(&mut doc) && h.undo(&mut doc));
        assert_eq!(doc, s0);
        assert!(!h.undo(&mut doc));
        assert!(h.redo(&mut doc) && h.redo(&mut doc));
        assert_eq!(doc, s2);
        assert!(h.apply(&mut doc, Edit::add(seg(9))));
        assert!(!h.can_redo(), "a new edit clears redo");
        assert!(
            !h.apply(&mut doc, Edit::add(seg(9))),
            "duplicate id refused"
        );
    }

    #[test]
    fn the_oldest_step_drops_off_when_the_stack_is_full() {
        let mut doc = ImageDocument::new("a.png", 4, 4);
        let mut h = History::default();
        let n = MAX_UNDO as u32 + 3;
        for id in 1..=n {
            assert!(h.apply(&mut doc, Edit::add(seg(id))));
        }
        let mut undone = 0;
        while h.undo(&mut doc) {
            undone += 1;
        }
        assert_eq!(undone, MAX_UNDO);
        // The three oldest adds can no longer be undone; the newest ones were.
        let ids: Vec<u32> = doc.segments.iter().map(|s| s.id).collect();
        assert_eq!(ids, [1, 2, 3]);
    }
}
