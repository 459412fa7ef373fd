//! Geometry and rasterization: polygons with holes, binary masks, COCO RLE.
//!
//! # Pixel convention
//! Coordinates are in image pixels, x to the right, y down. Pixel (c, r) covers the
//! square [c, c+1) x [r, r+1); its centre is (c + 0.5, r + 0.5). A polygon vertex at
//! (10, 20) therefore sits on the top-left corner of pixel (10, 20).
//!
//! # Polygon fill rule
//! A pixel belongs to a polygon when its centre lies inside the polygon by the
//! **even-odd rule** applied to the outer ring and all of its holes together (a point
//! inside a hole is outside). A centre exactly on an edge counts as inside for edges to
//! its right (the usual half-open scanline rule), so two polygons that share an edge
//! never both claim a pixel and leave no gap. Several polygons of one segment are
//! unioned. This differs from pycocotools' `frPyObjects` (which samples an upscaled
//! boundary); COCO polygons are always rasterized with `hotcoco::mask::fr_poly` instead.

use serde::{Deserialize, Serialize};

/// A point in image pixel coordinates.
pub type Point = [f64; 2];

/// One polygon: an outer ring and the holes cut out of it. Rings are implicitly closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolygonWithHoles {
    pub outer: Vec<Point>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holes: Vec<Vec<Point>>,
}

impl PolygonWithHoles {
    /// All rings, outer first.
    pub fn rings(&self) -> impl Iterator<Item = &Vec<Point>> {
        std::iter::once(&self.outer).chain(self.holes.iter())
    }

    /// Axis-aligned bounds `(min, max)` of the outer ring, `None` when empty.
    pub fn bounds(&self) -> Option<(Point, Point)> {
        let mut it = self.outer.iter();
        let first = *it.next()?;
        Some(it.fold((first, first), |(lo, hi), p| {
            (
                [lo[0].min(p[0]), lo[1].min(p[1])],
                [hi[0].max(p[0]), hi[1].max(p[1])],
            )
        }))
    }
}

/// A binary mask, row-major, one byte per pixel (0 or 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitMask {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

impl BitMask {
    /// An all-zero mask.
    pub fn new(width: u32, height: u32) -> Self {
        BitMask {
            width,
            height,
            data: vec![0; width as usize * height as usize],
        }
    }

    /// Value at (x, y); out of bounds reads as 0.
    pub fn get(&self, x: i64, y: i64) -> bool {
        x >= 0
            && y >= 0
            && (x as u64) < u64::from(self.width)
            && (y as u64) < u64::from(self.height)
            && self.data[y as usize * self.width as usize + x as usize] != 0
    }

    /// Sets (x, y) when in bounds.
    pub fn set(&mut self, x: i64, y: i64, v: bool) {
        if x >= 0
            && y >= 0
            && (x as u64) < u64::from(self.width)
            && (y as u64) < u64::from(self.height)
        {
            self.data[y as usize * self.width as usize + x as usize] = u8::from(v);
        }
    }

    /// Number of set pixels.
    pub fn area(&self) -> u64 {
        self.data.iter().filter(|&&v| v != 0).count() as u64
    }

    /// Encodes as COCO compressed RLE (column-major, pycocotools-compatible string).
    pub fn to_coco_rle(&self) -> String {
        let (w, h) = (self.width as usize, self.height as usize);
        let mut col_major = vec![0u8; w * h];
        for y in 0..h {
            let row = &self.data[y * w..(y + 1) * w];
            for (x, &v) in row.iter().enumerate() {
                col_major[x * h + y] = v;
            }
        }
        match hotcoco::mask::encode(&col_major, self.height, self.width) {
            Ok(rle) => hotcoco::mask::rle_to_string(&rle),
            // Only reachable above u32::MAX pixels, which image limits rule out.
            Err(_) => String::new(),
        }
    }

    /// Decodes a COCO compressed RLE string of an image of `width` x `height`.
    pub fn from_coco_rle(counts: &str, width: u32, height: u32) -> Result<BitMask, String> {
        let rle =
            hotcoco::mask::rle_from_string(counts, height, width).map_err(|e| e.to_string())?;
        check_rle_size(&rle.counts, width, height)?;
        Ok(Self::from_hotcoco(&rle))
    }

    /// Converts a decoded hotcoco RLE (column-major) to a row-major mask.
    pub fn from_hotcoco(rle: &hotcoco::types::Rle) -> BitMask {
        let col_major = hotcoco::mask::decode(rle);
        let (w, h) = (rle.w as usize, rle.h as usize);
        let mut m = BitMask::new(rle.w, rle.h);
        for x in 0..w {
            for y in 0..h {
                m.data[y * w + x] = u8::from(col_major[x * h + y] != 0);
            }
        }
        m
    }
}

/// Checks that RLE runs cover exactly `width` x `height` pixels (a stored mask of
/// another size is an error, not a silently padded or cut mask).
pub fn check_rle_size(counts: &[u32], width: u32, height: u32) -> Result<(), String> {
    let total: u64 = counts.iter().map(|&c| u64::from(c)).sum();
    let expected = u64::from(width) * u64::from(height);
    if total == expected {
        Ok(())
    } else {
        Err(format!(
            "RLE covers {total} pixels, but the image {width}x{height} has {expected}"
        ))
    }
}

