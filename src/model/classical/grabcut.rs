//! `grabcut`: GrabCut (Rother, Kolmogorov, Blake 2004). Object and background colours
//! are each modelled by a Gaussian mixture (GMM); a graph cut then labels every pixel,
//! trading colour fit against cutting between similar neighbours; the GMMs are refitted
//! to the new labels and the cut repeated `iterations` times.
//!
//! - Start labels: the previous mask when there is one (so later prompts refine),
//!   else the inside of the box, else disks of `init_radius` around positive prompts.
//! - Hard labels: positive prompts are object, negative prompts and the outside of a box
//!   background; the cut cannot change them.
//! - The graph is a 4-connected grid over the box (or the image), the pixels outside
//!   fixed as background; its smoothness edges are built once per prediction. Pixels
//!   whose colour fit settles their side are merged into the terminals first (exact,
//!   see [`min_cut`]); the max-flow on what is left is the Dinic of the
//!   `contest-algorithms` crate (blocking flows with current-arc pointers).
//!   petgraph's `dinics` gives the same cut but restarts its search for every
//!   augmenting path, seconds per click on textured photos; it stays as the tests'
//!   reference. Images larger than `max_side` are cut at a reduced size and the mask
//!   scaled back.

use contest_algorithms::graph::flow::FlowGraph;
use image::RgbImage;
use rayon::prelude::*;
use serde::Deserialize;

use super::{BACKGROUND, FOREGROUND, box_pixels, check_prompts, prediction, seed_map};
use crate::core::geometry::{BitMask, PixelRect};
use crate::model::config::ModelConfig;
use crate::model::prompt::{PromptKind, Prompts};
use crate::model::{MaskPredictor, ModelError, Prediction};

/// Settings of the `grabcut` backend (all optional).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct GrabCutParams {
    /// Graph cuts per prediction (GMMs refitted before each).
    pub iterations: usize,
    /// Gaussians per colour model.
    pub components: usize,
    /// Weight of the smoothness term (GrabCut's γ).
    pub gamma: f32,
    /// Radius of a click's hard seed disk, px.
    pub click_radius: f32,
    /// Radius of a stroke's hard seed, px.
    pub stroke_radius: f32,
    /// Without a box or previous mask, the object model starts from disks of this
    /// radius around the positive prompts.
    pub init_radius: f32,
    /// Long side above which the cut runs on a reduced image (0 = never).
    pub max_side: u32,
}

impl Default for GrabCutParams {
    fn default() -> Self {
        GrabCutParams {
            iterations: 3,
            components: 5,
            gamma: 50.0,
            click_radius: 3.0,
            stroke_radius: 2.0,
            init_radius: 12.0,
            max_side: 0,
        }
    }
}

/// The `grabcut` backend.
pub struct GrabCutPredictor {
    params: GrabCutParams,
    prompts: Vec<PromptKind>,
}

impl GrabCutPredictor {
    /// Reads the settings of `config`.
    pub fn load(config: &ModelConfig) -> Result<Self, ModelError> {
        let params: GrabCutParams = config.backend()?;
        let bad = |field: &str, msg: String| ModelError::Config {
            path: config.path.display().to_string(),
            message: format!("field `{field}`: {msg}"),
        };
        if params.iterations == 0 {
            return Err(bad("iterations", "must be at least 1".into()));
        }
        if params.components == 0 {
            return Err(bad("components", "must be at least 1".into()));
        }
        Ok(GrabCutPredictor {
            params,
            prompts: config.prompts.clone(),
        })
    }

    /// A predictor with explicit settings.
    pub fn new(params: GrabCutParams) -> Self {
        GrabCutPredictor {
            params,
            prompts: vec![PromptKind::Click, PromptKind::Scribble, PromptKind::Box],
        }
    }
}

/// One full-covariance Gaussian of a mixture, kept in the form the likelihood needs.
#[derive(Debug, Clone)]
struct Gaussian {
    mean: [f64; 3],
    inv: [[f64; 3]; 3],
    /// log(weight) - log(det Σ)/2.
    log_norm: f64,
}

