//! Classical backends at BSDS size (481x321): one prediction each from one click (and a
//! box for GrabCut), one GrabCut iteration separately.

use criterion::{Criterion, criterion_group, criterion_main};
use limner::model::classical::{grabcut, region_grow, superpixel, threshold, watershed};
use limner::model::{Click, MaskPredictor, Prompts};

/// A 481x321 scene: a textured ellipse on a textured, shaded background.
fn scene() -> image::RgbImage {
    image::RgbImage::from_fn(481, 321, |x, y| {
        let (dx, dy) = ((x as f32 - 250.0) / 120.0, (y as f32 - 160.0) / 90.0);
        let noise = ((x * 7 + y * 13) % 23) as u8;
        if dx * dx + dy * dy <= 1.0 {
            image::Rgb([200 - noise, 150 + noise / 2, 60 + noise])
        } else {
            image::Rgb([
                60 + noise + (x / 4) as u8 / 4,
                80 + noise,
                110 + (y / 3) as u8 / 4,
            ])
        }
    })
}

fn click() -> Prompts {
    Prompts {
        clicks: vec![Click {
            x: 250.5,
            y: 160.5,
            positive: true,
        }],
        ..Default::default()
    }
}

fn bench(c: &mut Criterion) {
    let img = scene();
    let p = click();
    let mut g = c.benchmark_group("classical_481x321");
    g.sample_size(10);
    g.measurement_time(std::time::Duration::from_secs(3));
    let mut t = threshold::ThresholdPredictor::new(Default::default());
    g.bench_function("threshold_click", |b| {
        b.iter(|| t.predict(&img, &p).unwrap())
    });
    let mut r = region_grow::RegionGrowPredictor::new(Default::default());
    g.bench_function("region_grow_click", |b| {
        b.iter(|| r.predict(&img, &p).unwrap())
    });
    let mut w = watershed::WatershedPredictor::new(watershed::WatershedParams {
        border_background: true,
        ..Default::default()
    });
    g.bench_function("watershed_click", |b| {
        b.iter(|| w.predict(&img, &p).unwrap())
    });
    let one = grabcut::GrabCutParams {
        iterations: 1,
        ..Default::default()
    };
    let mut gc1 = grabcut::GrabCutPredictor::new(one);
    g.bench_function("grabcut_1_iteration_click", |b| {
        b.iter(|| gc1.predict(&img, &p).unwrap())
    });
    let boxed = Prompts {
        bbox: Some([120.0, 60.0, 380.0, 260.0]),
        ..Default::default()
    };
    g.bench_function("grabcut_1_iteration_box", |b| {
        b.iter(|| gc1.predict(&img, &boxed).unwrap())
    });
    let mut gc = grabcut::GrabCutPredictor::new(Default::default());
    g.bench_function("grabcut_default_3_iterations_click", |b| {
        b.iter(|| gc.predict(&img, &p).unwrap())
    });
    g.bench_function("slic_400", |b| b.iter(|| superpixel::slic(&img, 400, 10.0)));
    let mut sp = superpixel::SuperpixelPredictor::new(Default::default());
    sp.predict(&img, &p).unwrap();
    g.bench_function("superpixel_click_cached_slic", |b| {
        b.iter(|| sp.predict(&img, &p).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
