//! The `sam` backend end to end with a tiny test model pair that has the
//! segment-anything ONNX interface (`tests/fixtures/sam_test/`, written by
//! `make_sam_test_model.py`): its decoder draws a disk of radius 64 (in the 1024 frame)
//! around the first point, mapped back to original pixels as SAM does. A backend that
//! scales coordinates wrongly, swaps x and y, or returns a low-resolution mask fails here.

use std::path::Path;

use limner::core::geometry::BitMask;
use limner::model::{self, Click, Prompts, noc};

fn predictor() -> Box<dyn model::MaskPredictor> {
    let config =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sam_test/sam-test.json");
    model::load_predictor(&config).expect("the test SAM model loads")
}

/// The disk the test decoder should draw for a click at (x, y) on a w x h image.
fn expected_disk(w: u32, h: u32, x: f32, y: f32) -> BitMask {
    let r = 64.0 * w.max(h) as f32 / 1024.0;
    let mut m = BitMask::new(w, h);
    for row in 0..h {
        for col in 0..w {
            let (dx, dy) = (col as f32 + 0.5 - x, row as f32 + 0.5 - y);
            m.set(i64::from(col), i64::from(row), dx * dx + dy * dy <= r * r);
        }
    }
    m
}

fn click_at(x: f32, y: f32) -> Prompts {
    Prompts {
        clicks: vec![Click {
            x,
            y,
            positive: true,
        }],
        ..Default::default()
    }
}

#[test]
fn the_mask_appears_where_clicked_at_full_resolution_on_non_square_images() {
    let mut p = predictor();
    // Landscape and portrait, clicks off-centre so a swapped axis or a wrong per-axis
    // scale moves the disk.
    for (w, h, x, y) in [
        (600u32, 400u32, 450.0f32, 100.0f32),
        (321, 481, 80.5, 400.5),
    ] {
        let img = image::RgbImage::from_fn(w, h, |c, r| {
            image::Rgb([(c % 256) as u8, (r % 256) as u8, 9])
        });
        let pred = p.predict(&img, &click_at(x, y)).unwrap();
        assert_eq!((pred.width, pred.height), (w, h), "full resolution");
        assert_eq!(pred.probability.len(), (w * h) as usize);
        let want = expected_disk(w, h, x, y);
        let differ = want
            .data
            .iter()
            .zip(&pred.mask.data)
            .filter(|(a, b)| a != b)
            .count();
        let iou = noc::iou(&want, &pred.mask);
        eprintln!("{w}x{h} click ({x}, {y}): IoU {iou:.4}, {differ} pixels differ");
        // Only pixels whose centre lies within float rounding of the circle may differ.
        assert!(
            differ <= 4,
            "{differ} pixels differ from the expected disk (IoU {iou:.4})"
        );
        assert!(
            pred.mask.get(x as i64, y as i64),
            "the clicked pixel is inside"
        );
    }
}

#[test]
fn a_box_and_a_previous_mask_are_accepted_and_scribbles_become_points() {
    let mut p = predictor();
    let img = image::RgbImage::from_pixel(300, 200, image::Rgb([10, 20, 30]));
    let mut prompts = click_at(100.0, 50.0);
    prompts.bbox = Some([60.0, 20.0, 160.0, 90.0]);
    let first = p.predict(&img, &prompts).unwrap();
    prompts.previous = Some(first.probability.clone());
    prompts.clicks.clear();
    prompts.strokes.push(model::Stroke {
        points: vec![[200.0, 150.0], [210.0, 150.0], [220.0, 150.0]],
        positive: true,
    });
    prompts.bbox = None;
    let second = p.predict(&img, &prompts).unwrap();
    // The test decoder centres its disk on the first point: the stroke's first vertex.
    assert!(second.mask.get(200, 150) && !second.mask.get(100, 50));
}

#[test]
fn a_previous_mask_of_the_wrong_size_is_a_clear_error() {
    let mut p = predictor();
    let img = image::RgbImage::from_pixel(30, 20, image::Rgb([0, 0, 0]));
    let mut prompts = click_at(5.0, 5.0);
    prompts.previous = Some(vec![0.0; 10]);
    let e = p.predict(&img, &prompts).expect_err("an error").to_string();
    assert!(e.contains("previous mask"), "{e}");
}
