//! Raster -> polygons: turns a [`BitMask`] into polygons with holes.
//!
//! # Exact mode
//! Rings run along pixel edges (integer vertices), so under Limner's fill rule (pixel
//! centres, even-odd, see [`crate::core::geometry`]) the polygons rasterize back to
//! exactly the input pixels: no pixel centre ever lies on a ring, and every boundary
//! edge between a set and an unset pixel belongs to exactly one ring.
//!
//! Connectivity: set pixels are grouped 4-connected (two pixels that only touch at a
//! corner are separate polygons); unset pixels 8-connected. Where two set pixels touch
//! diagonally, the ring turns around its own pixel, so an outer ring never crosses
//! itself. A bay that is only open through such a corner becomes a hole that touches
//! its outer ring at that one vertex (valid under the OGC rules `geo` uses), never a
//! self-touching ring. Collinear vertices are removed.
//!
//! # Simplified mode
//! Every ring of the exact result goes through Douglas–Peucker (`geo::Simplify`) with
//! the given tolerance in pixels; rings left with fewer than 3 distinct points are
//! dropped. [`vectorize`] reports the IoU between the simplified polygons (rasterized
//! with Limner's rule) and the input mask, so the cost of simplifying is never hidden.

use std::collections::HashMap;

use geo::Simplify;

use super::geometry::{BitMask, Point, PolygonWithHoles, rasterize_polygons};

/// How [`mask_to_polygons`] traces a mask.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Vectorize {
    /// Pixel-edge rings that rasterize back to exactly the same pixels.
    Exact,
    /// Exact rings simplified with Douglas–Peucker; `tolerance` in pixels (> 0).
    Simplified {
        /// Largest distance (pixels) a removed vertex may lie from the simplified ring.
        tolerance: f64,
    },
}

/// Result of [`vectorize`]: the polygons and what they cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Vectorized {
    /// One polygon per 4-connected component of set pixels, outer ring first.
    pub polygons: Vec<PolygonWithHoles>,
    /// IoU between the polygons rasterized with Limner's rule and the input mask
    /// (1.0 for exact mode; 1.0 when both are empty).
    pub iou: f64,
}

/// Traces `mask` into polygons with holes (see the module docs for both modes).
pub fn mask_to_polygons(mask: &BitMask, mode: Vectorize) -> Vec<PolygonWithHoles> {
    let exact = trace_exact(mask);
    match mode {
        Vectorize::Exact => exact,
        Vectorize::Simplified { tolerance } => simplify(&exact, tolerance),
    }
}

/// Like [`mask_to_polygons`], and also measures the IoU the mode cost.
pub fn vectorize(mask: &BitMask, mode: Vectorize) -> Vectorized {
    let polygons = mask_to_polygons(mask, mode);
    let iou = match mode {
        // Exact by construction (and tested): skip the rasterization.
        Vectorize::Exact => 1.0,
        Vectorize::Simplified { .. } => iou(
            mask,
            &rasterize_polygons(&polygons, mask.width, mask.height),
        ),
    };
    Vectorized { polygons, iou }
}

/// Intersection over union of two masks of the same size (1.0 when both are empty).
pub fn iou(a: &BitMask, b: &BitMask) -> f64 {
    let (mut inter, mut union) = (0u64, 0u64);
    for (&x, &y) in a.data.iter().zip(&b.data) {
        let (x, y) = (x != 0, y != 0);
        inter += u64::from(x && y);
        union += u64::from(x || y);
    }
    if union == 0 {
        1.0
    } else {
        inter as f64 / union as f64
    }
}

// Directions of a boundary edge; the set pixel is always on the edge's right-hand side
// (image coordinates, y down), so outer rings have positive shoelace area, holes negative.
const E: u8 = 0;
const S: u8 = 1;
const W: u8 = 2;
const N: u8 = 3;

fn step(d: u8) -> (i64, i64) {
    match d {
        E => (1, 0),
        S => (0, 1),
        W => (-1, 0),
        _ => (0, -1),
    }
}

/// The set pixel on the right of the edge leaving vertex (x, y) in direction `d`.
fn right_pixel(x: i64, y: i64, d: u8) -> (i64, i64) {
    match d {
        E => (x, y),
        S => (x - 1, y),
        W => (x - 1, y - 1),
        _ => (x, y - 1),
    }
}

