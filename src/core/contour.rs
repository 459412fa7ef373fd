//! Mask -> one closed walk through pixel centres that OpenCV's `fillPoly` fills back to
//! the same pixels (YOLO-seg export: one polygon per instance, read by Ultralytics).
//!
//! OpenCV draws every edge of the polygon and fills between edge crossings inclusively,
//! so a ring through the centres of a region's border pixels (as `cv2.findContours`
//! traces them) fills exactly the region. This module:
//! 1. traces each 8-connected component's outer border and the border around each of
//!    its holes (Moore-neighbour tracing, Suzuki's stopping rule);
//! 2. joins each hole to the outer border by a path through the component's own pixels,
//!    walked there and back: the two coincident edges change no crossing parity and
//!    only draw pixels that are set anyway;
//! 3. joins further components by the shortest paths between them (a spanning tree over
//!    a breadth-first search of the background), walked there and back. The background
//!    pixels on these paths get filled: they are what a single polygon cannot express,
//!    and [`opencv_walk`]'s caller measures them by filling the walk with
//!    [`crate::core::fill_rule::opencv_fill_poly`] and comparing;
//! 4. drops vertices inside straight runs (same unit step twice).

use std::collections::VecDeque;

use super::geometry::BitMask;

/// The 8 neighbours, clockwise in image coordinates (y down), starting west.
const NB: [(i64, i64); 8] = [
    (-1, 0),
    (-1, -1),
    (0, -1),
    (1, -1),
    (1, 0),
    (1, 1),
    (0, 1),
    (-1, 1),
];

fn dir_of(d: (i64, i64)) -> usize {
    NB.iter().position(|&n| n == d).unwrap_or(0)
}

struct Grid<'a> {
    m: &'a BitMask,
    w: i64,
    h: i64,
}

impl Grid<'_> {
    fn set(&self, x: i64, y: i64) -> bool {
        x >= 0 && y >= 0 && x < self.w && y < self.h && self.m.data[(y * self.w + x) as usize] != 0
    }
    fn idx(&self, x: i64, y: i64) -> usize {
        (y * self.w + x) as usize
    }
}

/// Moore-neighbour tracing from `start` whose neighbour `back` is unset: the border
/// pixels between the set pixels and the background region holding `back`, in order,
/// each revisit kept (a 1-pixel-wide part is walked there and back).
fn trace(g: &Grid, start: (i64, i64), back: (i64, i64)) -> Vec<(i64, i64)> {
    let mut ring = vec![start];
    let (mut p, mut bdir) = (start, dir_of((back.0 - start.0, back.1 - start.1)));
    let limit = 8 * g.m.data.len() + 16;
    loop {
        let mut found = None;
        for k in 1..=8 {
            let d = (bdir + k) % 8;
            let q = (p.0 + NB[d].0, p.1 + NB[d].1);
            if g.set(q.0, q.1) {
                found = Some((d, q));
                break;
            }
        }
        let Some((d, q)) = found else {
            return ring; // an isolated pixel
        };
        // Suzuki's rule: back at the start and about to repeat the first move.
        if p == start && ring.len() > 1 && q == ring[1] {
            ring.pop();
            return ring;
        }
        let b = (p.0 + NB[(d + 7) % 8].0, p.1 + NB[(d + 7) % 8].1);
        bdir = dir_of((b.0 - q.0, b.1 - q.1));
        p = q;
        ring.push(q);
        if ring.len() > limit {
            return ring; // cannot happen; never loop forever on a bug
        }
    }
}

/// A traced ring and the 8-connected component it borders.
struct Ring {
    pts: Vec<(i64, i64)>,
    component: usize,
}

/// An undirected tree edge: ring `a` at pixel `pa` to ring `b` at pixel `pb` by
/// `path` (from `pa` exclusive to `pb` inclusive).
struct Link {
    a: usize,
    pa: (i64, i64),
    b: usize,
    pb: (i64, i64),
    path: Vec<(i64, i64)>,
}

