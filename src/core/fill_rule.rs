//! How the readers people train with turn one polygon into pixels.
//!
//! A polygon file does not carry its fill rule: the reader decides. The same ring gives
//! different pixels in Limner, in Ultralytics' loader, in LabelMe and in pycocotools, so
//! a dataset is only "unchanged" with respect to a named reader. Each rule here is
//! checked pixel for pixel against the real library (`tests/interop_fill_rules.rs`).
//!
//! | rule | reader | what it does |
//! |---|---|---|
//! | `limner` | Limner | pixel centres, even-odd, half-open edges ([`crate::core::geometry`]) |
//! | `opencv` | Ultralytics `polygon2mask` | coordinates truncated to int32, `cv2.fillPoly` (LINE_8): every edge drawn, spans between edge crossings inclusive |
//! | `pil` | LabelMe `shape_to_mask` | coordinates truncated to int, `ImageDraw.polygon(fill=1, outline=1)` (Pillow 11.3 to 13.0; 11.0 differs at some corners) |
//! | `pycocotools` | pycocotools `frPyObjects` | 5x upsampled boundary walk (`hotcoco::mask::fr_polys`) |
//!
//! Coordinates are the file's, in pixel units (a YOLO value times the image size, a
//! LabelMe or COCO value as written). Pixels outside the image are clipped as each
//! reader clips them.

use std::fmt;
use std::str::FromStr;

use super::geometry::{BitMask, Point, PolygonWithHoles, rasterize_polygons};

/// A reader's polygon fill rule (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FillRule {
    /// Limner's own rule: pixel centres, even-odd.
    Limner,
    /// OpenCV `fillPoly` on int32-truncated coordinates, as Ultralytics reads YOLO-seg.
    Opencv,
    /// PIL `ImageDraw.polygon` with outline, as LabelMe reads its polygons.
    Pil,
    /// pycocotools `frPyObjects`, as every COCO tool reads COCO polygons.
    Pycocotools,
}

impl FillRule {
    /// Every rule, in the order the help lists them.
    pub const ALL: [FillRule; 4] = [
        FillRule::Limner,
        FillRule::Opencv,
        FillRule::Pil,
        FillRule::Pycocotools,
    ];

    /// The name used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            FillRule::Limner => "limner",
            FillRule::Opencv => "opencv",
            FillRule::Pil => "pil",
            FillRule::Pycocotools => "pycocotools",
        }
    }

    /// The reader this rule stands for, for messages.
    pub fn reader(self) -> &'static str {
        match self {
            FillRule::Limner => "Limner",
            FillRule::Opencv => "OpenCV fillPoly (Ultralytics polygon2mask)",
            FillRule::Pil => "PIL ImageDraw.polygon (LabelMe shape_to_mask)",
            FillRule::Pycocotools => "pycocotools frPyObjects",
        }
    }

    /// The pixels this reader fills for one closed ring in a `width` x `height` image.
    pub fn fill_ring(self, ring: &[Point], width: u32, height: u32) -> BitMask {
        match self {
            FillRule::Limner => rasterize_polygons(
                &[PolygonWithHoles {
                    outer: ring.to_vec(),
                    holes: vec![],
                }],
                width,
                height,
            ),
            FillRule::Opencv => {
                let pts: Vec<[i64; 2]> = ring.iter().map(|p| [trunc(p[0]), trunc(p[1])]).collect();
                opencv_fill_poly(&[pts], width, height)
            }
            FillRule::Pil => {
                let pts: Vec<[i64; 2]> = ring.iter().map(|p| [trunc(p[0]), trunc(p[1])]).collect();
                pil_polygon(&pts, width, height)
            }
            FillRule::Pycocotools => {
                let flat: Vec<f64> = ring.iter().flat_map(|p| [p[0], p[1]]).collect();
                match hotcoco::mask::fr_polys(&[flat], height, width) {
                    Ok(rle) => BitMask::from_hotcoco(&rle),
                    Err(_) => BitMask::new(width, height),
                }
            }
        }
    }
}