/// 4-connected component label per pixel (0 = unset), row-major.
fn components(mask: &BitMask) -> Vec<u32> {
    let (w, h) = (mask.width as usize, mask.height as usize);
    let mut label = vec![0u32; w * h];
    let mut next = 0u32;
    let mut stack = Vec::new();
    for start in 0..w * h {
        if mask.data[start] == 0 || label[start] != 0 {
            continue;
        }
        next += 1;
        label[start] = next;
        stack.push(start);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            let mut visit = |j: usize| {
                if mask.data[j] != 0 && label[j] == 0 {
                    label[j] = next;
                    stack.push(j);
                }
            };
            if x > 0 {
                visit(i - 1);
            }
            if x + 1 < w {
                visit(i + 1);
            }
            if y > 0 {
                visit(i - w);
            }
            if y + 1 < h {
                visit(i + w);
            }
        }
    }
    label
}

/// One closed ring of integer vertices and the component it bounds.
struct Ring {
    pts: Vec<(i64, i64)>,
    component: u32,
}

fn signed_area2(pts: &[(i64, i64)]) -> i64 {
    let n = pts.len();
    (0..n)
        .map(|i| {
            let (a, b) = (pts[i], pts[(i + 1) % n]);
            a.0 * b.1 - b.0 * a.1
        })
        .sum()
}

/// Splits a closed vertex walk at repeated vertices into simple loops.
fn split_loops(walk: &[(i64, i64)]) -> Vec<Vec<(i64, i64)>> {
    let mut out = Vec::new();
    let mut stack: Vec<(i64, i64)> = Vec::with_capacity(walk.len());
    let mut at: HashMap<(i64, i64), usize> = HashMap::new();
    for &p in walk {
        if let Some(&i) = at.get(&p) {
            let lp: Vec<(i64, i64)> = stack.drain(i..).collect();
            for q in &lp {
                at.remove(q);
            }
            out.push(lp);
        }
        at.insert(p, stack.len());
        stack.push(p);
    }
    if !stack.is_empty() {
        out.push(stack);
    }
    out
}

/// Drops vertices that lie on the straight line through their neighbours.
fn drop_collinear(pts: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    let n = pts.len();
    let keep = |i: usize| {
        let (a, b, c) = (pts[(i + n - 1) % n], pts[i], pts[(i + 1) % n]);
        (b.0 - a.0) * (c.1 - b.1) != (b.1 - a.1) * (c.0 - b.0)
    };
    (0..n).filter(|&i| keep(i)).map(|i| pts[i]).collect()
}

/// Even-odd test of a point against one ring.
fn inside(ring: &[(i64, i64)], px: f64, py: f64) -> bool {
    let n = ring.len();
    let mut c = false;
    for i in 0..n {
        let (a, b) = (ring[i], ring[(i + 1) % n]);
        let (ax, ay, bx, by) = (a.0 as f64, a.1 as f64, b.0 as f64, b.1 as f64);
        if (ay <= py) != (by <= py) && px < ax + (py - ay) * (bx - ax) / (by - ay) {
            c = !c;
        }
    }
    c
}

fn trace_exact(mask: &BitMask) -> Vec<PolygonWithHoles> {
    let (w, h) = (i64::from(mask.width), i64::from(mask.height));
    let vw = (w + 1) as usize;
    let vid = |x: i64, y: i64| y as usize * vw + x as usize;
    // Outgoing boundary edges per vertex, one bit per direction.
    let mut out = vec![0u8; vw * (h + 1) as usize];
    for y in 0..h {
        for x in 0..w {
            if !mask.get(x, y) {
                continue;
            }
            if !mask.get(x, y - 1) {
                out[vid(x, y)] |= 1 << E;
            }
            if !mask.get(x + 1, y) {
                out[vid(x + 1, y)] |= 1 << S;
            }
            if !mask.get(x, y + 1) {
                out[vid(x + 1, y + 1)] |= 1 << W;
            }
            if !mask.get(x - 1, y) {
                out[vid(x, y + 1)] |= 1 << N;
            }
        }
    }
    let label = components(mask);
    let mut rings: Vec<Ring> = Vec::new();
    for sy in 0..=h {
        for sx in 0..=w {
            while out[vid(sx, sy)] != 0 {
                let bits = out[vid(sx, sy)];
                let d0 = bits.trailing_zeros() as u8;
                let (px, py) = right_pixel(sx, sy, d0);
                let component = label[(py * w + px) as usize];
                let mut walk = vec![(sx, sy)];
                let (mut x, mut y, mut d) = (sx, sy, d0);
                loop {
                    out[vid(x, y)] &= !(1 << d);
                    let (dx, dy) = step(d);
                    x += dx;
                    y += dy;
                    if (x, y) == (sx, sy) {
                        // Back at the start: close unless the turn rule picks another
                        // way out of this vertex (then the walk passes through it).
                        let nd = turn(out[vid(x, y)] | (1 << d0), d);
                        if nd == d0 {
                            break;
                        }
                        d = nd;
                    } else {
                        d = turn(out[vid(x, y)], d);
                    }
                    walk.push((x, y));
                }
                for lp in split_loops(&walk) {
                    let pts = drop_collinear(lp);
                    if pts.len() >= 3 {
                        rings.push(Ring { pts, component });
                    }
                }
            }
        }
    }
    assemble(rings)
}

