//! `grabcut`: GrabCut (Rother, Kolmogorov, Blake 2004). Object and background colours
//! are each modelled by a Gaussian mixture (GMM); a graph cut then labels every pixel,
//! trading colour fit against cutting between similar neighbours; the GMMs are refitted
//! to the new labels and the cut repeated `iterations` times.
//!
//! - Start labels: the previous mask when there is one (so later prompts refine),
//!   else the inside of the box, else disks of `init_radius` around positive prompts.
//! - Hard labels: positive prompts are object, negative prompts and the outside of a box
//!   background; the cut cannot change them.
//! - The max-flow is petgraph's Dinic ([`petgraph::algo::dinics`]) on a 4-connected
//!   grid over the box (or the image), the pixels outside fixed as background. It is
//!   fast on clean scenes but slow on textured photos (it clears an O(V) visited map
//!   for every augmenting path), hence `max_side`. The `push_relabel` crate was tried
//!   too and was slower still on these graphs.
//!   Images larger than `max_side` are cut at a reduced size and the mask scaled back.

use image::RgbImage;
use petgraph::Graph;
use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use serde::Deserialize;

use super::{BACKGROUND, FOREGROUND, box_pixels, check_prompts, prediction, seed_map};
use crate::core::geometry::BitMask;
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

/// One graph cut: `hard` holds [`FOREGROUND`] / [`BACKGROUND`] / 0 per pixel of
/// `region` and `labels` the current labels (1 = object) of the whole image; returns
/// the new labels. Pixels outside `region` stay background.
pub fn cut_once(
    image: &RgbImage,
    region: [u32; 4],
    hard: &[u8],
    labels: &[u8],
    params: &GrabCutParams,
) -> Vec<u8> {
    let (w, _) = image.dimensions();
    let wu = w as usize;
    let colour = |i: usize| {
        let p = &image.as_raw()[3 * i..3 * i + 3];
        [f32::from(p[0]), f32::from(p[1]), f32::from(p[2])]
    };
    let (rw, rh) = (
        (region[2] - region[0]) as usize,
        (region[3] - region[1]) as usize,
    );
    let idx = |x: usize, y: usize| (region[1] as usize + y) * wu + region[0] as usize + x;
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
    let n = rw * rh;
    let mut g: Graph<(), u64> = Graph::with_capacity(n + 2, 6 * n);
    for _ in 0..n {
        g.add_node(());
    }
    let (s, t) = (g.add_node(()), g.add_node(()));
    let mut source_cap = vec![0u64; n];
    let mut sink_cap = vec![0u64; n];
    let weight = |a: [f32; 3], b: [f32; 3]| {
        (params.gamma * (-beta * super::dist2(a, b)).exp() * SCALE).round() as u64
    };
    for y in 0..rh {
        for x in 0..rw {
            let (k, i) = (y * rw + x, idx(x, y));
            match hard[i] {
                FOREGROUND => source_cap[k] = HARD,
                BACKGROUND => sink_cap[k] = HARD,
                _ => {
                    let c = colour(i);
                    // Cutting the source edge labels the pixel background: it costs the
                    // background model's misfit, and vice versa.
                    source_cap[k] = (bg_gmm.cost(c) * SCALE).max(0.0).round() as u64;
                    sink_cap[k] = (fg_gmm.cost(c) * SCALE).max(0.0).round() as u64;
                }
            }
            let c = colour(i);
            let mut link = |nx: Option<usize>, ny: Option<usize>, gx: i64, gy: i64| match (nx, ny) {
                (Some(nx), Some(ny)) => {
                    let wgt = weight(c, colour(idx(nx, ny)));
                    let (a, b) = (NodeIndex::new(k), NodeIndex::new(ny * rw + nx));
                    g.add_edge(a, b, wgt);
                    g.add_edge(b, a, wgt);
                }
                _ => {
                    // A neighbour outside the region is fixed background: the edge to it
                    // becomes part of this pixel's sink capacity.
                    let (w, h) = (i64::from(image.width()), i64::from(image.height()));
                    if gx >= 0 && gy >= 0 && gx < w && gy < h {
                        let o = gy as usize * wu + gx as usize;
                        sink_cap[k] += weight(c, colour(o));
                    }
                }
            };
            let (gx, gy) = (
                i64::from(region[0]) + x as i64,
                i64::from(region[1]) + y as i64,
            );
            if x + 1 < rw {
                link(Some(x + 1), Some(y), 0, 0);
            } else {
                link(None, None, gx + 1, gy);
            }
            if y + 1 < rh {
                link(Some(x), Some(y + 1), 0, 0);
            } else {
                link(None, None, gx, gy + 1);
            }
            if x == 0 {
                link(None, None, gx - 1, gy);
            }
            if y == 0 {
                link(None, None, gx, gy - 1);
            }
        }
    }
    for k in 0..n {
        // Only the difference of the two terminal capacities matters; sending the
        // common part straight through keeps the max-flow short.
        let m = source_cap[k].min(sink_cap[k]);
        let (a, b) = (source_cap[k] - m, sink_cap[k] - m);
        if a > 0 {
            g.add_edge(s, NodeIndex::new(k), a);
        }
        if b > 0 {
            g.add_edge(NodeIndex::new(k), t, b);
        }
    }
    let (_, flows) = petgraph::algo::dinics(&g, s, t);
    // Object = what the source still reaches in the residual graph.
    let mut reach = vec![false; n + 2];
    reach[s.index()] = true;
    let mut stack = vec![s];
    while let Some(u) = stack.pop() {
        for e in g.edges_directed(u, petgraph::Direction::Outgoing) {
            let v = e.target();
            if !reach[v.index()] && flows[e.id().index()] < *e.weight() {
                reach[v.index()] = true;
                stack.push(v);
            }
        }
        for e in g.edges_directed(u, petgraph::Direction::Incoming) {
            let v = e.source();
            if !reach[v.index()] && flows[e.id().index()] > 0 {
                reach[v.index()] = true;
                stack.push(v);
            }
        }
    }
    let mut out = vec![0u8; labels.len()];
    for y in 0..rh {
        for x in 0..rw {
            out[idx(x, y)] = u8::from(reach[y * rw + x]);
        }
    }
    out
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
        None => [0, 0, w, h],
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
        x >= region[0] && x < region[2] && y >= region[1] && y < region[3]
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
    for _ in 0..params.iterations {
        let next = cut_once(image, region, &hard, &labels, params);
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