/// A Gaussian mixture over RGB colours.
#[derive(Debug, Clone)]
pub struct Gmm {
    parts: Vec<Gaussian>,
}

/// Colours are sampled at most this many per fit: k-means cost stays bounded.
const MAX_SAMPLES: usize = 20_000;

impl Gmm {
    /// Fits `k` Gaussians to `colours` by a few rounds of k-means (started from colours
    /// spread evenly along the brightness order) and per-cluster moments.
    pub fn fit(colours: &[[f32; 3]], k: usize) -> Gmm {
        let step = colours.len().div_ceil(MAX_SAMPLES).max(1);
        let mut s: Vec<[f32; 3]> = colours.iter().step_by(step).copied().collect();
        s.sort_by(|a, b| (a[0] + a[1] + a[2]).total_cmp(&(b[0] + b[1] + b[2])));
        let k = k.min(s.len()).max(1);
        let mut centres: Vec<[f32; 3]> =
            (0..k).map(|i| s[(2 * i + 1) * s.len() / (2 * k)]).collect();
        let mut assign = vec![0usize; s.len()];
        for _ in 0..5 {
            for (a, c) in assign.iter_mut().zip(&s) {
                *a = (0..k)
                    .min_by(|&i, &j| {
                        super::dist2(*c, centres[i]).total_cmp(&super::dist2(*c, centres[j]))
                    })
                    .unwrap_or(0);
            }
            let mut sum = vec![[0f64; 4]; k];
            for (a, c) in assign.iter().zip(&s) {
                for d in 0..3 {
                    sum[*a][d] += f64::from(c[d]);
                }
                sum[*a][3] += 1.0;
            }
            for (c, s) in centres.iter_mut().zip(&sum) {
                if s[3] > 0.0 {
                    *c = [
                        (s[0] / s[3]) as f32,
                        (s[1] / s[3]) as f32,
                        (s[2] / s[3]) as f32,
                    ];
                }
            }
        }
        let mut parts = Vec::with_capacity(k);
        let n = s.len().max(1) as f64;
        for i in 0..k {
            let members: Vec<[f64; 3]> = assign
                .iter()
                .zip(&s)
                .filter(|(a, _)| **a == i)
                .map(|(_, c)| [f64::from(c[0]), f64::from(c[1]), f64::from(c[2])])
                .collect();
            if members.is_empty() {
                continue;
            }
            let m = members.len() as f64;
            let mut mean = [0f64; 3];
            for c in &members {
                for d in 0..3 {
                    mean[d] += c[d] / m;
                }
            }
            let mut cov = [[0f64; 3]; 3];
            for c in &members {
                for a in 0..3 {
                    for b in 0..3 {
                        cov[a][b] += (c[a] - mean[a]) * (c[b] - mean[b]) / m;
                    }
                }
            }
            // A floor on the variance: flat regions would give a singular covariance.
            for (d, row) in cov.iter_mut().enumerate() {
                row[d] += 4.0;
            }
            let (inv, det) = invert3(&cov);
            parts.push(Gaussian {
                mean,
                inv,
                log_norm: (m / n).ln() - 0.5 * det.ln(),
            });
        }
        Gmm { parts }
    }

    /// -log of the mixture density at `c` (up to a constant shared by all GMMs).
    pub fn cost(&self, c: [f32; 3]) -> f32 {
        let mut best = f64::NEG_INFINITY;
        let mut terms = [0f64; 16];
        let n = self.parts.len().min(16);
        for (t, g) in terms.iter_mut().zip(&self.parts) {
            let d = [
                f64::from(c[0]) - g.mean[0],
                f64::from(c[1]) - g.mean[1],
                f64::from(c[2]) - g.mean[2],
            ];
            let mut q = 0.0;
            for a in 0..3 {
                for b in 0..3 {
                    q += d[a] * g.inv[a][b] * d[b];
                }
            }
            *t = g.log_norm - 0.5 * q;
            best = best.max(*t);
        }
        // log-sum-exp, stable.
        let sum: f64 = terms[..n].iter().map(|t| (t - best).exp()).sum();
        (-(best + sum.ln())) as f32
    }
}

