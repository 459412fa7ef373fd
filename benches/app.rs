//! App performance (issue #4): frame time with 1000 polygons of 100 vertices over a
//! 24 MP image (UI pass + tessellation of the canvas shapes), and a brush stroke of 200
//! samples on the same image: the per-sample work while dragging, and the commit at
//! release (edit + region resolve + overlay update of the touched rectangle) and its undo.
//!
//! `cargo bench --bench app`

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use egui_kittest::Harness;
use limner::app::LimnerApp;
use limner::app::canvas::Tool;
use limner::core::document::{Geometry, ImageDocument, Segment, Source};
use limner::core::edit::paint::{BrushMode, BrushTarget, brush_edit, stamp_line};
use limner::core::geometry::{BitMask, PolygonWithHoles};
use limner::core::ontology::Color;
use limner::core::project::Project;

const W: u32 = 6000;
const H: u32 = 4000;

/// A 24 MP project with 1000 wobbly 100-vertex polygons on a 40 x 25 grid.
fn project(dir: &std::path::Path) -> Project {
    let img = image::RgbImage::from_fn(W, H, |x, y| {
        image::Rgb([(x / 24) as u8, (y / 16) as u8, 90])
    });
    let f = std::fs::File::create(dir.join("big.png")).unwrap();
    let enc = image::codecs::png::PngEncoder::new_with_quality(
        std::io::BufWriter::new(f),
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::NoFilter,
    );
    img.write_with_encoder(enc).unwrap();
    let mut p = Project::open(dir).unwrap();
    let class = p.ontology.add("part", Color([30, 160, 220]), true).unwrap();
    p.save_ontology().unwrap();
    let mut doc = ImageDocument::new("big.png", W, H);
    for i in 0..1000u32 {
        let (cx, cy) = (
            75.0 + 150.0 * (i % 40) as f64,
            80.0 + 160.0 * (i / 40) as f64,
        );
        let outer = (0..100)
            .map(|k| {
                let t = k as f64 / 100.0 * std::f64::consts::TAU;
                let r = 55.0 + 10.0 * (5.0 * t + i as f64).sin();
                [cx + r * t.cos(), cy + r * t.sin()]
            })
            .collect();
        doc.segments.push(Segment::new(
            i + 1,
            class,
            Geometry::Polygons {
                polygons: vec![PolygonWithHoles {
                    outer,
                    holes: vec![],
                }],
            },
            Source::Polygon,
        ));
    }
    p.save_document(&doc).unwrap();
    p
}

/// Takes each frame's texture uploads and drops them, as a GPU backend consumes them.
/// (Without a renderer the harness keeps every upload since the start; partial updates,
/// unlike whole-texture ones, do not replace each other, so that would hoard gigabytes
/// over a benchmark's iterations.)
struct DropTextures;

impl egui_kittest::TestRenderer for DropTextures {
    fn handle_delta(&mut self, delta: &mut egui::TexturesDelta) {
        delta.clear();
    }
}

fn harness(p: Project) -> Harness<'static, LimnerApp> {
    let app = LimnerApp::new(p, None);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .renderer(DropTextures)
        .build_eframe(|_| app);
    let start = Instant::now();
    while !h.state().canvas.has_image() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "image never decoded"
        );
        std::thread::sleep(Duration::from_millis(20));
        h.step();
    }
    h.step();
    h
}

fn frame(h: &mut Harness<'_, LimnerApp>) -> usize {
    h.step();
    let out = h.output();
    let prims = h.ctx.tessellate(out.shapes.clone(), out.pixels_per_point);
    prims.len()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(project(dir.path()));
    let mut g = c.benchmark_group("app_24mp_1000_polygons");
    g.sample_size(20).measurement_time(Duration::from_secs(8));
    g.bench_function("frame_select_tool", |b| b.iter(|| frame(&mut h)));
    // A selected polygon shows its 100 vertices as handles.
    h.state_mut().canvas.selected = Some(500);
    g.bench_function("frame_polygon_selected", |b| b.iter(|| frame(&mut h)));
    h.state_mut().canvas.selected = None;

    // Brush: per-sample work while dragging (stamping into the stroke mask).
    let path: Vec<[f32; 2]> = (0..200)
        .map(|i| {
            [
                300.0 + 25.0 * i as f32,
                2000.0 + 300.0 * (i as f32 / 10.0).sin(),
            ]
        })
        .collect();
    g.bench_function("brush_200_samples_stamp", |b| {
        b.iter(|| {
            let mut m = BitMask::new(W, H);
            for w in path.windows(2) {
                stamp_line(&mut m, w[0], w[1], 20.0);
            }
            m
        })
    });
    let mut stroke = BitMask::new(W, H);
    for w in path.windows(2) {
        stamp_line(&mut stroke, w[0], w[1], 20.0);
    }
    // Brush: the commit at release (edit, region resolve, overlay update on the next
    // frame), then its undo (the same work again), in protect and overwrite modes.
    g.finish();
    let mut g = c.benchmark_group("app_24mp_1000_polygons_commit");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    h.state_mut().canvas.tool = Tool::Brush;
    let class = h.state().active_class.expect("a class");
    for (name, mode) in [
        ("brush_commit_and_undo_protect", BrushMode::Protect),
        ("brush_commit_and_undo_overwrite", BrushMode::Overwrite),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let app = h.state_mut();
                let s = app.session.as_mut().unwrap();
                let e = brush_edit(
                    &s.doc,
                    &s.label_map,
                    &stroke,
                    BrushTarget::New { category_id: class },
                    mode,
                )
                .expect("the stroke paints something");
                s.apply(e);
                frame(&mut h);
                h.state_mut().session.as_mut().unwrap().undo();
                frame(&mut h)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
