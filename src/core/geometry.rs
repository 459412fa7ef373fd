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

/// The errors [`BitMask::from_coco_rle`] gives for `counts`, without building the mask.
pub fn check_coco_rle(counts: &str, width: u32, height: u32) -> Result<(), String> {
    let rle = hotcoco::mask::rle_from_string(counts, height, width).map_err(|e| e.to_string())?;
    check_rle_size(&rle.counts, width, height)
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
    fill: impl FnMut(u32, u32, u32),
) {
    scan_polygons_rows(polygons, width, height, 0..height, fill);
}

/// [`scan_polygons`] for the rows in `rows` only: each row gets exactly the runs the
/// whole-image scan gives it.
pub fn scan_polygons_rows(
    polygons: &[PolygonWithHoles],
    width: u32,
    height: u32,
    rows: std::ops::Range<u32>,
    mut fill: impl FnMut(u32, u32, u32),
) {
    let rows = i64::from(rows.start)..i64::from(rows.end.min(height));
    if rows.is_empty() {
        return;
    }
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
        let r0 = ((lo[1] - 0.5).ceil().max(0.0) as i64).max(rows.start);
        let r1 = ((hi[1] - 0.5).floor() as i64)
            .min(i64::from(height) - 1)
            .min(rows.end - 1);
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

/// A rectangle of whole pixels: columns `x0..x1`, rows `y0..y1`. Empty when either
/// range is; every empty rectangle means the same (no pixel).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct PixelRect {
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
}

impl PixelRect {
    /// No pixel.
    pub const EMPTY: PixelRect = PixelRect {
        x0: 0,
        y0: 0,
        x1: 0,
        y1: 0,
    };

    pub fn new(x0: u32, y0: u32, x1: u32, y1: u32) -> Self {
        PixelRect { x0, y0, x1, y1 }
    }

    /// The whole image.
    pub fn full(width: u32, height: u32) -> Self {
        PixelRect::new(0, 0, width, height)
    }

    pub fn is_empty(self) -> bool {
        self.x0 >= self.x1 || self.y0 >= self.y1
    }

    pub fn width(self) -> u32 {
        if self.is_empty() {
            0
        } else {
            self.x1 - self.x0
        }
    }

    pub fn height(self) -> u32 {
        if self.is_empty() {
            0
        } else {
            self.y1 - self.y0
        }
    }

    /// Number of pixels.
    pub fn area(self) -> u64 {
        u64::from(self.width()) * u64::from(self.height())
    }

    /// The smallest rectangle holding both.
    pub fn union(self, o: PixelRect) -> PixelRect {
        if self.is_empty() {
            return o;
        }
        if o.is_empty() {
            return self;
        }
        PixelRect::new(
            self.x0.min(o.x0),
            self.y0.min(o.y0),
            self.x1.max(o.x1),
            self.y1.max(o.y1),
        )
    }

    /// The common pixels ([`PixelRect::EMPTY`] when none).
    pub fn intersect(self, o: PixelRect) -> PixelRect {
        let r = PixelRect::new(
            self.x0.max(o.x0),
            self.y0.max(o.y0),
            self.x1.min(o.x1),
            self.y1.min(o.y1),
        );
        if r.is_empty() { PixelRect::EMPTY } else { r }
    }

    pub fn intersects(self, o: PixelRect) -> bool {
        !self.intersect(o).is_empty()
    }

    /// True when every pixel of `o` is in `self` (always for an empty `o`).
    pub fn contains(self, o: PixelRect) -> bool {
        o.is_empty() || (self.x0 <= o.x0 && self.y0 <= o.y0 && o.x1 <= self.x1 && o.y1 <= self.y1)
    }

    /// Grown by `d` pixels on every side, clipped to a `width` x `height` image.
    pub fn expand(self, d: u32, width: u32, height: u32) -> PixelRect {
        if self.is_empty() {
            return PixelRect::EMPTY;
        }
        PixelRect::new(
            self.x0.saturating_sub(d),
            self.y0.saturating_sub(d),
            self.x1.saturating_add(d).min(width),
            self.y1.saturating_add(d).min(height),
        )
        .intersect(PixelRect::full(width, height))
    }