/// Inverse and determinant of a symmetric positive definite 3x3 matrix.
fn invert3(m: &[[f64; 3]; 3]) -> ([[f64; 3]; 3], f64) {
    let c00 = m[1][1] * m[2][2] - m[1][2] * m[2][1];
    let c01 = m[1][2] * m[2][0] - m[1][0] * m[2][2];
    let c02 = m[1][0] * m[2][1] - m[1][1] * m[2][0];
    let det = (m[0][0] * c00 + m[0][1] * c01 + m[0][2] * c02).max(1e-12);
    let inv = [
        [
            c00 / det,
            (m[0][2] * m[2][1] - m[0][1] * m[2][2]) / det,
            (m[0][1] * m[1][2] - m[0][2] * m[1][1]) / det,
        ],
        [
            c01 / det,
            (m[0][0] * m[2][2] - m[0][2] * m[2][0]) / det,
            (m[0][2] * m[1][0] - m[0][0] * m[1][2]) / det,
        ],
        [
            c02 / det,
            (m[0][1] * m[2][0] - m[0][0] * m[2][1]) / det,
            (m[0][0] * m[1][1] - m[0][1] * m[1][0]) / det,
        ],
    ];
    (inv, det)
}

/// Fixed-point scale of the graph's capacities (the max-flow runs on integers, exact).
const SCALE: f32 = 16.0;
/// Capacity of a hard label's terminal edge: more than any cut through the grid.
const HARD: u64 = 1 << 40;

/// The smoothness (n-link) part of the graph over `region`: it depends on the image
/// and region only, so it is built once per prediction and shared by the iterations.
pub struct Grid {
    region: PixelRect,
    rw: usize,
    rh: usize,
    /// Capacity of the edge to the right / lower neighbour (both directions; 0 at the
    /// region's last column / row).
    right: Vec<u64>,
    down: Vec<u64>,
    /// Edges to neighbours outside the region (fixed background) are part of the
    /// pixel's sink capacity.
    border_sink: Vec<u64>,
}

impl Grid {
    /// GrabCut's contrast-sensitive smoothness weights γ·exp(-β|zm - zn|²), β from the
    /// region's mean squared neighbour difference.
    pub fn new(image: &RgbImage, region: PixelRect, gamma: f32) -> Grid {
        let (w, h) = image.dimensions();
        let wu = w as usize;
        let raw = image.as_raw();
        let colour = |i: usize| {
            let p = &raw[3 * i..3 * i + 3];
            [f32::from(p[0]), f32::from(p[1]), f32::from(p[2])]
        };
        let (rw, rh) = (region.width() as usize, region.height() as usize);
        let idx = |x: usize, y: usize| (region.y0 as usize + y) * wu + region.x0 as usize + x;
        // β: 1 / (2 <|zm - zn|²>) over the region's neighbour pairs.
        let (mut sum, mut count) = (0f64, 0usize);
        for y in 0..rh {
            for x in 0..rw {
                let c = colour(idx(x, y));
                if x + 1 < rw {
                    sum += f64::from(super::dist2(c, colour(idx(x + 1, y))));
                    count += 1;
                }
                if y + 1 < rh {
                    sum += f64::from(super::dist2(c, colour(idx(x, y + 1))));
                    count += 1;
                }
            }
        }
        let beta = if sum > 0.0 {
            (count as f64 / (2.0 * sum)) as f32
        } else {
            0.0
        };
        let weight = |a: [f32; 3], b: [f32; 3]| {
            (gamma * (-beta * super::dist2(a, b)).exp() * SCALE).round() as u64
        };
        let n = rw * rh;
        let (mut right, mut down, mut border_sink) = (vec![0; n], vec![0; n], vec![0; n]);
        let (wi, hi) = (i64::from(w), i64::from(h));
        for y in 0..rh {
            for x in 0..rw {
                let (k, i) = (y * rw + x, idx(x, y));
                let c = colour(i);
                let (gx, gy) = (
                    i64::from(region.x0) + x as i64,
                    i64::from(region.y0) + y as i64,
                );
                let mut outside = |ox: i64, oy: i64| {
                    if ox >= 0 && oy >= 0 && ox < wi && oy < hi {
                        border_sink[k] += weight(c, colour(oy as usize * wu + ox as usize));
                    }
                };
                if x + 1 < rw {
                    right[k] = weight(c, colour(idx(x + 1, y)));
                } else {
                    outside(gx + 1, gy);
                }
                if y + 1 < rh {
                    down[k] = weight(c, colour(idx(x, y + 1)));
                } else {
                    outside(gx, gy + 1);
                }
                if x == 0 {
                    outside(gx - 1, gy);
                }
                if y == 0 {
                    outside(gx, gy - 1);
                }
            }
        }
        Grid {
            region,
            rw,
            rh,
            right,
            down,
            border_sink,
        }
    }

