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

/// Pixel bounds `[x0, y0, x1, y1)` of the set pixels of `mask`.
fn mask_bounds(mask: &BitMask) -> Option<[f64; 4]> {
    let w = mask.width as usize;
    let mut b: Option<[f64; 4]> = None;
    for (y, row) in mask.data.chunks(w.max(1)).enumerate() {
        let (Some(x0), Some(x1)) = (
            row.iter().position(|&v| v != 0),
            row.iter().rposition(|&v| v != 0),
        ) else {
            continue;
        };
        let (x0, x1, y) = (x0 as f64, x1 as f64 + 1.0, y as f64);
        b = Some(match b {
            None => [x0, y, x1, y + 1.0],
            Some(b) => [b[0].min(x0), b[1], b[2].max(x1), y + 1.0],
        });
    }
    b
}

/// False when the segment certainly has no pixel under the stroke: its polygon bounds miss
/// the stroke's bounds `b` or cover no stroke pixel (a bitmap segment is always checked
/// pixel by pixel).
fn may_overlap(seg: &Segment, painted: &BitMask, b: [f64; 4]) -> bool {
    match &seg.geometry {
        Geometry::Polygons { polygons } => {
            polygons.iter().filter_map(|p| p.bounds()).any(|(lo, hi)| {
                let r = [
                    lo[0].max(b[0]),
                    lo[1].max(b[1]),
                    hi[0].min(b[2]),
                    hi[1].min(b[3]),
                ];
                r[0] < r[2] && r[1] < r[3] && any_set_in(painted, r)
            })
        }
        Geometry::Rle { .. } => true,
    }
}

/// True when `mask` has a set pixel in the rectangle `[x0, y0, x1, y1]` (pixels touched).
fn any_set_in(mask: &BitMask, r: [f64; 4]) -> bool {
    let w = mask.width as usize;
    let clamp = |v: f64, hi: u32| (v.max(0.0) as usize).min(hi as usize);
    let (x0, x1) = (
        clamp(r[0].floor(), mask.width),
        clamp(r[2].ceil(), mask.width),
    );
    let (y0, y1) = (
        clamp(r[1].floor(), mask.height),
        clamp(r[3].ceil(), mask.height),
    );
    (y0..y1).any(|y| mask.data[y * w + x0..y * w + x1].iter().any(|&v| v != 0))
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
        // Only segments near the stroke can lose pixels: skip rasterizing the others
        // (with 1000 polygons on 24 MP that is the difference between ms and minutes).
        let bounds = mask_bounds(&painted).expect("painted is not empty");
        for s in doc
            .segments
            .iter()
            .filter(|s| s.id != target_id && may_overlap(s, &painted, bounds))
        {
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
