//! coco-instance -> coco-panoptic and back on generated 1920x1080 images with 40
//! segments each (scaled down from the 2000 images to `LIMNER_BENCH_IMAGES`,
//! default 20, for a 2-core machine). The input is written once to
//! `target/bench-convert/instances.json`, where `tests/oracle/bench_convert.py` (the
//! pycocotools baseline) reads the same data.
//! Run: `cargo bench --bench convert`.

use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};
use limner::core::document::{Geometry, ImageDocument, Segment, Source};
use limner::core::formats::{self, Dataset, Format};
use limner::core::geometry::PolygonWithHoles;
use limner::core::ontology::{Color, Ontology};

/// Linear congruential numbers in [0, 1) (deterministic input every run).
struct Lcg(u64);
impl Lcg {
    fn unit(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(2862933555777941757)
            .wrapping_add(3037000493);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A star-shaped 16-gon, a quarter of them with a star-shaped hole.
fn star(g: &mut Lcg) -> PolygonWithHoles {
    let with_hole = g.unit() < 0.25;
    let (cx, cy, r) = (
        g.unit() * 1920.0,
        g.unit() * 1080.0,
        30.0 + g.unit() * 220.0,
    );
    let mut ring = |scale: f64| -> Vec<[f64; 2]> {
        (0..16)
            .map(|k| {
                let t = k as f64 * std::f64::consts::TAU / 16.0;
                let rr = scale * r * (0.6 + 0.4 * g.unit());
                [cx + rr * t.cos(), cy + rr * t.sin()]
            })
            .collect()
    };
    let outer = ring(1.0);
    let holes = if with_hole { vec![ring(0.3)] } else { vec![] };
    PolygonWithHoles { outer, holes }
}

fn generated(images: usize) -> Dataset {
    let mut ontology = Ontology::default();
    for c in 0..12u8 {
        ontology
            .add(&format!("c{c}"), Color([c * 20, 50, 90]), c % 3 != 0)
            .unwrap();
    }
    let mut g = Lcg(12345);
    let documents = (0..images)
        .map(|i| {
            let mut d = ImageDocument::new(&format!("im{i:05}.jpg"), 1920, 1080);
            for id in 1..=40u32 {
                let mut s = Segment::new(
                    id,
                    1 + id % 12,
                    Geometry::Polygons {
                        polygons: vec![star(&mut g)],
                    },
                    Source::Polygon,
                );
                s.iscrowd = id % 13 == 0;
                d.segments.push(s);
            }
            d
        })
        .collect();
    Dataset {
        ontology,
        documents,
        images_dir: PathBuf::from("."),
        name: "bench".into(),
    }
}

fn bench(c: &mut Criterion) {
    let n: usize = std::env::var("LIMNER_BENCH_IMAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-convert");
    let inst = root.join("instances.json");
    let pan = root.join("panoptic.json");
    let back = root.join("back/instances.json");
    formats::write(Format::CocoInstance, generated(n), &inst).unwrap();
    let mut group = c.benchmark_group(format!("convert {n} images 1920x1080 x 40 segments"));
    group.sample_size(10);
    group.bench_function("coco-instance -> coco-panoptic", |b| {
        b.iter(|| {
            let d = formats::read(Format::CocoInstance, &inst, None).unwrap();
            formats::write(Format::CocoPanoptic, d, &pan).unwrap();
        })
    });
    group.bench_function("coco-panoptic -> coco-instance", |b| {
        b.iter(|| {
            let d = formats::read(Format::CocoPanoptic, &pan, None).unwrap();
            formats::write(Format::CocoInstance, d, &back).unwrap();
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
