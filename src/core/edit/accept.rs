//! A model's mask becomes a segment: a new one of the active class, or the new shape of
//! the segment being refined. One rule for the app and for tests.

use super::history::Edit;
use crate::core::document::{Geometry, ImageDocument, Segment, Source};
use crate::core::geometry::BitMask;
use crate::core::labelmap::LabelMap;
use crate::core::vectorize::{Vectorize, vectorize};

/// How an accepted mask is stored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaskShape {
    /// A bitmap (RLE): exactly the mask.
    Bitmap,
    /// Polygons with holes, Douglas–Peucker simplified by `tolerance` px (0: exact
    /// pixel-edge polygons).
    Polygons { tolerance: f64 },
}

/// The edit that accepts a mask, and what the user should know about it.
#[derive(Debug)]
pub struct Accepted {
    pub edit: Edit,
    /// The segment the mask became (refined or new).
    pub segment: u32,
    /// True when a new segment was added (not a refinement).
    pub is_new: bool,
    /// IoU of the polygons with the mask, when simplification changed it.
    pub polygon_iou: Option<f64>,
}

/// The edit that turns `mask` into a segment: `refining` (when it is still there) takes
/// the new shape and keeps its id, class and flags; else a new segment of `class`.
/// `None` when the mask is empty or the edit would change nothing.
pub fn accept_mask(
    doc: &ImageDocument,
    mask: &BitMask,
    class: u32,
    refining: Option<u32>,
    shape: MaskShape,
) -> Option<Accepted> {
    if mask.area() == 0 {
        return None;
    }
    let (geometry, polygon_iou) = match shape {
        MaskShape::Bitmap => (Geometry::from_mask(mask), None),
        MaskShape::Polygons { tolerance } => {
            let mode = if tolerance > 0.0 {
                Vectorize::Simplified { tolerance }
            } else {
                Vectorize::Exact
            };
            let v = vectorize(mask, mode);
            let iou = (v.iou < 1.0).then_some(v.iou);
            (
                Geometry::Polygons {
                    polygons: v.polygons,
                },
                iou,
            )
        }
    };
    match refining.and_then(|id| doc.segment(id)) {
        Some(old) => {
            let mut after = old.clone();
            after.geometry = geometry;
            after.source = Source::Model;
            Some(Accepted {
                segment: after.id,
                edit: Edit::replace(doc, after)?,
                is_new: false,
                polygon_iou,
            })
        }
        None => {
            let mut seg = Segment::new(doc.next_segment_id(), class, geometry, Source::Model);
            // On top, as a brush stroke: where the mask still meets others it wins.
            seg.z = doc.segments.iter().map(|s| s.z).max().unwrap_or(0);
            Some(Accepted {
                segment: seg.id,
                edit: Edit::add(seg),
                is_new: true,
                polygon_iou,
            })
        }
    }
}

/// The mask without the pixels other segments hold in `map` (the brush's protect mode,
/// for model masks: Labelbox's "draw behind"): `own` (the segment being refined) keeps
/// its pixels. Returns the mask and how many pixels were left to others.
pub fn protect_others(mask: &BitMask, map: &LabelMap, own: Option<u32>) -> (BitMask, u64) {
    let mut out = mask.clone();
    let mut kept = 0u64;
    if (map.width, map.height) != (mask.width, mask.height) {
        return (out, 0);
    }
    for (m, &id) in out.data.iter_mut().zip(&map.ids) {
        if *m != 0 && id != 0 && Some(id) != own {
            *m = 0;
            kept += 1;
        }
    }
    (out, kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::document::ImageDocument;

    fn square(w: u32, h: u32, x0: u32, x1: u32) -> BitMask {
        let mut m = BitMask::new(w, h);
        for y in 2..8 {
            for x in x0..x1 {
                m.set(i64::from(x), i64::from(y), true);
            }
        }
        m
    }

    #[test]
    fn a_mask_adds_a_segment_or_reshapes_the_refined_one() {
        let mut doc = ImageDocument::new("a.png", 20, 10);
        assert!(accept_mask(&doc, &BitMask::new(20, 10), 1, None, MaskShape::Bitmap).is_none());
        let a = accept_mask(&doc, &square(20, 10, 2, 8), 1, None, MaskShape::Bitmap).unwrap();
        assert!(a.is_new);
        assert!(a.edit.apply(&mut doc));
        let grown = square(20, 10, 2, 12);
        let shape = MaskShape::Polygons { tolerance: 0.0 };
        let r = accept_mask(&doc, &grown, 7, Some(a.segment), shape).unwrap();
        assert!(!r.is_new && r.segment == a.segment && r.polygon_iou.is_none());
        assert!(r.edit.apply(&mut doc));
        let seg = doc.segment(a.segment).unwrap();
        assert_eq!(seg.category_id, 1, "refining keeps the class");
        assert!(matches!(seg.geometry, Geometry::Polygons { .. }));
        assert_eq!(doc.resolve().stats()[&a.segment].area, 60);
    }

    #[test]
    fn protect_leaves_other_segments_their_pixels_and_the_refined_one_its_own() {
        let mut doc = ImageDocument::new("a.png", 20, 10);
        let a = accept_mask(&doc, &square(20, 10, 2, 8), 1, None, MaskShape::Bitmap).unwrap();
        assert!(a.edit.apply(&mut doc));
        let map = doc.resolve();
        let wide = square(20, 10, 4, 14);
        let (m, kept) = protect_others(&wide, &map, None);
        assert_eq!(
            (m.area(), kept),
            (36, 24),
            "the 4 shared columns stay the first's"
        );
        let (m, kept) = protect_others(&wide, &map, Some(a.segment));
        assert_eq!(
            (m.area(), kept),
            (60, 0),
            "refining: its own pixels are not others'"
        );
        let b = accept_mask(&doc, &m, 2, None, MaskShape::Bitmap).unwrap();
        assert!(b.edit.apply(&mut doc));
        assert_eq!(
            doc.resolve().stats()[&a.segment].area,
            12,
            "overwrite: the new one wins"
        );
    }
}
