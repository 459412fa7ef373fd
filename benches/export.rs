//! COCO panoptic export of 200 synthetic 1920x1080 images with 30 segments each.
//! Run: `cargo bench --bench export`.

use criterion::{Criterion, criterion_group, criterion_main};
use limner::core::document::{Geometry, ImageDocument, Segment, Source};
use limner::core::formats::coco_panoptic;
use limner::core::geometry::PolygonWithHoles;
use limner::core::ontology::{Color, Ontology};

/// Deterministic pseudo-random numbers (xorshift), so every run exports the same data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A 24-gon ellipse-ish blob, some with a hole.
fn blob(rng: &mut Rng) -> PolygonWithHoles {
    let (cx, cy) = (rng.next() * 1920.0, rng.next() * 1080.0);
    let (rx, ry) = (40.0 + rng.next() * 300.0, 40.0 + rng.next() * 200.0);
    let ring = |s: f64| -> Vec<[f64; 2]> {
        (0..24)
            .map(|k| {
                let a = k as f64 / 24.0 * std::f64::consts::TAU;
                [cx + s * rx * a.cos(), cy + s * ry * a.sin()]
            })
            .collect()
    };
    let holes = if rng.next() < 0.3 {
        vec![ring(0.3)]
    } else {
        vec![]
    };
    PolygonWithHoles {
        outer: ring(1.0),
        holes,
    }
}

fn dataset() -> (Vec<ImageDocument>, Ontology) {
    let mut o = Ontology::default();
    for i in 0..10 {
        o.add(&format!("class{i}"), Color([i * 20, 100, 200]), i % 2 == 0)
            .unwrap();
    }
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let docs = (0..200)
        .map(|i| {
            let mut d = ImageDocument::new(&format!("img{i:04}.jpg"), 1920, 1080);
            d.segments = (1..=30)
                .map(|id| Segment {
                    id,
                    category_id: 1 + (id % 10),
                    geometry: Geometry::Polygons {
                        polygons: vec![blob(&mut rng)],
                    },
                    z: (rng.next() * 5.0) as i32,
                    iscrowd: false,
                    source: Source::Polygon,
                    review: Default::default(),
                    comments: vec![],
                })
                .collect();
            d
        })
        .collect();
    (docs, o)
}

fn bench_export(c: &mut Criterion) {
    let (docs, onto) = dataset();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("panoptic_bench.json");
    let mut g = c.benchmark_group("coco_panoptic_export");
    g.sample_size(10);
    g.bench_function("200 images 1920x1080 x 30 segments", |b| {
        b.iter(|| coco_panoptic::export_documents(docs.clone(), &onto, &json).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench_export);
criterion_main!(benches);