impl fmt::Display for FillRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FillRule {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        FillRule::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = FillRule::ALL.iter().map(|r| r.name()).collect();
                format!("unknown fill rule {s:?} (one of {})", names.join(", "))
            })
    }
}

/// C's `(int)v` for a finite value (toward zero), saturating far outside the image.
fn trunc(v: f64) -> i64 {
    if v.is_finite() {
        v.trunc().clamp(-(1i64 << 40) as f64, (1i64 << 40) as f64) as i64
    } else {
        0
    }
}

fn set_clipped(m: &mut BitMask, x: i64, y: i64) {
    if x >= 0 && y >= 0 && x < i64::from(m.width) && y < i64::from(m.height) {
        m.data[(y * i64::from(m.width) + x) as usize] = 1;
    }
}

fn hline(m: &mut BitMask, x0: i64, x1: i64, y: i64) {
    let (w, h) = (i64::from(m.width), i64::from(m.height));
    if y < 0 || y >= h || x1 < 0 || x0 >= w {
        return;
    }
    let (a, b) = (x0.max(0), x1.min(w - 1));
    if a <= b {
        let row = (y * w) as usize;
        m.data[row + a as usize..=row + b as usize].fill(1);
    }
}

// ---------------------------------------------------------------------------------
// OpenCV: cv::fillPoly with lineType LINE_8 and shift 0 (imgproc/src/drawing.cpp).

const XY_SHIFT: u32 = 16;
const XY_ONE: i64 = 1 << XY_SHIFT;

/// OpenCV's `clipLine` to a `w` x `h` image: false when the segment misses it.
fn opencv_clip_line(w: i64, h: i64, p1: &mut [i64; 2], p2: &mut [i64; 2]) -> bool {
    let (right, bottom) = (w - 1, h - 1);
    if w <= 0 || h <= 0 {
        return false;
    }
    let code = |p: &[i64; 2]| {
        i32::from(p[0] < 0)
            + i32::from(p[0] > right) * 2
            + i32::from(p[1] < 0) * 4
            + i32::from(p[1] > bottom) * 8
    };
    let (mut c1, mut c2) = (code(p1), code(p2));
    if (c1 & c2) == 0 && (c1 | c2) != 0 {
        if c1 & 12 != 0 {
            let a = if c1 < 8 { 0 } else { bottom };
            p1[0] += (a - p1[1]) * (p2[0] - p1[0]) / (p2[1] - p1[1]);
            p1[1] = a;
            c1 = i32::from(p1[0] < 0) + i32::from(p1[0] > right) * 2;
        }
        if c2 & 12 != 0 {
            let a = if c2 < 8 { 0 } else { bottom };
            p2[0] += (a - p2[1]) * (p2[0] - p1[0]) / (p2[1] - p1[1]);
            p2[1] = a;
            c2 = i32::from(p2[0] < 0) + i32::from(p2[0] > right) * 2;
        }
        if (c1 & c2) == 0 && (c1 | c2) != 0 {
            if c1 != 0 {
                let a = if c1 == 1 { 0 } else { right };
                p1[1] += (a - p1[0]) * (p2[1] - p1[1]) / (p2[0] - p1[0]);
                p1[0] = a;
                c1 = 0;
            }
            if c2 != 0 {
                let a = if c2 == 1 { 0 } else { right };
                p2[1] += (a - p2[0]) * (p2[1] - p1[1]) / (p2[0] - p1[0]);
                p2[0] = a;
                c2 = 0;
            }
        }
    }
    (c1 | c2) == 0
}