    /// Adds pixel (x, y).
    pub fn include(self, x: u32, y: u32) -> PixelRect {
        self.union(PixelRect::new(x, y, x + 1, y + 1))
    }
}

impl BitMask {
    /// Bounds of the set pixels ([`PixelRect::EMPTY`] when none).
    pub fn bounds(&self) -> PixelRect {
        let w = self.width as usize;
        let mut b = PixelRect::EMPTY;
        if w == 0 {
            return b;
        }
        for (y, row) in self.data.chunks_exact(w).enumerate() {
            // A branch-free OR over the row vectorizes; most rows of a stroke are empty.
            if row.iter().fold(0u8, |a, &v| a | v) == 0 {
                continue;
            }
            let (Some(x0), Some(x1)) = (
                row.iter().position(|&v| v != 0),
                row.iter().rposition(|&v| v != 0),
            ) else {
                continue;
            };
            b = b.union(PixelRect::new(
                x0 as u32,
                y as u32,
                x1 as u32 + 1,
                y as u32 + 1,
            ));
        }
        b
    }

    /// The pixels of `rect` (clipped to the mask), row-major, one byte each.
    pub fn crop(&self, rect: PixelRect) -> Vec<u8> {
        let rect = rect.intersect(PixelRect::full(self.width, self.height));
        let w = self.width as usize;
        let mut out = Vec::with_capacity(rect.area() as usize);
        for y in rect.y0 as usize..rect.y1 as usize {
            out.extend_from_slice(&self.data[y * w + rect.x0 as usize..y * w + rect.x1 as usize]);
        }
        out
    }
}

/// A rectangle holding every pixel [`scan_polygons`] fills for `polygons` (it may be a
/// little larger, never smaller).
pub fn polygons_pixel_bounds(polygons: &[PolygonWithHoles], width: u32, height: u32) -> PixelRect {
    let mut out = PixelRect::EMPTY;
    for poly in polygons {
        if !poly
            .rings()
            .all(|r| r.iter().all(|v| v[0].is_finite() && v[1].is_finite()))
        {
            continue;
        }
        let Some((lo, hi)) = poly.bounds() else {
            continue;
        };
        // Rows exactly as the scan picks them (from the outer ring).
        let r0 = (lo[1] - 0.5).ceil().max(0.0);
        let r1 = (hi[1] - 0.5).floor().min(f64::from(height) - 1.0);
        if r1 < r0 {
            continue;
        }
        // Columns from every ring that yields crossings, with a margin for rounding.
        let (mut mn, mut mx) = (f64::INFINITY, f64::NEG_INFINITY);
        for ring in poly.rings().filter(|r| r.len() >= 3) {
            for v in ring {
                mn = mn.min(v[0]);
                mx = mx.max(v[0]);
            }
        }
        if mn > mx {
            continue;
        }
        let c0 = (mn - 1.5).floor().clamp(0.0, f64::from(width));
        let c1 = (mx + 1.5).ceil().clamp(0.0, f64::from(width));
        out = out.union(PixelRect::new(
            c0 as u32,
            r0 as u32,
            c1 as u32,
            r1 as u32 + 1,
        ));
    }
    out
}

/// Calls `fill(row, x0, x1)` for the runs [`scan_polygons`] gives, cut to `rect`.
pub fn scan_polygons_in(
    polygons: &[PolygonWithHoles],
    width: u32,
    height: u32,
    rect: PixelRect,
    mut fill: impl FnMut(u32, u32, u32),
) {
    let rect = rect.intersect(PixelRect::full(width, height));
    if rect.is_empty() {
        return;
    }
    scan_polygons_rows(polygons, width, height, rect.y0..rect.y1, |r, a, b| {
        let (a, b) = (a.max(rect.x0), b.min(rect.x1));
        if a < b {
            fill(r, a, b);
        }
    });
}