fn union_find_root(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// A mask as one closed walk of pixel centres.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Walk {
    /// Vertices in integer pixel coordinates (pixel (x, y)'s centre), implicitly closed.
    pub points: Vec<[i64; 2]>,
    /// Holes joined to their outer border.
    pub holes: usize,
    /// 8-connected parts beyond the first, joined by paths over the background.
    pub parts: usize,
}

/// One closed walk of pixel centres for `mask` (no points for an empty mask). See the
/// module docs.
pub fn opencv_walk(mask: &BitMask) -> Walk {
    let g = Grid {
        m: mask,
        w: i64::from(mask.width),
        h: i64::from(mask.height),
    };
    let n = mask.data.len();
    // 8-connected components of set pixels.
    let mut comp = vec![usize::MAX; n];
    let mut starts: Vec<(i64, i64)> = Vec::new();
    let mut stack = Vec::new();
    for y in 0..g.h {
        for x in 0..g.w {
            let i = g.idx(x, y);
            if mask.data[i] == 0 || comp[i] != usize::MAX {
                continue;
            }
            let c = starts.len();
            starts.push((x, y));
            comp[i] = c;
            stack.push((x, y));
            while let Some((px, py)) = stack.pop() {
                for (dx, dy) in NB {
                    let (qx, qy) = (px + dx, py + dy);
                    if g.set(qx, qy) && comp[g.idx(qx, qy)] == usize::MAX {
                        comp[g.idx(qx, qy)] = c;
                        stack.push((qx, qy));
                    }
                }
            }
        }
    }
    if starts.is_empty() {
        return Walk {
            points: Vec::new(),
            holes: 0,
            parts: 0,
        };
    }
    // Rings: each component's outer border, then every hole's border. A hole is a
    // 4-connected region of unset pixels not reaching the image edge; its first pixel in
    // scan order has a set pixel above it, on the border that encloses it.
    let mut rings: Vec<Ring> = starts
        .iter()
        .enumerate()
        .map(|(c, &(x, y))| Ring {
            pts: trace(&g, (x, y), (x - 1, y)),
            component: c,
        })
        .collect();
    let outer_count = rings.len();
    let mut bg = vec![0u8; n]; // 0 unvisited, 1 outside, 2 hole
    let mut queue = VecDeque::new();
    for y in 0..g.h {
        for x in 0..g.w {
            let edge = x == 0 || y == 0 || x == g.w - 1 || y == g.h - 1;
            let i = g.idx(x, y);
            if edge && mask.data[i] == 0 && bg[i] == 0 {
                bg[i] = 1;
                queue.push_back((x, y));
            }
        }
    }
    let flood = |queue: &mut VecDeque<(i64, i64)>, bg: &mut Vec<u8>, mark: u8| {
        while let Some((x, y)) = queue.pop_front() {
            for (dx, dy) in [(1, 0), (-1, 0), (0, 1), (0, -1)] {
                let (qx, qy) = (x + dx, y + dy);
                if qx >= 0 && qy >= 0 && qx < g.w && qy < g.h {
                    let j = g.idx(qx, qy);
                    if mask.data[j] == 0 && bg[j] == 0 {
                        bg[j] = mark;
                        queue.push_back((qx, qy));
                    }
                }
            }
        }
    };
    flood(&mut queue, &mut bg, 1);
    for y in 0..g.h {
        for x in 0..g.w {
            let i = g.idx(x, y);
            if mask.data[i] == 0 && bg[i] == 0 {
                bg[i] = 2;
                queue.push_back((x, y));
                flood(&mut queue, &mut bg, 2);
                // (x, y - 1) is set: nothing of this hole lies above its first pixel.
                let top = (x, y - 1);
                rings.push(Ring {
                    pts: trace(&g, top, (x, y)),
                    component: comp[g.idx(top.0, top.1)],
                });
            }
        }
    }
    let mut links: Vec<Link> = Vec::new();
    // Holes: breadth-first from each component's outer ring through its own pixels.
    let mut holes_of: Vec<Vec<usize>> = vec![Vec::new(); outer_count];
    for (r, ring) in rings.iter().enumerate().skip(outer_count) {
        holes_of[ring.component].push(r);
    }
    let mut dist = vec![u32::MAX; n];
    let mut from = vec![usize::MAX; n];
    for (c, holes) in holes_of.iter().enumerate() {
        if holes.is_empty() {
            continue;
        }
        let mut touched = Vec::new();
        for &(x, y) in &rings[c].pts {
            let i = g.idx(x, y);
            if dist[i] != 0 {
                dist[i] = 0;
                touched.push(i);
                queue.push_back((x, y));
            }
        }
        while let Some((x, y)) = queue.pop_front() {
            let i = g.idx(x, y);
            for (dx, dy) in NB {
                let (qx, qy) = (x + dx, y + dy);
                if g.set(qx, qy) {
                    let j = g.idx(qx, qy);
                    if dist[j] == u32::MAX {
                        dist[j] = dist[i] + 1;
                        from[j] = i;
                        touched.push(j);
                        queue.push_back((qx, qy));
                    }
                }
            }
        }
        for &h in holes {
            let Some(&pb) = rings[h].pts.iter().min_by_key(|&&(x, y)| dist[g.idx(x, y)]) else {
                continue;
            };
            let mut path = vec![pb];
            let mut i = g.idx(pb.0, pb.1);
            while dist[i] != 0 && from[i] != usize::MAX {
                i = from[i];
                path.push(((i as i64) % g.w, (i as i64) / g.w));
            }
            let pa = path.pop().unwrap_or(pb);
            path.reverse();
            links.push(Link {
                a: c,
                pa,
                b: h,
                pb,
                path,
            });
        }
        for i in touched {
            dist[i] = u32::MAX;
            from[i] = usize::MAX;
        }
    }
    // Components: one breadth-first search over the background from every ring pixel
    // at once; where two components' searches meet is a candidate bridge. Kruskal keeps
    // the shortest that connect everything.
    if outer_count > 1 {
        let mut owner = vec![usize::MAX; n]; // ring whose search reached the pixel
        for (r, ring) in rings.iter().enumerate() {
            for &(x, y) in &ring.pts {
                let i = g.idx(x, y);
                if owner[i] == usize::MAX {
                    owner[i] = r;
                    dist[i] = 0;
                    from[i] = usize::MAX;
                    queue.push_back((x, y));
                }
            }
        }
        // Best meeting per component pair: (length, pixel i, pixel j).
        let mut best: std::collections::HashMap<(usize, usize), (u32, usize, usize)> =
            std::collections::HashMap::new();
        while let Some((x, y)) = queue.pop_front() {
            let i = g.idx(x, y);
            for (dx, dy) in NB {
                let (qx, qy) = (x + dx, y + dy);
                if qx < 0 || qy < 0 || qx >= g.w || qy >= g.h {
                    continue;
                }
                let j = g.idx(qx, qy);
                if owner[j] == usize::MAX {
                    if mask.data[j] != 0 {
                        continue; // a set pixel off every ring: inside a component
                    }
                    owner[j] = owner[i];
                    dist[j] = dist[i] + 1;
                    from[j] = i;
                    queue.push_back((qx, qy));
                } else {
                    let (ci, cj) = (rings[owner[i]].component, rings[owner[j]].component);
                    if ci != cj {
                        let len = dist[i] + dist[j] + 1;
                        let key = (ci.min(cj), ci.max(cj));
                        let cand = if ci < cj { (len, i, j) } else { (len, j, i) };
                        let e = best.entry(key).or_insert(cand);
                        if cand < *e {
                            *e = cand;
                        }
                    }
                }
            }
        }
        let mut cands: Vec<(u32, usize, usize)> = best.into_values().collect();
        cands.sort_unstable();
        let mut parent: Vec<usize> = (0..outer_count).collect();
        let chain = |mut i: usize| {
            let mut out = vec![i];
            while dist[i] != 0 && from[i] != usize::MAX {
                i = from[i];
                out.push(i);
            }
            out // from i back to a ring pixel
        };
        for (_, i, j) in cands {
            let (ci, cj) = (rings[owner[i]].component, rings[owner[j]].component);
            let (ri, rj) = (
                union_find_root(&mut parent, ci),
                union_find_root(&mut parent, cj),
            );
            if ri == rj {
                continue;
            }
            parent[ri] = rj;
            // ring pixel of i ... i, j ... ring pixel of j
            let mut pix: Vec<usize> = chain(i);
            pix.reverse();
            pix.extend(chain(j));
            let pt = |k: usize| ((k as i64) % g.w, (k as i64) / g.w);
            let pa = pt(pix[0]);
            let pb = pt(pix[pix.len() - 1]);
            links.push(Link {
                a: owner[pix[0]],
                pa,
                b: owner[pix[pix.len() - 1]],
                pb,
                path: pix[1..].iter().map(|&k| pt(k)).collect(),
            });
        }
    }
    Walk {
        points: compress(emit(&rings, &links)),
        holes: rings.len() - outer_count,
        parts: outer_count - 1,
    }
}

