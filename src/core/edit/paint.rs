//! Brush and eraser strokes turned into edits. A stroke is a bit mask of the pixels the
//! brush covered; one stroke becomes one undo step, whatever it touches.

use super::history::Edit;
use crate::core::document::{Geometry, ImageDocument, Segment, Source};
use crate::core::geometry::{
    BitMask, PixelRect, replace_runs_in, rle_runs, runs_area, runs_in, runs_to_string,
    scan_polygons_in,
};
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
    let (w, h) = (mask.width as usize, mask.height as usize);
    crate::core::stroke::for_each_pixel_near_segment(w, h, a, b, radius, |x, y| {
        mask.data[y * w + x] = 1;
    });
}

/// The pixels of `seg` within `rect` (row-major, `rect`-sized, 0 or 1). A bitmap that
/// does not decode has none, as in resolution.
fn local_mask(seg: &Segment, w: u32, h: u32, rect: PixelRect) -> Vec<u8> {
    let rw = rect.width() as usize;
    let mut m = vec![0u8; rect.area() as usize];
    match &seg.geometry {
        Geometry::Polygons { polygons } => scan_polygons_in(polygons, w, h, rect, |y, x0, x1| {
            let row = (y - rect.y0) as usize * rw;
            m[row + (x0 - rect.x0) as usize..row + (x1 - rect.x0) as usize].fill(1);
        }),
        Geometry::Rle { counts } => {
            if let Some(runs) = rle_runs(counts, w, h) {
                runs_in(&runs, w, h, rect, |x, y0, y1| {
                    for y in y0..y1 {
                        m[(y - rect.y0) as usize * rw + (x - rect.x0) as usize] = 1;
                    }
                });
            }
        }
    }
    m
}

/// The runs of `seg`'s mask with `rect` replaced by `local` (as [`local_mask`] lays it
/// out). A polygon becomes a bitmap: it is rasterized within its own bounds only.
fn runs_with(seg: &Segment, w: u32, h: u32, rect: PixelRect, local: &[u8]) -> Vec<u32> {
    let empty = [w * h];
    match &seg.geometry {
        Geometry::Rle { counts } => {
            let runs = rle_runs(counts, w, h);
            replace_runs_in(runs.as_deref().unwrap_or(&empty), w, h, rect, local)
        }
        Geometry::Polygons { .. } => {
            let area = seg.geometry.pixel_bounds(w, h).union(rect);
            let mut m = local_mask(seg, w, h, area);
            let (aw, rw) = (area.width() as usize, rect.width() as usize);
            for y in rect.y0..rect.y1 {
                let at = (y - area.y0) as usize * aw + (rect.x0 - area.x0) as usize;
                let from = (y - rect.y0) as usize * rw;
                m[at..at + rw].copy_from_slice(&local[from..from + rw]);
            }
            replace_runs_in(&empty, w, h, area, &m)
        }
    }
}

fn with_runs(seg: &Segment, runs: Vec<u32>, w: u32, h: u32) -> Segment {
    let mut s = seg.clone();
    s.geometry = Geometry::Rle {
        counts: runs_to_string(runs, w, h),
    };
    s
}

/// Bounds (image coordinates) of the set pixels of `local`, laid out over `rect`.
fn local_bounds(local: &[u8], rect: PixelRect) -> PixelRect {
    let rw = rect.width() as usize;
    let mut b = PixelRect::EMPTY;
    if rw == 0 {
        return b;
    }
    for (i, row) in local.chunks_exact(rw).enumerate() {
        if let (Some(a), Some(c)) = (
            row.iter().position(|&v| v != 0),
            row.iter().rposition(|&v| v != 0),
        ) {
            let y = rect.y0 + i as u32;
            b = b.union(PixelRect::new(
                rect.x0 + a as u32,
                y,
                rect.x0 + c as u32 + 1,
                y + 1,
            ));
        }
    }
    b
}

/// The part `sub` (within `rect`) of `local`, laid out over `rect`.
fn sub_crop(local: &[u8], rect: PixelRect, sub: PixelRect) -> Vec<u8> {
    let (rw, sw) = (rect.width() as usize, sub.width() as usize);
    let mut out = Vec::with_capacity(sub.area() as usize);
    for y in sub.y0..sub.y1 {
        let at = (y - rect.y0) as usize * rw + (sub.x0 - rect.x0) as usize;
        out.extend_from_slice(&local[at..at + sw]);
    }
    out
}