    /// The region pixel `k`'s neighbours inside the region with their edge capacity.
    fn neighbours(&self, k: usize) -> impl Iterator<Item = (usize, u64)> + '_ {
        let (x, y) = (k % self.rw, k / self.rw);
        [
            (x + 1 < self.rw).then(|| (k + 1, self.right[k])),
            (y + 1 < self.rh).then(|| (k + self.rw, self.down[k])),
            (x > 0).then(|| (k - 1, self.right[k - 1])),
            (y > 0).then(|| (k - self.rw, self.down[k - self.rw])),
        ]
        .into_iter()
        .flatten()
    }
}

/// One graph cut: `hard` holds [`FOREGROUND`] / [`BACKGROUND`] / 0 per pixel of the
/// image and `labels` the current labels (1 = object) of the whole image; returns
/// the new labels. Pixels outside the grid's region stay background.
pub fn cut_once(
    image: &RgbImage,
    grid: &Grid,
    hard: &[u8],
    labels: &[u8],
    params: &GrabCutParams,
) -> Vec<u8> {
    let wu = image.width() as usize;
    let raw = image.as_raw();
    let colour = |i: usize| {
        let p = &raw[3 * i..3 * i + 3];
        [f32::from(p[0]), f32::from(p[1]), f32::from(p[2])]
    };
    let (region, rw, rh) = (grid.region, grid.rw, grid.rh);
    let idx = |x: usize, y: usize| (region.y0 as usize + y) * wu + region.x0 as usize + x;
    let (mut fg, mut bg) = (Vec::new(), Vec::new());
    for y in 0..rh {
        for x in 0..rw {
            let i = idx(x, y);
            if labels[i] != 0 { &mut fg } else { &mut bg }.push(colour(i));
        }
    }
    // The background model also learns from the pixels just outside the box.
    if bg.len() < 64 {
        for (i, &l) in labels.iter().enumerate() {
            if l == 0 {
                bg.push(colour(i));
            }
        }
    }
    let (fg_gmm, bg_gmm) = (
        Gmm::fit(&fg, params.components),
        Gmm::fit(&bg, params.components),
    );
    // Terminal capacities as one signed number per pixel (source minus sink): only the
    // difference matters, the common part shifts every cut by the same amount.
    let excess: Vec<i64> = (0..rw * rh)
        .into_par_iter()
        .map(|k| {
            let i = idx(k % rw, k / rw);
            let (source, sink) = match hard[i] {
                FOREGROUND => (HARD, 0),
                BACKGROUND => (0, HARD),
                _ => {
                    let c = colour(i);
                    // Cutting the source edge labels the pixel background: it costs the
                    // background model's misfit, and vice versa.
                    (
                        (bg_gmm.cost(c) * SCALE).max(0.0).round() as u64,
                        (fg_gmm.cost(c) * SCALE).max(0.0).round() as u64,
                    )
                }
            };
            source as i64 - (sink + grid.border_sink[k]) as i64
        })
        .collect();
    let object = min_cut(grid, excess);
    let mut out = vec![0u8; labels.len()];
    for y in 0..rh {
        for x in 0..rw {
            out[idx(x, y)] = u8::from(object[y * rw + x]);
        }
    }
    out
}