/// OpenCV's 8-connected `LineIterator` walked left to right, every pixel set.
fn opencv_line8(m: &mut BitMask, mut p1: [i64; 2], mut p2: [i64; 2]) {
    let (w, h) = (i64::from(m.width), i64::from(m.height));
    let outside = |p: &[i64; 2]| p[0] < 0 || p[1] < 0 || p[0] >= w || p[1] >= h;
    if (outside(&p1) || outside(&p2)) && !opencv_clip_line(w, h, &mut p1, &mut p2) {
        return;
    }
    let mut dx = p2[0] - p1[0];
    let mut dy = p2[1] - p1[1];
    if dx < 0 {
        // left_to_right: start from the left end.
        dx = -dx;
        dy = -dy;
        p1 = p2;
    }
    let ystep = if dy < 0 { -1 } else { 1 };
    dy = dy.abs();
    let steep = dy > dx;
    let (major, minor) = if steep { (dy, dx) } else { (dx, dy) };
    let mut err = major - 2 * minor;
    let [mut x, mut y] = p1;
    for _ in 0..=major {
        set_clipped(m, x, y);
        let minor_step = err < 0;
        err += -2 * minor + if minor_step { 2 * major } else { 0 };
        if steep {
            y += ystep;
            x += i64::from(minor_step);
        } else {
            x += 1;
            y += if minor_step { ystep } else { 0 };
        }
    }
}

struct CvEdge {
    y0: i64,
    y1: i64,
    x: i64,
    dx: i64,
}

/// `cv2.fillPoly(mask, rings, 1)` (LINE_8, shift 0), as OpenCV 4.10 does it: every edge
/// is drawn with the 8-connected line, then each row is filled between pairs of edge
/// crossings (16.16 fixed point through the pixel centres, each end rounded to the
/// nearest pixel), both inclusive.
pub fn opencv_fill_poly(rings: &[Vec<[i64; 2]>], width: u32, height: u32) -> BitMask {
    let mut m = BitMask::new(width, height);
    let mut edges = Vec::new();
    for ring in rings {
        let Some(&last) = ring.last() else { continue };
        let mut p0 = last;
        for &p1 in ring {
            opencv_line8(&mut m, p0, p1);
            // An edge inside the image runs through the pixel centres (x + 0.5); one that
            // leaves it is rebuilt from its clipped ends and extended back to its rows.
            let (w, h) = (i64::from(width), i64::from(height));
            let outside = |p: [i64; 2]| p[0] < 0 || p[1] < 0 || p[0] >= w || p[1] >= h;
            let (mut c0, mut c1) = (
                [(p0[0] << XY_SHIFT) + XY_ONE / 2, p0[1]],
                [(p1[0] << XY_SHIFT) + XY_ONE / 2, p1[1]],
            );
            if outside(p0) || outside(p1) {
                let (mut t0, mut t1) = (p0, p1);
                opencv_clip_line(w, h, &mut t0, &mut t1);
                if t0[1] != t1[1] {
                    c0 = [t0[0] << XY_SHIFT, t0[1]];
                    c1 = [t1[0] << XY_SHIFT, t1[1]];
                } else {
                    c0 = [p0[0] << XY_SHIFT, p0[1]];
                    c1 = [p1[0] << XY_SHIFT, p1[1]];
                }
            }
            if p0[1] != p1[1] {
                let dx = (c1[0] - c0[0]) / (c1[1] - c0[1]);
                let x = if p0[1] < p1[1] {
                    c0[0] + (p0[1] - c0[1]) * dx
                } else {
                    c1[0] + (p1[1] - c1[1]) * dx
                };
                edges.push(CvEdge {
                    y0: p0[1].min(p1[1]),
                    y1: p0[1].max(p1[1]),
                    x,
                    dx,
                });
            }
            p0 = p1;
        }
    }
    if edges.len() < 2 {
        return m;
    }
    edges.sort_by_key(|e| e.y0);
    let y_end = edges
        .iter()
        .map(|e| e.y1)
        .max()
        .unwrap_or(0)
        .min(i64::from(height));
    let mut next = 0;
    let mut active: Vec<usize> = Vec::new();
    let mut xs: Vec<i64> = Vec::new();
    let mut y = edges[0].y0;
    // Rows above the image are skipped but edges still advance (x is computed from y).
    if y < 0 {
        y = 0;
    }
    while y < y_end {
        while next < edges.len() && edges[next].y0 <= y {
            active.push(next);
            next += 1;
        }
        active.retain(|&i| edges[i].y1 > y);
        xs.clear();
        xs.extend(
            active
                .iter()
                .map(|&i| edges[i].x + (y - edges[i].y0) * edges[i].dx),
        );
        xs.sort_unstable();
        for pair in xs.chunks_exact(2) {
            let (x1, x2) = (pair[0] >> XY_SHIFT, pair[1] >> XY_SHIFT);
            hline(&mut m, x1, x2, y);
        }
        y += 1;
    }
    m
}