/// The way out of a vertex entered in direction `d`, among the edges in `bits`. A
/// saddle has two ways out: turn right, around our own pixel, so diagonal neighbours
/// stay separate (4-connectivity).
fn turn(bits: u8, d: u8) -> u8 {
    let right = (d + 1) % 4;
    if bits & (1 << right) != 0 {
        right
    } else if bits & (1 << d) != 0 {
        d
    } else {
        (d + 3) % 4
    }
}

/// Groups rings into polygons: positive rings are outers, negative rings are holes of the
/// outer of their component that contains them.
fn assemble(rings: Vec<Ring>) -> Vec<PolygonWithHoles> {
    // (outer ring, its holes)
    type Outer = (Vec<(i64, i64)>, Vec<Vec<(i64, i64)>>);
    let mut outers: Vec<Outer> = Vec::new();
    let mut by_component: HashMap<u32, Vec<usize>> = HashMap::new();
    let mut holes = Vec::new();
    for r in rings {
        if signed_area2(&r.pts) > 0 {
            by_component
                .entry(r.component)
                .or_default()
                .push(outers.len());
            outers.push((r.pts, Vec::new()));
        } else {
            holes.push(r);
        }
    }
    for hole in holes {
        let Some(cands) = by_component.get(&hole.component) else {
            continue;
        };
        let target = if cands.len() == 1 {
            cands[0]
        } else {
            // A point inside the hole: the centre of the unset pixel on the left of its
            // first edge (pixel centres never lie on a ring).
            let (a, b) = (hole.pts[0], hole.pts[1]);
            let (dx, dy) = ((b.0 - a.0).signum() as f64, (b.1 - a.1).signum() as f64);
            // Left of direction (dx, dy) in y-down coordinates is (dy, -dx).
            let (px, py) = (
                a.0 as f64 + 0.5 * dx + 0.5 * dy,
                a.1 as f64 + 0.5 * dy - 0.5 * dx,
            );
            *cands
                .iter()
                .find(|&&i| inside(&outers[i].0, px, py))
                .unwrap_or(&cands[0])
        };
        outers[target].1.push(hole.pts);
    }
    let conv = |r: Vec<(i64, i64)>| -> Vec<Point> {
        r.into_iter().map(|(x, y)| [x as f64, y as f64]).collect()
    };
    outers
        .into_iter()
        .map(|(outer, holes)| PolygonWithHoles {
            outer: conv(outer),
            holes: holes.into_iter().map(conv).collect(),
        })
        .collect()
}