/// The source side of the minimum cut of the grid with terminal capacities `excess`
/// (> 0: from the source, < 0: to the sink) — the smallest one, the pixels the source
/// reaches in the residual graph of a maximum flow.
///
/// The max-flow is `contest-algorithms`' Dinic, after an exact reduction (no
/// approximation):
/// a pixel whose terminal capacity exceeds the sum of its neighbour edges is on that
/// side in every minimum cut, so it is merged into that terminal (its edges become its
/// neighbours' terminal capacity), which may settle the neighbours in turn. The pixels
/// left fall apart into connected pieces, each cut on its own (smaller graphs; the
/// Dinic's recursion is as deep as the residual s-t distance of one piece).
fn min_cut(grid: &Grid, mut excess: Vec<i64>) -> Vec<bool> {
    let n = grid.rw * grid.rh;
    // 0: undecided, 1: source (object), 2: sink.
    let mut side = vec![0u8; n];
    let mut wsum: Vec<i64> = (0..n)
        .map(|k| grid.neighbours(k).map(|(_, c)| c as i64).sum())
        .collect();
    let mut stack: Vec<usize> = (0..n).rev().collect();
    while let Some(k) = stack.pop() {
        if side[k] != 0 {
            continue;
        }
        let sign = if excess[k] > wsum[k] {
            1
        } else if -excess[k] > wsum[k] {
            -1
        } else {
            continue;
        };
        side[k] = if sign > 0 { 1 } else { 2 };
        for (q, c) in grid.neighbours(k) {
            if side[q] == 0 {
                excess[q] += sign * c as i64;
                wsum[q] -= c as i64;
                stack.push(q);
            }
        }
    }
    // Connected pieces of the undecided pixels, each one graph.
    let mut piece_of = vec![u32::MAX; n];
    let mut members = Vec::new();
    for start in 0..n {
        if side[start] != 0 || piece_of[start] != u32::MAX {
            continue;
        }
        members.clear();
        piece_of[start] = 0;
        members.push(start);
        let mut head = 0;
        while head < members.len() {
            let k = members[head];
            head += 1;
            for (q, c) in grid.neighbours(k) {
                if c > 0 && side[q] == 0 && piece_of[q] == u32::MAX {
                    piece_of[q] = members.len() as u32;
                    members.push(q);
                }
            }
        }
        let m = members.len();
        let (s, t) = (m, m + 1);
        let mut g = FlowGraph::new(m + 2, 3 * m);
        for (a, &k) in members.iter().enumerate() {
            for (q, c) in grid.neighbours(k) {
                // Each pair once (to the right and down): one edge, capacity c both ways.
                if q > k && c > 0 && side[q] == 0 {
                    g.add_edge(a, piece_of[q] as usize, c as i64, c as i64, 0);
                }
            }
            match excess[k] {
                e if e > 0 => g.add_edge(s, a, e, 0, 0),
                e if e < 0 => g.add_edge(a, t, -e, 0, 0),
                _ => {}
            }
        }
        let (_, flow) = g.dinic(s, t);
        // Object = what the source still reaches in the residual graph.
        let mut reach = vec![false; m + 2];
        reach[s] = true;
        let mut dfs = vec![s];
        while let Some(u) = dfs.pop() {
            for (e, v) in g.graph.adj_list(u) {
                if !reach[v] && flow[e] < g.cap[e] {
                    reach[v] = true;
                    dfs.push(v);
                }
            }
        }
        for (a, &k) in members.iter().enumerate() {
            side[k] = if reach[a] { 1 } else { 2 };
        }
    }
    side.iter().map(|&v| v == 1).collect()
}

