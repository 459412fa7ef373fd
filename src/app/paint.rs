//! Brush and eraser strokes turned into edits. A stroke is a bit mask of the pixels the
//! brush covered; one stroke becomes one undo step, whatever it touches.

use super::history::Edit;
use crate::core::document::{Geometry, ImageDocument, Segment, Source};
use crate::core::geometry::BitMask;
use crate::core::labelmap::LabelMap;

/// Which segment a brush stroke paints into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrushTarget {
    /// The selected segment.
    Existing(u32),
    /// A new segment of this class.
    New { category_id: u32 },
}

/// How a brush treats pixels that belong to other segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrushMode {
    /// Takes the pixels from other segments.
    Overwrite,
    /// Paints only unlabeled pixels (and the target's own).
    Protect,
}

/// Stamps a disk of `radius` image pixels at every step along a-b into `mask`
/// (pixel centres within the radius, as the polygon fill rule samples centres).
pub fn stamp_line(mask: &mut BitMask, a: [f32; 2], b: [f32; 2], radius: f32) {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    let x0 = (a[0].min(b[0]) - radius).floor().max(0.0) as i64;
    let x1 = ((a[0].max(b[0]) + radius).ceil() as i64).min(i64::from(mask.width));
    let y0 = (a[1].min(b[1]) - radius).floor().max(0.0) as i64;
    let y1 = ((a[1].max(b[1]) + radius).ceil() as i64).min(i64::from(mask.height));
    for y in y0..y1 {
        for x in x0..x1 {
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            let t = if len2 > 0.0 {
                (((px - a[0]) * dx + (py - a[1]) * dy) / len2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let (qx, qy) = (a[0] + t * dx - px, a[1] + t * dy - py);
            if qx * qx + qy * qy <= radius * radius {
                mask.set(x, y, true);
            }
        }
    }
}

fn mask_of(seg: &Segment, w: u32, h: u32) -> BitMask {
    seg.geometry
        .to_mask(w, h)
        .unwrap_or_else(|_| BitMask::new(w, h))
}

fn with_mask(seg: &Segment, mask: &BitMask) -> Segment {
    let mut s = seg.clone();
    s.geometry = Geometry::from_mask(mask);
    s
}

/// The edit for a brush stroke, or `None` when it changes nothing.
pub fn brush_edit(
    doc: &ImageDocument,
    map: &LabelMap,
    stroke: &BitMask,
    target: BrushTarget,
    mode: BrushMode,
) -> Option<Edit> {
    let (w, h) = (doc.image.width, doc.image.height);
    let target_id = match target {
        BrushTarget::Existing(id) => id,
        BrushTarget::New { .. } => doc.next_segment_id(),
    };
    let mut painted = BitMask::new(w, h);
    for i in 0..stroke.data.len() {
        let allowed = match mode {
            BrushMode::Overwrite => true,
            BrushMode::Protect => map.ids[i] == 0 || map.ids[i] == target_id,
        };
        painted.data[i] = u8::from(stroke.data[i] != 0 && allowed);
    }
    if painted.area() == 0 {
        return None;
    }
    let mut edits = Vec::new();
    if mode == BrushMode::Overwrite {
        for s in doc.segments.iter().filter(|s| s.id != target_id) {
            let mut m = mask_of(s, w, h);
            let mut changed = false;
            for i in 0..m.data.len() {
                if painted.data[i] != 0 && m.data[i] != 0 {
                    m.data[i] = 0;
                    changed = true;
                }
            }
            if changed {
                edits.push(if m.area() == 0 {
                    Edit::remove(doc, s.id)?
                } else {
                    Edit::replace(doc, with_mask(s, &m))?
                });
            }
        }
    }
    match target {
        BrushTarget::Existing(id) => {
            let seg = doc.segment(id)?;
            let mut m = mask_of(seg, w, h);
            for i in 0..m.data.len() {
                m.data[i] |= painted.data[i];
            }
            if let Some(e) = Edit::replace(doc, with_mask(seg, &m)) {
                edits.push(e);
            }
        }
        BrushTarget::New { category_id } => {
            let mut seg = Segment::new(
                target_id,
                category_id,
                Geometry::from_mask(&painted),
                Source::Brush,
            );
            // On top, so the stroke shows where it was painted.
            seg.z = doc.segments.iter().map(|s| s.z).max().unwrap_or(0);
            edits.push(Edit::add(seg));
        }
    }
    (!edits.is_empty()).then_some(Edit::Batch(edits))
}

/// The edit for an eraser stroke: removes the stroke's pixels from `only` (the selected
/// segment) or from every segment it touches. Emptied segments are removed.
pub fn erase_edit(doc: &ImageDocument, stroke: &BitMask, only: Option<u32>) -> Option<Edit> {
    let (w, h) = (doc.image.width, doc.image.height);
    let mut edits = Vec::new();
    for s in doc
        .segments
        .iter()
        .filter(|s| only.is_none_or(|id| id == s.id))
    {
        let mut m = mask_of(s, w, h);
        let before = m.area();
        for i in 0..m.data.len() {
            if stroke.data[i] != 0 {
                m.data[i] = 0;
            }
        }
        if m.area() == before {
            continue;
        }
        edits.push(if m.area() == 0 {
            Edit::remove(doc, s.id)?
        } else {
            Edit::replace(doc, with_mask(s, &m))?
        });
    }
    (!edits.is_empty()).then_some(Edit::Batch(edits))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::geometry::PolygonWithHoles;

    fn doc_with_square() -> ImageDocument {
        let mut d = ImageDocument::new("a.png", 20, 20);
        d.segments.push(Segment {
            id: 1,
            category_id: 1,
            geometry: Geometry::Polygons {
                polygons: vec![PolygonWithHoles {
                    outer: vec![[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]],
                    holes: vec![],
                }],
            },
            z: 0,
            iscrowd: false,
            source: Source::Polygon,
            review: Default::default(),
            comments: vec![],
        });
        d
    }

    fn stroke(x0: i64, x1: i64) -> BitMask {
        let mut m = BitMask::new(20, 20);
        for x in x0..x1 {
            for y in 4..6 {
                m.set(x, y, true);
            }
        }
        m
    }

    #[test]
    fn protect_mode_paints_only_unlabeled_pixels() {
        let mut d = doc_with_square();
        let map = d.resolve();
        let e = brush_edit(
            &d,
            &map,
            &stroke(5, 15),
            BrushTarget::New { category_id: 2 },
            BrushMode::Protect,
        )
        .unwrap();
        assert!(e.apply(&mut d));
        let stats = d.resolve().stats();
        assert_eq!(stats[&2].area, 10, "5 columns x 2 rows outside the square");
        assert_eq!(stats[&1].area, 100);
    }

    #[test]
    fn overwrite_mode_takes_pixels_from_others_in_one_step() {
        let mut d = doc_with_square();
        let map = d.resolve();
        let e = brush_edit(
            &d,
            &map,
            &stroke(5, 15),
            BrushTarget::New { category_id: 2 },
            BrushMode::Overwrite,
        )
        .unwrap();
        assert!(matches!(&e, Edit::Batch(v) if v.len() == 2));
        let before = d.clone();
        assert!(e.apply(&mut d));
        let stats = d.resolve().stats();
        assert_eq!(stats[&2].area, 20);
        assert_eq!(stats[&1].area, 90);
        assert!(e.inverse().apply(&mut d));
        assert_eq!(d, before);
    }

    #[test]
    fn eraser_removes_pixels_and_empty_segments() {
        let mut d = doc_with_square();
        let e = erase_edit(&d, &stroke(0, 20), None).unwrap();
        assert!(e.apply(&mut d));
        assert_eq!(d.resolve().stats()[&1].area, 80);
        let mut all = BitMask::new(20, 20);
        all.data.fill(1);
        assert!(erase_edit(&d, &all, Some(1)).unwrap().apply(&mut d));
        assert!(d.segments.is_empty());
        assert!(erase_edit(&d, &all, None).is_none());
    }

    #[test]
    fn stamp_line_covers_a_capsule() {
        let mut m = BitMask::new(30, 10);
        stamp_line(&mut m, [5.0, 5.0], [25.0, 5.0], 2.0);
        assert!(m.get(15, 4) && m.get(15, 5) && !m.get(15, 8) && !m.get(1, 5));
    }
}