// ---------------------------------------------------------------------------------
// PIL: ImageDraw.polygon(xy, fill=1, outline=1) on an 8-bit image (libImaging/Draw.c).
// With outline == fill only the fill is drawn; vertices are truncated to int first.

struct PilEdge {
    x0: i64,
    y0: i64,
    xmin: i64,
    xmax: i64,
    ymin: i64,
    ymax: i64,
    dx: f32,
}

fn pil_edge(x0: i64, y0: i64, x1: i64, y1: i64) -> PilEdge {
    PilEdge {
        x0,
        y0,
        xmin: x0.min(x1),
        xmax: x0.max(x1),
        ymin: y0.min(y1),
        ymax: y0.max(y1),
        dx: if y0 == y1 {
            0.0
        } else {
            (x1 - x0) as f32 / (y1 - y0) as f32
        },
    }
}

/// C's `ROUND_UP` / `ROUND_DOWN` of Draw.c (round half away from / toward zero).
fn pil_round_up(f: f32) -> i64 {
    if f >= 0.0 {
        (f + 0.5).floor() as i64
    } else {
        -((f.abs() + 0.5).floor() as i64)
    }
}

fn pil_round_down(f: f32) -> i64 {
    if f >= 0.0 {
        (f - 0.5).ceil() as i64
    } else {
        -((f.abs() - 0.5).ceil() as i64)
    }
}

fn pil_x_at(e: &PilEdge, y: i64) -> f32 {
    (y - e.y0) as f32 * e.dx + e.x0 as f32
}