/// Runs GrabCut on `image` from `prompts` (see the module docs).
pub fn grabcut(
    image: &RgbImage,
    prompts: &Prompts,
    params: &GrabCutParams,
) -> Result<BitMask, ModelError> {
    let (w, h) = image.dimensions();
    let mut hard = seed_map(w, h, prompts, params.click_radius, params.stroke_radius);
    let region = match prompts.bbox {
        Some(b) => box_pixels(b, w, h)
            .ok_or_else(|| ModelError::Prompt(format!("grabcut: the box {b:?} covers no pixel")))?,
        None => PixelRect::full(w, h),
    };
    if prompts.bbox.is_none() && !hard.contains(&FOREGROUND) {
        return Err(ModelError::Prompt(
            "grabcut: give a box around the object or a positive click / scribble on it \
             (negative prompts alone say nothing about the object's colours)"
                .into(),
        ));
    }
    let wu = w as usize;
    let inside = |i: usize| {
        let (x, y) = ((i % wu) as u32, (i / wu) as u32);
        x >= region.x0 && x < region.x1 && y >= region.y0 && y < region.y1
    };
    for (i, v) in hard.iter_mut().enumerate() {
        if !inside(i) {
            *v = BACKGROUND;
        }
    }
    let init = Prompts {
        clicks: prompts
            .clicks
            .iter()
            .filter(|c| c.positive)
            .copied()
            .collect(),
        strokes: prompts
            .strokes
            .iter()
            .filter(|s| s.positive)
            .cloned()
            .collect(),
        ..Default::default()
    };
    let mut labels: Vec<u8> = match &prompts.previous {
        Some(prev) if prev.iter().any(|&p| p > 0.5) => {
            prev.iter().map(|&p| u8::from(p > 0.5)).collect()
        }
        _ if prompts.bbox.is_some() => (0..hard.len()).map(|i| u8::from(inside(i))).collect(),
        _ => seed_map(w, h, &init, params.init_radius, params.init_radius)
            .iter()
            .map(|&v| u8::from(v == FOREGROUND))
            .collect(),
    };
    for (l, &s) in labels.iter_mut().zip(&hard) {
        match s {
            FOREGROUND => *l = 1,
            BACKGROUND => *l = 0,
            _ => {}
        }
    }
    if labels.iter().all(|&l| l != 0) {
        return Err(ModelError::Prompt(
            "grabcut: nothing is background: draw a box smaller than the image or add a \
             negative prompt"
                .into(),
        ));
    }
    let grid = Grid::new(image, region, params.gamma);
    for _ in 0..params.iterations {
        let next = cut_once(image, &grid, &hard, &labels, params);
        let same = next == labels;
        labels = next;
        if same {
            break;
        }
    }
    Ok(BitMask {
        width: w,
        height: h,
        data: labels,
    })
}

impl MaskPredictor for GrabCutPredictor {
    fn supports(&self) -> &[PromptKind] {
        &self.prompts
    }

