//! Where a label set disagrees with the gold labels of the same image, pixel by pixel
//! and segment by segment: what the disagreement view draws and what reviewers step
//! through, worst segment first.
//!
//! Pixels are compared by class (category id; 0 = void):
//! - *false positive*: the current labels say class `c`, gold says void;
//! - *false negative*: gold says class `c`, the current labels say void;
//! - *wrong class*: both labeled, with different classes.
//!
//! The *boundary band* is every pixel within `band` pixels (chessboard distance) of a
//! gold segment border; errors in it are boundary errors, errors outside it are missed
//! or invented regions.

use std::collections::HashMap;

use super::document::ImageDocument;
use super::labelmap::LabelMap;

/// How one pixel compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum PixelDiff {
    #[default]
    Agree = 0,
    FalsePositive = 1,
    FalseNegative = 2,
    WrongClass = 3,
}

/// One segment's agreement with its best gold (or current) counterpart of the same class.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentError {
    /// The current segment; `None` for a gold segment nothing current matches.
    pub current: Option<u32>,
    /// The best-overlapping gold segment of the same class, if any overlaps.
    pub gold: Option<u32>,
    pub category_id: u32,
    /// IoU with that counterpart (0 when none).
    pub iou: f64,
    /// Pixel bbox `[x, y, width, height]` of the segment (current, or gold when missing).
    pub bbox: [u32; 4],
}

/// The comparison of one image's current labels with its gold labels.
#[derive(Debug, Clone)]
pub struct Disagreement {
    pub width: u32,
    pub height: u32,
    /// Row-major, one per pixel.
    pub pixels: Vec<PixelDiff>,
    /// Row-major: pixel lies in the gold boundary band.
    pub in_band: Vec<bool>,
    /// Segments, worst (lowest IoU) first. Current segments with their best gold match,
    /// then gold segments that no current segment matches with IoU ≥ 0.5.
    pub segments: Vec<SegmentError>,
    /// Pixels that disagree, and how many of them lie in the boundary band.
    pub error_pixels: u64,
    pub band_error_pixels: u64,
}

/// How a pixel with gold class `gold` and current class `current` compares (0 = void).
/// The one rule for every disagreement view and report.
pub fn classify(gold: u32, current: u32) -> PixelDiff {
    match (gold, current) {
        _ if gold == current => PixelDiff::Agree,
        (0, _) => PixelDiff::FalsePositive,
        (_, 0) => PixelDiff::FalseNegative,
        _ => PixelDiff::WrongClass,
    }
}

/// Category of every pixel of a resolved map (0 = void).
pub fn class_map(doc: &ImageDocument, map: &LabelMap) -> Vec<u32> {
    let cat: HashMap<u32, u32> = doc.segments.iter().map(|s| (s.id, s.category_id)).collect();
    map.ids
        .iter()
        .map(|id| {
            if *id == 0 {
                0
            } else {
                cat.get(id).copied().unwrap_or(0)
            }
        })
        .collect()
}

/// Compares `current` with `gold` (same image). `band` is the boundary band half-width
/// in pixels. Fails when the two documents disagree on the image size.
pub fn compare(
    gold: &ImageDocument,
    current: &ImageDocument,
    band: u32,
) -> Result<Disagreement, String> {
    let (w, h) = (current.image.width, current.image.height);
    if (gold.image.width, gold.image.height) != (w, h) {
        return Err(format!(
            "gold labels of {} are for a {}x{} image, the current ones for {}x{}",
            current.image.file_name, gold.image.width, gold.image.height, w, h
        ));
    }
    let (gmap, pmap) = (gold.resolve(), current.resolve());
    let (gcls, pcls) = (class_map(gold, &gmap), class_map(current, &pmap));
    let pixels: Vec<PixelDiff> = gcls
        .iter()
        .zip(&pcls)
        .map(|(&g, &p)| classify(g, p))
        .collect();
    let in_band = boundary_band(&gmap, band);
    let error_pixels = pixels.iter().filter(|d| **d != PixelDiff::Agree).count() as u64;
    let band_error_pixels = pixels
        .iter()
        .zip(&in_band)
        .filter(|(d, b)| **d != PixelDiff::Agree && **b)
        .count() as u64;

    // Overlap of every (current, gold) id pair, and each id's area.
    let mut inter: HashMap<(u32, u32), u64> = HashMap::new();
    for (&p, &g) in pmap.ids.iter().zip(&gmap.ids) {
        if p != 0 && g != 0 {
            *inter.entry((p, g)).or_default() += 1;
        }
    }
    let (pstats, gstats) = (pmap.stats(), gmap.stats());
    let pcat: HashMap<u32, u32> = current
        .segments
        .iter()
        .map(|s| (s.id, s.category_id))
        .collect();
    let gcat: HashMap<u32, u32> = gold
        .segments
        .iter()
        .map(|s| (s.id, s.category_id))
        .collect();
    let iou = |p: u32, g: u32| -> f64 {
        let i = inter.get(&(p, g)).copied().unwrap_or(0) as f64;
        let u = (pstats[&p].area + gstats[&g].area) as f64 - i;
        if u > 0.0 { i / u } else { 0.0 }
    };
    let mut best_for_gold: HashMap<u32, f64> = HashMap::new();
    let mut segments = Vec::new();
    for (&p, st) in &pstats {
        let cat = pcat.get(&p).copied().unwrap_or(0);
        let best = inter
            .keys()
            .filter(|(pp, g)| *pp == p && gcat.get(g) == Some(&cat))
            .map(|&(_, g)| (g, iou(p, g)))
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        if let Some((g, v)) = best {
            let e = best_for_gold.entry(g).or_default();
            *e = e.max(v);
        }
        segments.push(SegmentError {
            current: Some(p),
            gold: best.map(|b| b.0),
            category_id: cat,
            iou: best.map_or(0.0, |b| b.1),
            bbox: st.bbox,
        });
    }
    for (&g, st) in &gstats {
        let matched = best_for_gold.get(&g).copied().unwrap_or(0.0);
        if matched < 0.5 {
            segments.push(SegmentError {
                current: None,
                gold: Some(g),
                category_id: gcat.get(&g).copied().unwrap_or(0),
                iou: matched,
                bbox: st.bbox,
            });
        }
    }
    segments.sort_by(|a, b| {
        a.iou
            .total_cmp(&b.iou)
            .then(a.current.cmp(&b.current))
            .then(a.gold.cmp(&b.gold))
    });
    Ok(Disagreement {
        width: w,
        height: h,
        pixels,
        in_band,
        segments,
        error_pixels,
        band_error_pixels,
    })
}