/// Decodes a COCO compressed RLE string into its runs (background first); `None` when it
/// does not decode or does not cover exactly `width` x `height` pixels.
pub fn rle_runs(counts: &str, width: u32, height: u32) -> Option<Vec<u32>> {
    let rle = hotcoco::mask::rle_from_string(counts, height, width).ok()?;
    check_rle_size(&rle.counts, width, height).ok()?;
    Some(rle.counts)
}

/// Encodes runs (background first, column-major) as a COCO compressed RLE string.
pub fn runs_to_string(runs: Vec<u32>, width: u32, height: u32) -> String {
    hotcoco::mask::rle_to_string(&hotcoco::types::Rle {
        h: height,
        w: width,
        counts: runs,
    })
}

/// Number of foreground pixels of runs.
pub fn runs_area(runs: &[u32]) -> u64 {
    runs.iter().skip(1).step_by(2).map(|&n| u64::from(n)).sum()
}

/// Bounds of the foreground pixels of column-major runs.
pub fn runs_bounds(runs: &[u32], width: u32, height: u32) -> PixelRect {
    let h = height as u64;
    let mut b = PixelRect::EMPTY;
    if h == 0 {
        return b;
    }
    let mut pos = 0u64;
    for (k, &n) in runs.iter().enumerate() {
        let n = u64::from(n);
        if k % 2 == 1 && n > 0 {
            let (xa, xb) = (pos / h, (pos + n - 1) / h);
            let (ya, yb) = if xa == xb {
                (pos % h, (pos + n - 1) % h + 1)
            } else {
                (0, h)
            };
            b = b.union(PixelRect::new(
                xa as u32,
                ya as u32,
                (xb as u32 + 1).min(width),
                yb as u32,
            ));
        }
        pos += n;
    }
    b
}

/// Calls `f(x, y0, y1)` for every column piece of the foreground of column-major runs
/// that lies in `rect`.
pub fn runs_in(
    runs: &[u32],
    width: u32,
    height: u32,
    rect: PixelRect,
    mut f: impl FnMut(u32, u32, u32),
) {
    let rect = rect.intersect(PixelRect::full(width, height));
    if rect.is_empty() {
        return;
    }
    let h = u64::from(height);
    let (start, end) = (u64::from(rect.x0) * h, u64::from(rect.x1) * h);
    let mut pos = 0u64;
    for (k, &n) in runs.iter().enumerate() {
        let n = u64::from(n);
        let (s, e) = (pos, pos + n);
        pos = e;
        if s >= end {
            break;
        }
        if k % 2 == 0 || n == 0 || e <= start {
            continue;
        }
        let (xa, xb) = (
            (s / h).max(u64::from(rect.x0)),
            ((e - 1) / h).min(u64::from(rect.x1) - 1),
        );
        for x in xa..=xb {
            let ya = if x == s / h { s % h } else { 0 };
            let yb = if x == (e - 1) / h { (e - 1) % h + 1 } else { h };
            let (ya, yb) = (ya.max(u64::from(rect.y0)), yb.min(u64::from(rect.y1)));
            if ya < yb {
                f(x as u32, ya as u32, yb as u32);
            }
        }
    }
}

/// Appends runs, merging equal neighbours, so the result is the canonical run list
/// (`hotcoco::mask::encode`'s: only the first run may be empty).
struct RunWriter {
    counts: Vec<u32>,
    fg: bool,
    len: u64,
}

impl RunWriter {
    fn push(&mut self, fg: bool, n: u64) {
        if n == 0 {
            return;
        }
        if fg == self.fg {
            self.len += n;
        } else {
            self.counts.push(self.len as u32);
            self.fg = fg;
            self.len = n;
        }
    }

    fn finish(mut self) -> Vec<u32> {
        self.counts.push(self.len as u32);
        self.counts
    }
}

/// Reads runs pixel ranges at a time.
struct RunReader<'a> {
    runs: &'a [u32],
    i: usize,
    left: u64,
}

