//! `qa compare` (PQ / SQ / RQ, per-class mIoU and Boundary IoU, per image, loading
//! included) on generated 1920×1080 COCO panoptic gold / prediction pairs with 40
//! segments each, and, in the same run, panopticapi's `pq_compute` on the same files
//! when a Python with `panopticapi` is found (`LIMNER_QA_BENCH_PYTHON`, else the test
//! oracle venv `target/tmp/oracle-venv`, which `cargo test --release --test qa_pq`
//! creates).
//!
//! Run: `cargo bench --bench qa` (pairs: `LIMNER_QA_BENCH_PAIRS`, default 50; above 100
//! only the one-shot timings run, not criterion's sampling). The files
//! stay in `target/qa-bench/` for `tests/oracle/bench_pq.py`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use limner::core::formats::coco_panoptic::{
    CocoImage, PanopticAnnotation, PanopticFile, SegmentInfo,
};
use limner::core::labelmap::LabelMap;
use limner::core::ontology::CocoCategory;
use limner::core::qa::{LabelSet, compare};
use rayon::prelude::*;

const W: u32 = 1920;
const H: u32 = 1080;
const THING_CLASSES: u32 = 20;
const STUFF_CLASSES: u32 = 8;

/// Deterministic pseudo-random numbers (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One segment of a generated image: a horizontal stuff band or a thing ellipse.
#[derive(Clone)]
enum Shape {
    Band { y0: f64, y1: f64 },
    Ellipse { cx: f64, cy: f64, rx: f64, ry: f64 },
}

/// A generated segment: its id, its class and its shape.
type Placed = (u32, u32, Shape);

/// 4 stuff bands covering the image, then 36 thing ellipses on top.
fn scene(seed: u64) -> Vec<Placed> {
    let mut rng = Rng(seed * 2_654_435_761 + 1);
    let mut out = Vec::new();
    let cuts = [0.0, 0.3, 0.55, 0.8, 1.0];
    for k in 0..4 {
        let cat = THING_CLASSES + 1 + (rng.next() * f64::from(STUFF_CLASSES)) as u32;
        out.push((
            k + 1,
            cat,
            Shape::Band {
                y0: cuts[k as usize] * f64::from(H),
                y1: cuts[k as usize + 1] * f64::from(H),
            },
        ));
    }
    for k in 0..36 {
        let cat = 1 + (rng.next() * f64::from(THING_CLASSES)) as u32;
        out.push((
            k + 5,
            cat,
            Shape::Ellipse {
                cx: rng.next() * f64::from(W),
                cy: rng.next() * f64::from(H),
                rx: 30.0 + rng.next() * 150.0,
                ry: 30.0 + rng.next() * 110.0,
            },
        ));
    }
    out
}

/// The prediction: shapes moved and resized by a few pixels, the band borders moved, two
/// things dropped, one thing's class swapped.
fn perturb(seed: u64, shapes: &[Placed]) -> Vec<Placed> {
    let mut rng = Rng(seed * 7_919 + 17);
    let mut j = |s: f64| (rng.next() - 0.5) * 2.0 * s;
    let mut out = Vec::new();
    for (i, (id, cat, s)) in shapes.iter().enumerate() {
        if i == 10 || i == 20 {
            continue;
        }
        let cat = if i == 15 {
            cat % THING_CLASSES + 1
        } else {
            *cat
        };
        let s = match s {
            Shape::Band { y0, y1 } => Shape::Band {
                y0: if *y0 == 0.0 { 0.0 } else { y0 + j(6.0) },
                y1: y1 + j(6.0),
            },
            Shape::Ellipse { cx, cy, rx, ry } => Shape::Ellipse {
                cx: cx + j(4.0),
                cy: cy + j(4.0),
                rx: rx + j(3.0),
                ry: ry + j(3.0),
            },
        };
        out.push((*id, cat, s));
    }
    out
}

fn paint(shapes: &[Placed]) -> LabelMap {
    let mut m = LabelMap::new(W, H);
    for (id, _, s) in shapes {
        match *s {
            Shape::Band { y0, y1 } => {
                let (a, b) = (y0.max(0.0) as usize, (y1.min(f64::from(H))) as usize);
                m.ids[a * W as usize..b * W as usize].fill(*id);
            }
            Shape::Ellipse { cx, cy, rx, ry } => {
                let (ya, yb) = (
                    (cy - ry).max(0.0) as u32,
                    (cy + ry).min(f64::from(H)) as u32,
                );
                for y in ya..yb {
                    let dy = (f64::from(y) + 0.5 - cy) / ry;
                    let half = (1.0 - dy * dy).max(0.0).sqrt() * rx;
                    let xa = (cx - half).max(0.0).round() as usize;
                    let xb = ((cx + half).min(f64::from(W))).round() as usize;
                    if xa < xb {
                        let row = y as usize * W as usize;
                        m.ids[row + xa..row + xb].fill(*id);
                    }
                }
            }
        }
    }
    m
}