/// Pixels within `band` (chessboard distance) of a border between two different ids
/// of `map` (void counts as an id; the image edge does not).
pub fn boundary_band(map: &LabelMap, band: u32) -> Vec<bool> {
    let (w, h) = (map.width as usize, map.height as usize);
    let mut border = image::GrayImage::new(map.width, map.height);
    for y in 0..h {
        for x in 0..w {
            let id = map.ids[y * w + x];
            let differs = (x + 1 < w && map.ids[y * w + x + 1] != id)
                || (y + 1 < h && map.ids[(y + 1) * w + x] != id)
                || (x > 0 && map.ids[y * w + x - 1] != id)
                || (y > 0 && map.ids[(y - 1) * w + x] != id);
            if differs {
                border.put_pixel(x as u32, y as u32, image::Luma([255]));
            }
        }
    }
    if band == 0 {
        return border.pixels().map(|p| p.0[0] > 0).collect();
    }
    // Distances saturate at 255, far beyond any useful band.
    let dist = imageproc::distance_transform::distance_transform(
        &border,
        imageproc::distance_transform::Norm::LInf,
    );
    let band = band.min(254) as u8;
    dist.pixels().map(|p| p.0[0] <= band).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::document::{Geometry, Segment, Source};
    use crate::core::geometry::PolygonWithHoles;

    fn rect_seg(id: u32, cat: u32, x0: f64, y0: f64, x1: f64, y1: f64) -> Segment {
        Segment::new(
            id,
            cat,
            Geometry::Polygons {
                polygons: vec![PolygonWithHoles {
                    outer: vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]],
                    holes: vec![],
                }],
            },
            Source::Polygon,
        )
    }

    #[test]
    fn a_shifted_square_gives_a_column_of_each_error_kind() {
        // Gold: a 4x4 square at x 2..6; current: the same square shifted right by one
        // pixel (x 3..7). Column 2 is a false negative (4 px), column 6 a false
        // positive (4 px); IoU = 12 / 20 = 0.6.
        let mut gold = ImageDocument::new("a.png", 10, 6);
        gold.segments = vec![rect_seg(1, 7, 2.0, 1.0, 6.0, 5.0)];
        let mut cur = gold.clone();
        cur.segments = vec![rect_seg(4, 7, 3.0, 1.0, 7.0, 5.0)];
        let d = compare(&gold, &cur, 1).unwrap();
        let count = |k| d.pixels.iter().filter(|p| **p == k).count();
        assert_eq!(count(PixelDiff::FalseNegative), 4);
        assert_eq!(count(PixelDiff::FalsePositive), 4);
        assert_eq!(count(PixelDiff::WrongClass), 0);
        assert_eq!(d.pixels[10 + 2], PixelDiff::FalseNegative);
        assert_eq!(d.pixels[10 + 6], PixelDiff::FalsePositive);
        assert_eq!(d.segments.len(), 1);
        assert_eq!(d.segments[0].current, Some(4));
        assert_eq!(d.segments[0].gold, Some(1));
        assert!((d.segments[0].iou - 0.6).abs() < 1e-12);
        // Every error pixel touches the gold border (columns 2 and 6 are within 1).
        assert_eq!(d.band_error_pixels, 8);
        assert_eq!(d.error_pixels, 8);
    }

    #[test]
    fn wrong_class_and_missing_segments_rank_first() {
        let mut gold = ImageDocument::new("a.png", 10, 6);
        gold.segments = vec![
            rect_seg(1, 7, 0.0, 0.0, 4.0, 4.0),
            rect_seg(2, 8, 6.0, 0.0, 10.0, 4.0),
        ];
        let mut cur = ImageDocument::new("a.png", 10, 6);
        // Same place as gold 1 but class 8: wrong class, no same-class match.
        cur.segments = vec![rect_seg(3, 8, 0.0, 0.0, 4.0, 4.0)];
        let d = compare(&gold, &cur, 0).unwrap();
        assert_eq!(d.pixels[0], PixelDiff::WrongClass);
        assert_eq!(d.pixels[9], PixelDiff::FalseNegative);
        let worst: Vec<_> = d.segments.iter().map(|s| (s.current, s.gold)).collect();
        // All IoU 0; at equal IoU unmatched gold segments come before current ones.
        assert_eq!(
            worst,
            vec![(None, Some(1)), (None, Some(2)), (Some(3), None)]
        );
        assert!(d.segments.iter().all(|s| s.iou == 0.0));
    }

    #[test]
    fn size_mismatch_is_an_error_not_a_panic() {
        let gold = ImageDocument::new("a.png", 10, 6);
        let cur = ImageDocument::new("a.png", 10, 7);
        assert!(compare(&gold, &cur, 1).unwrap_err().contains("10x6"));
    }
}