/// `ImageDraw.Draw(img).polygon(points, fill=1, outline=1)` for integer vertices.
pub fn pil_polygon(xy: &[[i64; 2]], width: u32, height: u32) -> BitMask {
    let mut m = BitMask::new(width, height);
    let count = xy.len();
    if count == 0 {
        return m;
    }
    // ImagingDrawPolygon: edges, merging a horizontal edge into the one before it when
    // both run the same way; the closing edge only when the ring is not closed already.
    let mut e: Vec<PilEdge> = Vec::with_capacity(count);
    for i in 0..count - 1 {
        let ([x0, y0], [x1, y1]) = (xy[i], xy[i + 1]);
        if y0 == y1 && i != 0 && y0 == xy[i - 1][1] {
            let px = xy[i - 1][0];
            if let Some(last) = e.last_mut() {
                if x1 > x0 && x0 > px {
                    last.xmax = x1;
                    continue;
                } else if x1 < x0 && x0 < px {
                    last.xmin = x1;
                    continue;
                }
            }
        }
        e.push(pil_edge(x0, y0, x1, y1));
    }
    if xy[count - 1] != xy[0] {
        let ([x0, y0], [x1, y1]) = (xy[count - 1], xy[0]);
        e.push(pil_edge(x0, y0, x1, y1));
    }
    if e.is_empty() {
        return m;
    }
    // polygon_generic (no alpha): horizontal edges drawn at once, then scanlines.
    let (mut ymin, mut ymax) = (i64::from(height) - 1, 0i64);
    let mut table: Vec<&PilEdge> = Vec::new();
    for edge in &e {
        ymin = ymin.min(edge.ymin);
        ymax = ymax.max(edge.ymax);
        if edge.ymin == edge.ymax {
            hline(&mut m, edge.xmin, edge.xmax, edge.ymin);
            continue;
        }
        table.push(edge);
    }
    let ymin = ymin.max(0);
    let ymax = ymax.min(i64::from(height));
    let mut xx: Vec<f32> = Vec::with_capacity(table.len() * 2);
    for y in ymin..=ymax {
        xx.clear();
        for (i, cur) in table.iter().enumerate() {
            if y < cur.ymin || y > cur.ymax {
                continue;
            }
            xx.push(pil_x_at(cur, y));
            if y == cur.ymax && y < ymax {
                // "Needed to draw consistent polygons"
                let v = xx[xx.len() - 1];
                xx.push(v);
            } else if (y == cur.ymin || y == cur.ymax) && cur.dx != 0.0 {
                // "Connect discontiguous corners"
                for other in &table[..i] {
                    if (y != other.ymin && y != other.ymax) || other.dx == 0.0 {
                        continue;
                    }
                    let last = xx.len() - 1;
                    if xx[last].round() != pil_x_at(other, y).round() {
                        continue;
                    }
                    let offset = if y == cur.ymax { -1 } else { 1 };
                    let adjacent = pil_x_at(cur, y + offset);
                    if y + offset >= other.ymin && y + offset <= other.ymax {
                        let adjacent_other = pil_x_at(other, y + offset);
                        if xx[last] > adjacent + 1.0 && xx[last] > adjacent_other + 1.0 {
                            xx[last] = adjacent.max(adjacent_other).round() + 1.0;
                        } else if xx[last] < adjacent - 1.0 && xx[last] < adjacent_other - 1.0 {
                            xx[last] = adjacent.min(adjacent_other).round() - 1.0;
                        }
                        break;
                    }
                }
            }
        }
        xx.sort_by(f32::total_cmp);
        for pair in xx.chunks_exact(2) {
            hline(&mut m, pil_round_up(pair[0]), pil_round_down(pair[1]), y);
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(m: &BitMask) -> Vec<String> {
        m.data
            .chunks(m.width as usize)
            .map(|r| r.iter().map(|&v| if v != 0 { '#' } else { '.' }).collect())
            .collect()
    }

    #[test]
    fn opencv_fills_edges_inclusive() {
        // Vertices on pixel centres 1..3: OpenCV fills the 3x3 block, Limner's rule
        // the 2x2 block whose centres lie inside.
        let ring = [[1.0, 1.0], [3.0, 1.0], [3.0, 3.0], [1.0, 3.0]];
        let cv = FillRule::Opencv.fill_ring(&ring, 5, 5);
        assert_eq!(rows(&cv), [".....", ".###.", ".###.", ".###.", "....."]);
        let ours = FillRule::Limner.fill_ring(&ring, 5, 5);
        assert_eq!(ours.area(), 4);
    }

    #[test]
    fn opencv_truncates_coordinates() {
        let ring = [[1.9, 1.9], [3.99, 1.2], [3.5, 3.7]];
        let a = FillRule::Opencv.fill_ring(&ring, 6, 6);
        let b = opencv_fill_poly(&[vec![[1, 1], [3, 1], [3, 3]]], 6, 6);
        assert_eq!(a, b);
    }

    #[test]
    fn pil_fills_a_square_inclusive() {
        let m = pil_polygon(&[[1, 1], [3, 1], [3, 3], [1, 3]], 5, 5);
        assert_eq!(rows(&m), [".....", ".###.", ".###.", ".###.", "....."]);
    }

    #[test]
    fn names_round_trip() {
        for r in FillRule::ALL {
            assert_eq!(r.name().parse::<FillRule>().unwrap(), r);
        }
        assert!("cv2".parse::<FillRule>().is_err());
    }
}
