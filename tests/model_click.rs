//! The shipped click model through the runtime code path the app uses
//! (`model::load_predictor` -> ONNX Runtime, located or fetched from PyPI).

use std::path::Path;

use limner::core::geometry::BitMask;
use limner::model::{self, Click, Prompts, Stroke, noc};

/// A textured dark background with a bright ellipse (the object), and its mask.
fn scene() -> (image::RgbImage, BitMask) {
    let (w, h) = (400u32, 300u32);
    let mut gt = BitMask::new(w, h);
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let (dx, dy) = ((x as f32 - 230.0) / 90.0, (y as f32 - 140.0) / 60.0);
        let inside = dx * dx + dy * dy <= 1.0;
        gt.set(i64::from(x), i64::from(y), inside);
        let noise = ((x * 7 + y * 13) % 17) as u8;
        if inside {
            image::Rgb([230 - noise, 190 - noise, 40 + noise])
        } else {
            image::Rgb([40 + noise, 60 + noise, 90 + (x / 8 % 3) as u8 * 10])
        }
    });
    (img, gt)
}

fn predictor() -> Box<dyn model::MaskPredictor> {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/limner-click-v2.json");
    model::load_predictor(&config).expect("the shipped model loads")
}

#[test]
fn one_click_segments_a_high_contrast_object() {
    let (img, gt) = scene();
    let mut p = predictor();
    let click = noc::next_click(&gt, &BitMask::new(gt.width, gt.height)).unwrap();
    let prompts = Prompts {
        clicks: vec![click],
        ..Default::default()
    };
    let pred = p.predict(&img, &prompts).unwrap();
    let iou = noc::iou(&gt, &pred.mask);
    eprintln!("one click: IoU {iou:.3}");
    assert!(iou >= 0.9, "IoU after one click: {iou:.3}");
}

#[test]
fn a_box_and_a_scribble_also_work() {
    let (img, gt) = scene();
    let mut p = predictor();
    let boxed = Prompts {
        bbox: Some([135.0, 75.0, 325.0, 205.0]),
        ..Default::default()
    };
    let iou_box = noc::iou(&gt, &p.predict(&img, &boxed).unwrap().mask);
    eprintln!("box: IoU {iou_box:.3}");
    let scribble = Prompts {
        strokes: vec![Stroke {
            points: vec![[190.0, 140.0], [230.0, 130.0], [270.0, 150.0]],
            positive: true,
        }],
        ..Default::default()
    };
    let iou = noc::iou(&gt, &p.predict(&img, &scribble).unwrap().mask);
    eprintln!("scribble: IoU {iou:.3}");
    assert!(iou >= 0.85, "IoU from a scribble: {iou:.3}");
    assert!(iou_box >= 0.85, "IoU from a box: {iou_box:.3}");
}

#[test]
fn a_negative_click_removes_pixels_and_bad_prompts_are_refused() {
    let (img, gt) = scene();
    let mut p = predictor();
    let first = Prompts {
        clicks: vec![Click {
            x: 230.0,
            y: 140.0,
            positive: true,
        }],
        ..Default::default()
    };
    let a = p.predict(&img, &first).unwrap();
    let mut second = first.clone();
    second.clicks.push(Click {
        x: 290.0,
        y: 140.0,
        positive: false,
    });
    second.previous = Some(a.probability.clone());
    let b = p.predict(&img, &second).unwrap();
    assert!(
        b.mask.area() < a.mask.area(),
        "negative click: {} -> {}",
        a.mask.area(),
        b.mask.area()
    );
    assert!(
        !b.mask.get(290, 140),
        "the negatively clicked pixel is background"
    );
    assert!(noc::iou(&gt, &b.mask) > 0.5);
    assert!(
        p.predict(&img, &Prompts::default()).is_err(),
        "no prompt is an error"
    );
    let wrong_prev = Prompts {
        previous: Some(vec![0.0; 10]),
        ..first
    };
    assert!(
        p.predict(&img, &wrong_prev).is_err(),
        "previous mask of the wrong size is an error"
    );
}