/// Walks the tree of rings from ring 0: round each ring from the pixel where it was
/// entered, and at every pixel out along each link there, round the linked ring, and
/// back the same way.
fn emit(rings: &[Ring], links: &[Link]) -> Vec<[i64; 2]> {
    enum Task {
        Point((i64, i64)),
        Ring { r: usize, entry: usize, via: usize },
        Link { k: usize, from: usize },
    }
    let index_in = |r: usize, p: (i64, i64)| rings[r].pts.iter().position(|&q| q == p).unwrap_or(0);
    // at[r]: (pixel index in ring r, link), sorted by index.
    let mut at: Vec<Vec<(usize, usize)>> = vec![Vec::new(); rings.len()];
    for (k, l) in links.iter().enumerate() {
        at[l.a].push((index_in(l.a, l.pa), k));
        at[l.b].push((index_in(l.b, l.pb), k));
    }
    for v in &mut at {
        v.sort_unstable();
    }
    let links_at = |r: usize, i: usize, via: usize| {
        let v = &at[r];
        let lo = v.partition_point(|&(idx, _)| idx < i);
        let hi = v.partition_point(|&(idx, _)| idx <= i);
        v[lo..hi].iter().map(|&(_, k)| k).filter(move |&k| k != via)
    };
    // Each link's pixels from its `a` end to its `b` end, both included.
    let full: Vec<Vec<(i64, i64)>> = links
        .iter()
        .map(|l| {
            std::iter::once(l.pa)
                .chain(l.path.iter().copied())
                .collect()
        })
        .collect();
    let mut out: Vec<(i64, i64)> = vec![rings[0].pts[0]];
    let mut stack = vec![Task::Ring {
        r: 0,
        entry: 0,
        via: usize::MAX,
    }];
    while let Some(task) = stack.pop() {
        match task {
            Task::Point(p) => out.push(p),
            Task::Ring { r, entry, via } => {
                let pts = &rings[r].pts;
                let len = pts.len();
                let mut seq: Vec<Task> = links_at(r, entry, via)
                    .map(|k| Task::Link { k, from: r })
                    .collect();
                for t in 1..=len {
                    let i = (entry + t) % len;
                    seq.push(Task::Point(pts[i]));
                    if t < len {
                        seq.extend(links_at(r, i, via).map(|k| Task::Link { k, from: r }));
                    }
                }
                stack.extend(seq.into_iter().rev());
            }
            Task::Link { k, from } => {
                let (l, f) = (&links[k], &full[k]);
                let ahead: Vec<(i64, i64)> = f[1..].to_vec();
                let behind: Vec<(i64, i64)> = f.iter().rev().skip(1).copied().collect();
                let (fwd, back, to, tp) = if from == l.a {
                    (ahead, behind, l.b, l.pb)
                } else {
                    (behind, ahead, l.a, l.pa)
                };
                stack.extend(back.into_iter().rev().map(Task::Point));
                stack.push(Task::Ring {
                    r: to,
                    entry: index_in(to, tp),
                    via: k,
                });
                stack.extend(fwd.into_iter().rev().map(Task::Point));
            }
        }
    }
    out.dedup();
    if out.len() > 1 && out.first() == out.last() {
        out.pop();
    }
    out.into_iter().map(|(x, y)| [x, y]).collect()
}