/// Edits that take the pixels of `painted` (laid out over `rect`) away from every segment
/// `take_from` accepts; emptied segments are removed. Only segments whose bounds meet
/// `rect` are looked at, and only within it (plus a polygon's own bounds when it turns
/// into a bitmap): the image size does not matter.
fn take_pixels(
    doc: &ImageDocument,
    painted: &[u8],
    rect: PixelRect,
    take_from: impl Fn(&Segment) -> bool,
    edits: &mut Vec<Edit>,
) -> Option<()> {
    let (w, h) = (doc.image.width, doc.image.height);
    for s in doc.segments.iter().filter(|s| take_from(s)) {
        let bounds = s.geometry.pixel_bounds(w, h);
        let inter = bounds.intersect(rect);
        if inter.is_empty() {
            continue;
        }
        // A polygon becomes a bitmap of its own bounds: rasterize those once. A bitmap
        // is edited within the stroke only.
        let area = match s.geometry {
            Geometry::Polygons { .. } => bounds,
            Geometry::Rle { .. } => inter,
        };
        let mut local = local_mask(s, w, h, area);
        let (aw, rw, iw) = (
            area.width() as usize,
            rect.width() as usize,
            inter.width() as usize,
        );
        let mut changed = false;
        for y in inter.y0..inter.y1 {
            let at = (y - area.y0) as usize * aw + (inter.x0 - area.x0) as usize;
            let from = (y - rect.y0) as usize * rw + (inter.x0 - rect.x0) as usize;
            for (m, &p) in local[at..at + iw].iter_mut().zip(&painted[from..from + iw]) {
                if p != 0 && *m != 0 {
                    *m = 0;
                    changed = true;
                }
            }
        }
        if !changed {
            continue;
        }
        let runs = match &s.geometry {
            Geometry::Polygons { .. } => replace_runs_in(&[w * h], w, h, area, &local),
            Geometry::Rle { .. } => runs_with(s, w, h, area, &local),
        };
        edits.push(if runs_area(&runs) == 0 {
            Edit::remove(doc, s.id)?
        } else {
            Edit::replace(doc, with_runs(s, runs, w, h))?
        });
    }
    Some(())
}