fn write_set(dir: &Path, name: &str, maps: &[(LabelMap, Vec<Placed>)]) -> PathBuf {
    let json = dir.join(format!("{name}.json"));
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder).unwrap();
    let annotations: Vec<PanopticAnnotation> = maps
        .par_iter()
        .enumerate()
        .map(|(i, (m, shapes))| {
            let png = format!("{i:05}.png");
            std::fs::write(folder.join(&png), m.to_panoptic_png().unwrap()).unwrap();
            let stats = m.stats();
            PanopticAnnotation {
                image_id: i as u64 + 1,
                file_name: png,
                segments_info: shapes
                    .iter()
                    .filter_map(|(id, cat, _)| {
                        let st = stats.get(id)?;
                        Some(SegmentInfo {
                            id: *id,
                            category_id: *cat,
                            area: Some(st.area),
                            bbox: Some(st.bbox.map(f64::from)),
                            iscrowd: 0,
                        })
                    })
                    .collect(),
            }
        })
        .collect();
    let categories = (1..=THING_CLASSES + STUFF_CLASSES)
        .map(|id| CocoCategory {
            id,
            name: format!("class-{id}"),
            supercategory: None,
            isthing: Some(u8::from(id <= THING_CLASSES)),
            color: Some([
                (id * 37 % 256) as u8,
                (id * 91 % 256) as u8,
                (id * 53 % 256) as u8,
            ]),
        })
        .collect();
    let file = PanopticFile {
        info: None,
        licenses: None,
        images: (0..maps.len())
            .map(|i| CocoImage {
                id: i as u64 + 1,
                file_name: format!("{i:05}.jpg"),
                width: W,
                height: H,
            })
            .collect(),
        annotations,
        categories,
    };
    std::fs::write(&json, serde_json::to_vec(&file).unwrap()).unwrap();
    json
}

/// Writes `n` gold / prediction pairs into `dir` (kept when already there).
fn generate(dir: &Path, n: usize) -> (PathBuf, PathBuf) {
    let (gold, pred) = (dir.join("gold.json"), dir.join("pred.json"));
    let stamp = dir.join(format!("pairs-{n}"));
    if stamp.exists() && gold.exists() && pred.exists() {
        return (gold, pred);
    }
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let scenes: Vec<_> = (0..n as u64).map(scene).collect();
    let g: Vec<_> = scenes.par_iter().map(|s| (paint(s), s.clone())).collect();
    write_set(dir, "gold", &g);
    drop(g);
    let p: Vec<_> = scenes
        .par_iter()
        .enumerate()
        .map(|(i, s)| {
            let s = perturb(i as u64, s);
            (paint(&s), s)
        })
        .collect();
    write_set(dir, "pred", &p);
    std::fs::write(&stamp, b"").unwrap();
    (gold, pred)
}

fn run_compare(gold: &Path, pred: &Path) -> f64 {
    let g = LabelSet::load(gold, None).unwrap();
    let p = LabelSet::load(pred, None).unwrap();
    let r = compare::compare(&g, &p, &compare::CompareOptions::default()).unwrap();
    r.overall.all.pq.unwrap()
}

fn oracle_python() -> Option<PathBuf> {
    std::env::var_os("LIMNER_QA_BENCH_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tmp/oracle-venv/bin/python");
            p.exists().then_some(p)
        })
}

fn bench(c: &mut Criterion) {
    let n: usize = std::env::var("LIMNER_QA_BENCH_PAIRS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/qa-bench");
    let t = Instant::now();
    let (gold, pred) = generate(&dir, n);
    eprintln!(
        "qa bench: {n} pairs of {W}x{H}, 40 segments each, in {} ({:.1} s to make)",
        dir.display(),
        t.elapsed().as_secs_f64()
    );

    let mut ours = Vec::new();
    let mut pq = 0.0;
    for _ in 0..3 {
        let t = Instant::now();
        pq = run_compare(&gold, &pred);
        ours.push(t.elapsed().as_secs_f64());
    }
    ours.sort_by(f64::total_cmp);
    let ours = ours[1];
    eprintln!(
        "limner qa compare: {ours:.2} s for {n} pairs (median of 3; PQ, mIoU, Boundary IoU, loading included), PQ {pq:.6}"
    );
    if let Some(py) = oracle_python() {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/bench_pq.py");
        match std::process::Command::new(&py)
            .arg(&script)
            .arg(&dir)
            .output()
        {
            Ok(o) if o.status.success() => {
                let text = String::from_utf8_lossy(&o.stdout);
                eprint!("{text}");
                if let Some(secs) = text
                    .lines()
                    .find_map(|l| l.strip_prefix("SECONDS "))
                    .and_then(|s| s.trim().parse::<f64>().ok())
                {
                    eprintln!(
                        "panopticapi pq_compute: {secs:.2} s; limner is {:.1}x faster (computing mIoU and Boundary IoU too)",
                        secs / ours
                    );
                }
            }
            Ok(o) => eprintln!(
                "panopticapi run failed: {}",
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => eprintln!("panopticapi run failed: {e}"),
        }
    } else {
        eprintln!(
            "no Python with panopticapi (run `cargo test --release --test qa_pq` once, or set LIMNER_QA_BENCH_PYTHON)"
        );
    }

    if n > 100 {
        eprintln!(
            "{n} pairs: criterion sampling skipped (10 samples would take too long); the timing above is the figure"
        );
        return;
    }
    let mut g = c.benchmark_group("qa");
    g.sample_size(10);
    g.bench_function(format!("compare_{n}_pairs_1920x1080"), |b| {
        b.iter(|| run_compare(&gold, &pred))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