fn simplify(polys: &[PolygonWithHoles], tolerance: f64) -> Vec<PolygonWithHoles> {
    let ring = |r: &[Point]| -> Option<Vec<Point>> {
        let ls: geo::LineString<f64> = r
            .iter()
            .chain(r.first())
            .map(|p| geo::coord! { x: p[0], y: p[1] })
            .collect();
        let mut pts: Vec<Point> = ls
            .simplify(tolerance)
            .0
            .iter()
            .map(|c| [c.x, c.y])
            .collect();
        pts.pop(); // the closing copy of the first vertex
        pts.dedup();
        (pts.len() >= 3).then_some(pts)
    };
    polys
        .iter()
        .filter_map(|p| {
            Some(PolygonWithHoles {
                outer: ring(&p.outer)?,
                holes: p.holes.iter().filter_map(|h| ring(h)).collect(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small deterministic generator (no test may depend on the clock).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u32 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) as u32
        }
    }

    fn mask_from(rows: &[&str]) -> BitMask {
        let mut m = BitMask::new(rows[0].len() as u32, rows.len() as u32);
        for (y, r) in rows.iter().enumerate() {
            for (x, c) in r.chars().enumerate() {
                m.set(x as i64, y as i64, c == '#');
            }
        }
        m
    }

    fn assert_exact(m: &BitMask) -> Vec<PolygonWithHoles> {
        let p = mask_to_polygons(m, Vectorize::Exact);
        let back = rasterize_polygons(&p, m.width, m.height);
        assert_eq!(&back, m, "exact polygons must rasterize to the same pixels");
        p
    }

    #[test]
    fn square_with_hole_gives_one_outer_and_one_hole() {
        let m = mask_from(&["#####", "#...#", "#.#.#", "#...#", "#####"]);
        let p = assert_exact(&m);
        // The frame and the island in its hole.
        assert_eq!(p.len(), 2);
        let frame = p.iter().find(|q| !q.holes.is_empty()).unwrap();
        assert_eq!(frame.outer.len(), 4);
        assert_eq!(frame.holes.len(), 1);
        assert_eq!(frame.holes[0].len(), 4);
    }

    #[test]
    fn diagonal_pixels_are_separate_polygons() {
        let m = mask_from(&["#.", ".#"]);
        let p = assert_exact(&m);
        assert_eq!(p.len(), 2);
        assert!(p.iter().all(|q| q.outer.len() == 4 && q.holes.is_empty()));
    }

    #[test]
    fn bay_closed_at_a_corner_becomes_a_touching_hole() {
        // The unset centre is 8-connected to the outside through the corner at (3, 3),
        // while the set ring is 4-connected all the way round.
        let m = mask_from(&["###.", "#.#.", "###.", "...."]);
        let p = assert_exact(&m);
        assert_eq!(p.len(), 1);
        let m2 = mask_from(&["###..", "#..#.", "##.##", ".#..#", ".####"]);
        let p2 = assert_exact(&m2);
        let holes: usize = p2.iter().map(|q| q.holes.len()).sum();
        assert!(holes >= 1, "{p2:?}");
        assert!(p2.iter().all(is_valid), "{p2:?}");
    }

    fn is_valid(q: &PolygonWithHoles) -> bool {
        let gp = geo::Polygon::new(
            q.outer.iter().map(|v| (v[0], v[1])).collect(),
            q.holes
                .iter()
                .map(|h| h.iter().map(|v| (v[0], v[1])).collect())
                .collect(),
        );
        geo::Validation::is_valid(&gp)
    }

    #[test]
    fn random_masks_round_trip_exactly() {
        let mut rng = Lcg(7);
        for case in 0..300 {
            let (w, h) = (1 + rng.next() % 24, 1 + rng.next() % 24);
            let mut m = BitMask::new(w, h);
            let density = rng.next() % 100;
            for v in m.data.iter_mut() {
                *v = u8::from(rng.next() % 100 < density);
            }
            // Some cases: 1-px lines and full borders.
            if case % 5 == 0 {
                for x in 0..w {
                    m.set(i64::from(x), 0, true);
                    m.set(i64::from(x), i64::from(h) - 1, true);
                }
            }
            if case % 7 == 0 {
                for y in 0..h {
                    m.set(i64::from(w / 2), i64::from(y), true);
                }
            }
            let p = assert_exact(&m);
            let comps = components(&m);
            let n = comps.iter().copied().max().unwrap_or(0) as usize;
            assert_eq!(p.len(), n, "one polygon per 4-connected component");
            let invalid = p.iter().filter(|q| !is_valid(q)).count();
            assert_eq!(invalid, 0, "case {case}: {m:?}");
            // Axis-aligned rings without collinear vertices: an even count, at least 4.
            for q in &p {
                for r in q.rings() {
                    assert!(r.len() >= 4 && r.len() % 2 == 0, "{r:?}");
                }
            }
        }
    }

    #[test]
    fn empty_and_full_masks() {
        assert!(mask_to_polygons(&BitMask::new(5, 4), Vectorize::Exact).is_empty());
        let mut full = BitMask::new(5, 4);
        full.data.fill(1);
        let p = assert_exact(&full);
        assert_eq!(
            p[0].outer,
            vec![[0.0, 0.0], [5.0, 0.0], [5.0, 4.0], [0.0, 4.0]]
        );
    }

    #[test]
    fn simplified_mode_reports_its_iou_cost() {
        // A digital disc: staircase boundary, many vertices.
        let mut m = BitMask::new(64, 64);
        for y in 0..64 {
            for x in 0..64 {
                let (dx, dy) = (x as f64 + 0.5 - 32.0, y as f64 + 0.5 - 32.0);
                m.set(x, y, dx * dx + dy * dy < 26.0 * 26.0);
            }
        }
        let exact = vectorize(&m, Vectorize::Exact);
        let simp = vectorize(&m, Vectorize::Simplified { tolerance: 1.5 });
        let (ne, ns) = (exact.polygons[0].outer.len(), simp.polygons[0].outer.len());
        assert!(ns < ne / 2, "simplified {ns} vs exact {ne} vertices");
        let measured = iou(&m, &rasterize_polygons(&simp.polygons, 64, 64));
        assert_eq!(simp.iou, measured);
        assert!(simp.iou < 1.0 && simp.iou > 0.95, "{}", simp.iou);
        assert_eq!(exact.iou, 1.0);
    }
}