    fn predict(&mut self, image: &RgbImage, prompts: &Prompts) -> Result<Prediction, ModelError> {
        check_prompts("grabcut", image, prompts)?;
        let (w, h) = image.dimensions();
        let long = w.max(h);
        let p = &self.params;
        if p.max_side == 0 || long <= p.max_side {
            return Ok(prediction(grabcut(image, prompts, p)?));
        }
        // Cut a reduced copy; prompts and the previous mask are scaled with it.
        let s = p.max_side as f32 / long as f32;
        let (sw, sh) = (
            ((w as f32 * s).round() as u32).max(1),
            ((h as f32 * s).round() as u32).max(1),
        );
        let small = image::imageops::resize(image, sw, sh, image::imageops::FilterType::Triangle);
        let mut sp = prompts.clone();
        for c in &mut sp.clicks {
            (c.x, c.y) = (c.x * s, c.y * s);
        }
        for st in &mut sp.strokes {
            for q in &mut st.points {
                *q = [q[0] * s, q[1] * s];
            }
        }
        sp.bbox = prompts
            .bbox
            .map(|b| [b[0] * s, b[1] * s, b[2] * s, b[3] * s]);
        sp.previous = prompts.previous.as_ref().map(|prev| {
            (0..(sw * sh) as usize)
                .map(|i| {
                    let (x, y) = ((i % sw as usize) as f32, (i / sw as usize) as f32);
                    let ox = (((x + 0.5) / s) as usize).min(w as usize - 1);
                    let oy = (((y + 0.5) / s) as usize).min(h as usize - 1);
                    prev[oy * w as usize + ox]
                })
                .collect()
        });
        let m = grabcut(&small, &sp, p)?;
        let mut full = BitMask::new(w, h);
        for y in 0..h {
            for x in 0..w {
                let sx = (((x as f32 + 0.5) * s) as u32).min(sw - 1);
                let sy = (((y as f32 + 0.5) * s) as u32).min(sh - 1);
                full.data[y as usize * w as usize + x as usize] =
                    m.data[sy as usize * sw as usize + sx as usize];
            }
        }
        Ok(prediction(full))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::classical::fixtures;
    use crate::model::noc::iou;
    use petgraph::Graph;
    use petgraph::graph::NodeIndex;
    use petgraph::visit::EdgeRef;

    fn gc() -> GrabCutPredictor {
        GrabCutPredictor::new(GrabCutParams::default())
    }

    #[test]
    fn a_box_segments_the_object() {
        let (img, gt, _) = fixtures::scene();
        let p = Prompts {
            bbox: Some([52.0, 57.0, 214.0, 183.0]),
            ..Default::default()
        };
        let v = iou(&gt, &gc().predict(&img, &p).unwrap().mask);
        assert!(v >= 0.9, "IoU {v:.3}");
    }

    #[test]
    fn one_click_segments_the_object() {
        let (img, gt, _) = fixtures::scene();
        let m = gc()
            .predict(&img, &fixtures::click_in_object())
            .unwrap()
            .mask;
        let v = iou(&gt, &m);
        assert!(v >= 0.9, "IoU {v:.3}");
    }

    #[test]
    fn a_negative_stroke_removes_the_appendage_a_box_took() {
        let (img, gt, extra) = fixtures::scene();
        let mut g = gc();
        // A box around ellipse and appendage: both are bright on dark, both come.
        let boxed = Prompts {
            bbox: Some([52.0, 57.0, 270.0, 183.0]),
            ..Default::default()
        };
        let first = g.predict(&img, &boxed).unwrap();
        let mut both = gt.clone();
        for (d, e) in both.data.iter_mut().zip(&extra.data) {
            *d |= e;
        }
        let v = iou(&both, &first.mask);
        assert!(v >= 0.9, "IoU with the box {v:.3}");
        // The negative stroke's colours teach the background model the appendage.
        let mut p = boxed.clone();
        p.strokes.push(fixtures::negative_stroke_on_appendage());
        p.previous = Some(first.probability);
        let second = g.predict(&img, &p).unwrap().mask;
        assert!(second.area() < first.mask.area());
        let v = iou(&gt, &second);
        assert!(v >= 0.9, "IoU after the negative stroke {v:.3}");
    }

    #[test]
    fn bad_prompts_are_refused() {
        let (img, _, _) = fixtures::scene();
        let only_negative = Prompts {
            clicks: vec![fixtures::negative_click_on_appendage()],
            ..Default::default()
        };
        let e = gc().predict(&img, &only_negative).unwrap_err().to_string();
        assert!(e.contains("box around the object"), "{e}");
        let whole = Prompts {
            bbox: Some([0.0, 0.0, 320.0, 240.0]),
            ..Default::default()
        };
        let e = gc().predict(&img, &whole).unwrap_err().to_string();
        assert!(e.contains("nothing is background"), "{e}");
    }

    #[test]
    fn reduced_size_cut_matches() {
        let (img, gt, _) = fixtures::scene();
        let mut g = GrabCutPredictor::new(GrabCutParams {
            max_side: 160,
            ..Default::default()
        });
        let p = Prompts {
            bbox: Some([52.0, 57.0, 214.0, 183.0]),
            ..Default::default()
        };
        let v = iou(&gt, &g.predict(&img, &p).unwrap().mask);
        assert!(v >= 0.85, "IoU {v:.3}");
    }

    /// The unreduced graph: every region pixel a node, one run of petgraph's Dinic (an
    /// independent max-flow implementation).
    fn reference_min_cut(grid: &Grid, excess: &[i64]) -> Vec<bool> {
        let n = grid.rw * grid.rh;
        let mut g: Graph<(), u64> = Graph::new();
        for _ in 0..n {
            g.add_node(());
        }
        let (s, t) = (g.add_node(()), g.add_node(()));
        for (k, &e) in excess.iter().enumerate() {
            for (q, c) in grid.neighbours(k) {
                if q > k {
                    g.add_edge(NodeIndex::new(k), NodeIndex::new(q), c);
                    g.add_edge(NodeIndex::new(q), NodeIndex::new(k), c);
                }
            }
            if e > 0 {
                g.add_edge(s, NodeIndex::new(k), e as u64);
            } else if e < 0 {
                g.add_edge(NodeIndex::new(k), t, e.unsigned_abs());
            }
        }
        let (_, flows) = petgraph::algo::dinics(&g, s, t);
        let mut reach = vec![false; n + 2];
        reach[s.index()] = true;
        let mut stack = vec![s];
        while let Some(u) = stack.pop() {
            for e in g.edges_directed(u, petgraph::Direction::Outgoing) {
                if !reach[e.target().index()] && flows[e.id().index()] < *e.weight() {
                    reach[e.target().index()] = true;
                    stack.push(e.target());
                }
            }
            for e in g.edges_directed(u, petgraph::Direction::Incoming) {
                if !reach[e.source().index()] && flows[e.id().index()] > 0 {
                    reach[e.source().index()] = true;
                    stack.push(e.source());
                }
            }
        }
        reach[..n].to_vec()
    }

    #[test]
    fn reduced_cut_equals_the_full_graph_cut() {
        // The reduction and the split into pieces are exact: the same (smallest) source
        // side as one Dinic run over every pixel, on textured grids with unary terms
        // from confident to ambiguous, hard seeds and ties.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut rand = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for case in 0..12u64 {
            let (w, h) = (23 + case as u32 * 3, 17 + case as u32 * 2);
            let img = RgbImage::from_fn(w, h, |x, y| {
                let v = (rand() % 40) as u8;
                if (x as i32 - w as i32 / 2).pow(2) + (y as i32 - h as i32 / 2).pow(2) < 40 {
                    image::Rgb([200 - v, 150 + v, 60])
                } else {
                    image::Rgb([60 + v, 80 + v / 2, 110])
                }
            });
            let region = if case % 2 == 0 {
                PixelRect::full(w, h)
            } else {
                PixelRect::new(2, 3, w - 4, h - 2)
            };
            let grid = Grid::new(&img, region, 50.0);
            let spread = [300i64, 1500, 4000][case as usize % 3];
            let excess: Vec<i64> = (0..grid.rw * grid.rh)
                .map(|k| match rand() % 50 {
                    0 => HARD as i64,
                    1 => -(HARD as i64),
                    2 => 0,
                    _ => {
                        let bias = if k % grid.rw < grid.rw / 2 {
                            spread / 4
                        } else {
                            -spread / 4
                        };
                        bias + (rand() % (2 * spread as u64)) as i64 - spread
                    }
                })
                .collect();
            let reduced = min_cut(&grid, excess.clone());
            let full = reference_min_cut(&grid, &excess);
            assert!(reduced == full, "case {case}");
        }
    }

    #[test]
    fn gmm_prefers_its_own_colours() {
        let red: Vec<[f32; 3]> = (0..100)
            .map(|i| [200.0 + (i % 7) as f32, 10.0, 10.0])
            .collect();
        let blue: Vec<[f32; 3]> = (0..100)
            .map(|i| [10.0, 10.0, 200.0 + (i % 5) as f32])
            .collect();
        let (r, b) = (Gmm::fit(&red, 3), Gmm::fit(&blue, 3));
        assert!(r.cost([203.0, 10.0, 10.0]) < b.cost([203.0, 10.0, 10.0]));
        assert!(b.cost([10.0, 12.0, 201.0]) < r.cost([10.0, 12.0, 201.0]));
    }
}