/// Drops vertices inside straight runs (the same unit step before and after).
fn compress(walk: Vec<[i64; 2]>) -> Vec<[i64; 2]> {
    let n = walk.len();
    if n < 3 {
        return walk;
    }
    let step = |a: [i64; 2], b: [i64; 2]| [b[0] - a[0], b[1] - a[1]];
    let keep: Vec<[i64; 2]> = (0..n)
        .filter(|&i| {
            let (a, b, c) = (walk[(i + n - 1) % n], walk[i], walk[(i + 1) % n]);
            step(a, b) != step(b, c)
        })
        .map(|i| walk[i])
        .collect();
    if keep.is_empty() { vec![walk[0]] } else { keep }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::fill_rule::opencv_fill_poly;

    fn mask(rows: &[&str]) -> BitMask {
        let (w, h) = (rows[0].len() as u32, rows.len() as u32);
        let mut m = BitMask::new(w, h);
        for (y, r) in rows.iter().enumerate() {
            for (x, c) in r.bytes().enumerate() {
                m.data[y * w as usize + x] = u8::from(c == b'#');
            }
        }
        m
    }

    fn refill(m: &BitMask) -> BitMask {
        opencv_fill_poly(&[opencv_walk(m).points], m.width, m.height)
    }

    #[test]
    fn holes_thin_parts_and_diagonals_survive() {
        for rows in [
            &["#"][..],
            &["##"],
            &["#.", ".#"],
            &["###", "#.#", "###"],
            &["#####", "#.#.#", "#####", "#...#", "#####"],
            &["#....", ".#...", "..#..", "...##", "....#"],
            &["..#..", ".#.#.", "#...#", ".#.#.", "..#.."],
            &["#.#.#", ".#.#.", "#.#.#"],
        ] {
            let m = mask(rows);
            assert_eq!(refill(&m), m, "{rows:?}");
        }
    }

    #[test]
    fn separate_parts_only_gain_bridge_pixels() {
        for (rows, most) in [
            (&["##...##", "##...##", ".......", "...#..."][..], 4),
            // an island in a hole: one bridge pixel through the hole
            (
                &["######", "#....#", "#.##.#", "#.##.#", "#....#", "######"],
                1,
            ),
        ] {
            let m = mask(rows);
            let back = refill(&m);
            for (a, b) in m.data.iter().zip(&back.data) {
                assert!(*b >= *a, "a pixel of the mask was lost: {rows:?}");
            }
            let gained = back.area() - m.area();
            assert!(gained > 0 && gained <= most, "gained {gained}: {rows:?}");
        }
    }

    /// Random masks, one 8-connected component each (the largest of a random blob
    /// field): the walk fills back exactly, holes and all.
    #[test]
    fn random_components_fill_back_exactly() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for case in 0..400 {
            let (w, h) = (3 + (rnd() % 14) as u32, 3 + (rnd() % 14) as u32);
            let density = 30 + rnd() % 50;
            let mut m = BitMask::new(w, h);
            for v in &mut m.data {
                *v = u8::from(rnd() % 100 < density);
            }
            // keep one 8-connected component
            let Some(seed_i) = m.data.iter().position(|&v| v != 0) else {
                continue;
            };
            let mut keep = BitMask::new(w, h);
            let mut st = vec![seed_i];
            keep.data[seed_i] = 1;
            while let Some(i) = st.pop() {
                let (x, y) = ((i as u32 % w) as i64, (i as u32 / w) as i64);
                for (dx, dy) in NB {
                    let (qx, qy) = (x + dx, y + dy);
                    if m.get(qx, qy) && !keep.get(qx, qy) {
                        keep.set(qx, qy, true);
                        st.push((qy * i64::from(w) + qx) as usize);
                    }
                }
            }
            let back = refill(&keep);
            assert_eq!(back, keep, "case {case}: {w}x{h}\n{:?}", keep.data);
        }
    }
}