impl RunReader<'_> {
    /// Moves over `n` pixels, copying them to `out` when given (past the end of the runs
    /// reads as background).
    fn advance(&mut self, mut n: u64, mut out: Option<&mut RunWriter>) {
        while n > 0 {
            while self.left == 0 {
                self.i += 1;
                match self.runs.get(self.i) {
                    Some(&c) => self.left = u64::from(c),
                    None => {
                        if let Some(o) = out {
                            o.push(false, n);
                        }
                        return;
                    }
                }
            }
            let k = n.min(self.left);
            if let Some(o) = out.as_deref_mut() {
                o.push(self.i % 2 == 1, k);
            }
            self.left -= k;
            n -= k;
        }
    }
}

/// Column-major runs of a `width` x `height` mask equal to `runs` outside `rect` and to
/// `local` (row-major, `rect`-sized, non-zero = set) inside it. The result is canonical,
/// so its string equals [`BitMask::to_coco_rle`] of the same mask. Work is proportional
/// to the runs and to the rectangle, not to the image.
pub fn replace_runs_in(
    runs: &[u32],
    width: u32,
    height: u32,
    rect: PixelRect,
    local: &[u8],
) -> Vec<u32> {
    assert!(
        PixelRect::full(width, height).contains(rect),
        "rect outside the image"
    );
    assert_eq!(local.len() as u64, rect.area(), "local mask size");
    let h = u64::from(height);
    let mut out = RunWriter {
        counts: Vec::with_capacity(runs.len() + 2 * rect.width() as usize),
        fg: false,
        len: 0,
    };
    let mut r = RunReader {
        runs,
        i: 0,
        left: runs.first().map_or(0, |&c| u64::from(c)),
    };
    if rect.is_empty() {
        r.advance(u64::from(width) * h, Some(&mut out));
        return out.finish();
    }
    let rw = rect.width() as usize;
    r.advance(u64::from(rect.x0) * h, Some(&mut out));
    for x in rect.x0..rect.x1 {
        r.advance(u64::from(rect.y0), Some(&mut out));
        r.advance(u64::from(rect.height()), None);
        let col = (x - rect.x0) as usize;
        let mut y = 0usize;
        let rh = rect.height() as usize;
        while y < rh {
            let v = local[y * rw + col] != 0;
            let start = y;
            while y < rh && (local[y * rw + col] != 0) == v {
                y += 1;
            }
            out.push(v, (y - start) as u64);
        }
        r.advance(h - u64::from(rect.y1), Some(&mut out));
    }
    r.advance(u64::from(width - rect.x1) * h, Some(&mut out));
    out.finish()
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

    /// xorshift64*: deterministic, no dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: u32) -> u32 {
            (self.next() % u64::from(n.max(1))) as u32
        }
    }

    fn random_mask(rng: &mut Rng, w: u32, h: u32) -> BitMask {
        let mut m = BitMask::new(w, h);
        for _ in 0..rng.below(4) {
            let (x, y) = (rng.below(w), rng.below(h));
            let (x1, y1) = (x + rng.below(w - x + 1), y + rng.below(h - y + 1));
            for yy in y..y1 {
                for xx in x..x1 {
                    m.set(i64::from(xx), i64::from(yy), rng.below(5) != 0);
                }
            }
        }
        m
    }

    fn random_rect(rng: &mut Rng, w: u32, h: u32) -> PixelRect {
        let (x0, y0) = (rng.below(w + 1), rng.below(h + 1));
        PixelRect::new(
            x0,
            y0,
            x0 + rng.below(w - x0 + 1),
            y0 + rng.below(h - y0 + 1),
        )
    }

    #[test]
    fn replacing_runs_in_a_rect_equals_encoding_the_whole_mask() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for case in 0..400 {
            let (w, h) = (1 + rng.below(13), 1 + rng.below(11));
            let a = random_mask(&mut rng, w, h);
            let b = random_mask(&mut rng, w, h);
            let rect = random_rect(&mut rng, w, h);
            let runs = rle_runs(&a.to_coco_rle(), w, h).unwrap();
            let got = replace_runs_in(&runs, w, h, rect, &b.crop(rect));
            let mut want = a.clone();
            for y in rect.y0..rect.y1 {
                for x in rect.x0..rect.x1 {
                    let i = (y * w + x) as usize;
                    want.data[i] = b.data[i];
                }
            }
            assert_eq!(
                runs_to_string(got.clone(), w, h),
                want.to_coco_rle(),
                "case {case}: {w}x{h} {rect:?}"
            );
            assert_eq!(runs_area(&got), want.area());
            assert_eq!(runs_bounds(&got, w, h), want.bounds(), "case {case}");
            // Column pieces in a rect are exactly the set pixels there.
            let probe = random_rect(&mut rng, w, h);
            let mut seen = BitMask::new(w, h);
            runs_in(&got, w, h, probe, |x, y0, y1| {
                for y in y0..y1 {
                    assert!(!seen.get(i64::from(x), i64::from(y)), "pixel twice");
                    seen.set(i64::from(x), i64::from(y), true);
                }
            });
            for y in 0..h {
                for x in 0..w {
                    let inside = x >= probe.x0 && x < probe.x1 && y >= probe.y0 && y < probe.y1;
                    let (x, y) = (i64::from(x), i64::from(y));
                    assert_eq!(seen.get(x, y), inside && want.get(x, y), "case {case}");
                }
            }
        }
    }

    #[test]
    fn polygon_bounds_hold_every_pixel_and_rect_scans_match() {
        let mut rng = Rng(42);
        for case in 0..300 {
            let (w, h) = (1 + rng.below(30), 1 + rng.below(30));
            let ring = |rng: &mut Rng| -> Vec<Point> {
                (0..3 + rng.below(6))
                    .map(|_| {
                        [
                            f64::from(rng.below(w + 10)) - 5.0 + f64::from(rng.below(100)) / 64.0,
                            f64::from(rng.below(h + 10)) - 5.0 + f64::from(rng.below(100)) / 64.0,
                        ]
                    })
                    .collect()
            };
            let polys: Vec<PolygonWithHoles> = (0..1 + rng.below(2))
                .map(|_| PolygonWithHoles {
                    outer: ring(&mut rng),
                    holes: (0..rng.below(2)).map(|_| ring(&mut rng)).collect(),
                })
                .collect();
            let full = rasterize_polygons(&polys, w, h);
            let b = polygons_pixel_bounds(&polys, w, h);
            assert!(
                b.contains(full.bounds()),
                "case {case}: {b:?} {:?}",
                full.bounds()
            );
            let rect = random_rect(&mut rng, w, h);
            let mut part = BitMask::new(w, h);
            scan_polygons_in(&polys, w, h, rect, |r, a, c| {
                for x in a..c {
                    part.set(i64::from(x), i64::from(r), true);
                }
            });
            for y in 0..h {
                for x in 0..w {
                    let inside = x >= rect.x0 && x < rect.x1 && y >= rect.y0 && y < rect.y1;
                    let (x, y) = (i64::from(x), i64::from(y));
                    assert_eq!(part.get(x, y), inside && full.get(x, y), "case {case}");
                }
            }
        }
    }

    #[test]
    fn pixel_rect_algebra() {
        let a = PixelRect::new(1, 1, 4, 3);
        let b = PixelRect::new(3, 0, 6, 2);
        assert_eq!(a.intersect(b), PixelRect::new(3, 1, 4, 2));
        assert_eq!(a.union(b), PixelRect::new(1, 0, 6, 3));
        assert!(a.intersect(PixelRect::new(4, 0, 5, 5)).is_empty());
        assert_eq!(a.union(PixelRect::EMPTY), a);
        assert_eq!(a.expand(2, 5, 4), PixelRect::new(0, 0, 5, 4));
        assert_eq!(a.area(), 6);
        assert!(a.contains(PixelRect::new(2, 1, 3, 2)) && !a.contains(b));
    }
}