/// The edit for a brush stroke, or `None` when it changes nothing. Work is proportional
/// to the stroke's bounds and the segments near it, not to the image.
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
    let sr = stroke.bounds();
    if sr.is_empty() {
        return None;
    }
    let mut painted = stroke.crop(sr);
    if mode == BrushMode::Protect {
        let rw = sr.width() as usize;
        for y in sr.y0..sr.y1 {
            let ids = &map.ids[y as usize * w as usize + sr.x0 as usize..][..rw];
            let row = (y - sr.y0) as usize * rw;
            for (p, &id) in painted[row..row + rw].iter_mut().zip(ids) {
                if id != 0 && id != target_id {
                    *p = 0;
                }
            }
        }
    }
    let rect = local_bounds(&painted, sr);
    if rect.is_empty() {
        return None;
    }
    let painted = sub_crop(&painted, sr, rect);
    let mut edits = Vec::new();
    if mode == BrushMode::Overwrite {
        take_pixels(doc, &painted, rect, |s| s.id != target_id, &mut edits)?;
    }
    match target {
        BrushTarget::Existing(id) => {
            let seg = doc.segment(id)?;
            let mut m = local_mask(seg, w, h, rect);
            for (m, &p) in m.iter_mut().zip(&painted) {
                *m |= p;
            }
            let runs = runs_with(seg, w, h, rect, &m);
            if let Some(e) = Edit::replace(doc, with_runs(seg, runs, w, h)) {
                edits.push(e);
            }
        }
        BrushTarget::New { category_id } => {
            let runs = replace_runs_in(&[w * h], w, h, rect, &painted);
            let mut seg = Segment::new(
                target_id,
                category_id,
                Geometry::Rle {
                    counts: runs_to_string(runs, w, h),
                },
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
    let rect = stroke.bounds();
    if rect.is_empty() {
        return None;
    }
    let mut edits = Vec::new();
    take_pixels(
        doc,
        &stroke.crop(rect),
        rect,
        |s| only.is_none_or(|id| id == s.id),
        &mut edits,
    )?;
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

    /// The whole-image implementation the region one replaced: every segment as a
    /// full-size mask.
    fn reference_edit(
        doc: &ImageDocument,
        map: &LabelMap,
        stroke: &BitMask,
        target: BrushTarget,
        mode: Option<BrushMode>,
    ) -> Option<Edit> {
        let (w, h) = (doc.image.width, doc.image.height);
        let mask_of = |s: &Segment| {
            s.geometry
                .to_mask(w, h)
                .unwrap_or_else(|_| BitMask::new(w, h))
        };
        let with_mask = |s: &Segment, m: &BitMask| {
            let mut s = s.clone();
            s.geometry = Geometry::from_mask(m);
            s
        };
        let target_id = match target {
            BrushTarget::Existing(id) => id,
            BrushTarget::New { .. } => doc.next_segment_id(),
        };
        let mut painted = stroke.clone();
        if mode == Some(BrushMode::Protect) {
            for i in 0..painted.data.len() {
                if map.ids[i] != 0 && map.ids[i] != target_id {
                    painted.data[i] = 0;
                }
            }
        }
        if painted.area() == 0 {
            return None;
        }
        let mut edits = Vec::new();
        let only = match (mode, target) {
            (None, BrushTarget::Existing(id)) => Some(id),
            _ => None,
        };
        if mode != Some(BrushMode::Protect) {
            for s in doc.segments.iter().filter(|s| match mode {
                None => only.is_none_or(|id| id == s.id),
                Some(_) => s.id != target_id,
            }) {
                let mut m = mask_of(s);
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
        if mode.is_some() {
            match target {
                BrushTarget::Existing(id) => {
                    let seg = doc.segment(id)?;
                    let mut m = mask_of(seg);
                    for i in 0..m.data.len() {
                        m.data[i] |= painted.data[i];
                    }
                    edits.extend(Edit::replace(doc, with_mask(seg, &m)));
                }
                BrushTarget::New { category_id } => {
                    let mut seg = Segment::new(
                        target_id,
                        category_id,
                        Geometry::from_mask(&painted),
                        Source::Brush,
                    );
                    seg.z = doc.segments.iter().map(|s| s.z).max().unwrap_or(0);
                    edits.push(Edit::add(seg));
                }
            }
        }
        (!edits.is_empty()).then_some(Edit::Batch(edits))
    }

    #[test]
    fn region_strokes_equal_whole_image_strokes() {
        // xorshift64*: deterministic, no dependency.
        let mut state = 0xB5A5_11CE_0000_0007u64;
        let mut below = |n: u32| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_F491_4F6C_DD1D) % u64::from(n.max(1))) as u32
        };
        for case in 0..300 {
            let (w, h) = (8 + below(40), 8 + below(30));
            let mut d = ImageDocument::new("a.png", w, h);
            for id in 1..=below(6) {
                let (x, y) = (f64::from(below(w)) - 2.0, f64::from(below(h)) - 2.0);
                let (sx, sy) = (1.0 + f64::from(below(w)), 1.0 + f64::from(below(h)));
                let mut g = Geometry::Polygons {
                    polygons: vec![PolygonWithHoles {
                        outer: vec![[x, y], [x + sx, y + 0.5], [x + sx * 0.7, y + sy]],
                        holes: vec![],
                    }],
                };
                if below(2) == 0 {
                    g = Geometry::from_mask(&g.to_mask(w, h).unwrap());
                }
                let mut s = Segment::new(id, 1, g, Source::Polygon);
                s.z = below(2) as i32;
                d.segments.push(s);
            }
            let map = d.resolve();
            let mut stroke = BitMask::new(w, h);
            let a = [below(w) as f32, below(h) as f32];
            let b = [below(w) as f32, below(h) as f32];
            stamp_line(&mut stroke, a, b, 0.5 + below(5) as f32);
            let n = d.segments.len() as u32;
            let target = if n > 0 && below(2) == 0 {
                BrushTarget::Existing(d.segments[below(n) as usize].id)
            } else {
                BrushTarget::New { category_id: 2 }
            };
            for mode in [BrushMode::Overwrite, BrushMode::Protect] {
                assert_eq!(
                    brush_edit(&d, &map, &stroke, target, mode),
                    reference_edit(&d, &map, &stroke, target, Some(mode)),
                    "case {case} {mode:?}"
                );
            }
            let only = match target {
                BrushTarget::Existing(id) => Some(id),
                BrushTarget::New { .. } => None,
            };
            assert_eq!(
                erase_edit(&d, &stroke, only),
                reference_edit(&d, &map, &stroke, target, None),
                "case {case} eraser"
            );
        }
    }

    #[test]
    fn stamp_line_covers_a_capsule() {
        let mut m = BitMask::new(30, 10);
        stamp_line(&mut m, [5.0, 5.0], [25.0, 5.0], 2.0);
        assert!(m.get(15, 4) && m.get(15, 5) && !m.get(15, 8) && !m.get(1, 5));
    }
}