/// Calls `fill(row, x0, x1)` for every run of pixels `x0..x1` in `row` whose centres lie
/// inside `polygons` under the documented fill rule, clipped to `width` x `height`.
pub fn scan_polygons(
    polygons: &[PolygonWithHoles],
    width: u32,
    height: u32,
    mut fill: impl FnMut(u32, u32, u32),
) {
    let mut xs: Vec<f64> = Vec::new();
    for poly in polygons {
        // A polygon with a non-finite vertex has no defined inside: it fills nothing
        // (validation reports it).
        if !poly
            .rings()
            .all(|r| r.iter().all(|v| v[0].is_finite() && v[1].is_finite()))
        {
            continue;
        }
        let Some((lo, hi)) = poly.bounds() else {
            continue;
        };
        // Rows whose centre y + 0.5 lies in [lo.y, hi.y].
        let r0 = (lo[1] - 0.5).ceil().max(0.0) as i64;
        let r1 = ((hi[1] - 0.5).floor() as i64).min(i64::from(height) - 1);
        for r in r0..=r1 {
            let yc = r as f64 + 0.5;
            xs.clear();
            for ring in poly.rings() {
                let n = ring.len();
                if n < 3 {
                    continue;
                }
                for i in 0..n {
                    let (a, b) = (ring[i], ring[(i + 1) % n]);
                    // Half-open in y: an edge counts when yc is in [min y, max y).
                    if (a[1] <= yc) != (b[1] <= yc) {
                        xs.push(a[0] + (yc - a[1]) * (b[0] - a[0]) / (b[1] - a[1]));
                    }
                }
            }
            xs.sort_by(f64::total_cmp);
            for pair in xs.chunks_exact(2) {
                // Pixel c is inside when its centre c + 0.5 is in [x_in, x_out).
                let c0 = (pair[0] - 0.5).ceil().max(0.0);
                let c1 = (pair[1] - 0.5).ceil().min(f64::from(width));
                if c1 > c0 {
                    fill(r as u32, c0 as u32, c1 as u32);
                }
            }
        }
    }
}

/// Rasterizes polygons into a new mask of `width` x `height`.
pub fn rasterize_polygons(polygons: &[PolygonWithHoles], width: u32, height: u32) -> BitMask {
    let mut m = BitMask::new(width, height);
    let w = width as usize;
    scan_polygons(polygons, width, height, |r, x0, x1| {
        let row = r as usize * w;
        m.data[row + x0 as usize..row + x1 as usize].fill(1);
    });
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Vec<Point> {
        vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
    }

    #[test]
    fn integer_rectangle_covers_exactly_its_pixels() {
        let p = PolygonWithHoles {
            outer: rect(2.0, 3.0, 7.0, 5.0),
            holes: vec![],
        };
        let m = rasterize_polygons(&[p], 10, 10);
        assert_eq!(m.area(), 5 * 2);
        assert!(m.get(2, 3) && m.get(6, 4) && !m.get(7, 4) && !m.get(2, 5) && !m.get(1, 3));
    }

    #[test]
    fn holes_are_cut_out() {
        let p = PolygonWithHoles {
            outer: rect(0.0, 0.0, 10.0, 10.0),
            holes: vec![rect(3.0, 3.0, 6.0, 6.0)],
        };
        let m = rasterize_polygons(&[p], 10, 10);
        assert_eq!(m.area(), 100 - 9);
        assert!(!m.get(4, 4) && m.get(2, 4));
    }

    #[test]
    fn shared_edge_neither_overlaps_nor_gaps() {
        let a = PolygonWithHoles {
            outer: vec![[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]],
            holes: vec![],
        };
        let b = PolygonWithHoles {
            outer: vec![[10.0, 0.0], [10.0, 10.0], [0.0, 10.0]],
            holes: vec![],
        };
        let ma = rasterize_polygons(&[a], 10, 10);
        let mb = rasterize_polygons(&[b], 10, 10);
        for i in 0..100 {
            assert_eq!(ma.data[i] + mb.data[i], 1, "pixel {i}");
        }
    }

    #[test]
    fn clipped_and_degenerate_input_is_safe() {
        let p = PolygonWithHoles {
            outer: rect(-5.0, -5.0, 50.0, 3.0),
            holes: vec![],
        };
        assert_eq!(rasterize_polygons(&[p], 10, 10).area(), 30);
        let nan = PolygonWithHoles {
            outer: vec![[f64::NAN, 0.0], [1.0, 1.0], [2.0, 0.0]],
            holes: vec![],
        };
        assert_eq!(rasterize_polygons(&[nan], 10, 10).area(), 0);
        let two = PolygonWithHoles {
            outer: vec![[0.0, 0.0], [5.0, 5.0]],
            holes: vec![],
        };
        assert_eq!(rasterize_polygons(&[two], 10, 10).area(), 0);
    }

    #[test]
    fn rle_roundtrip_matches_pycocotools_layout() {
        let mut m = BitMask::new(3, 2);
        m.set(1, 0, true);
        m.set(2, 1, true);
        // Column-major: col0 = [0,0], col1 = [1,0], col2 = [0,1] -> runs 2,1,2,1.
        let s = m.to_coco_rle();
        let back = BitMask::from_coco_rle(&s, 3, 2).unwrap();
        assert_eq!(back, m);
        let rle = hotcoco::mask::rle_from_string(&s, 2, 3).unwrap();
        assert_eq!(rle.counts, vec![2, 1, 2, 1]);
        assert!(BitMask::from_coco_rle(&s, 4, 4).is_err());
    }
}
