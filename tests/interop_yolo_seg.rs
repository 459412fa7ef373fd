//! yolo-seg: holes and multi-part instances are joined by paths walked there and back
//! (counted); the labels import back (with OpenCV's rule, as Ultralytics reads them) to
//! the same pixels except exactly those the export reported as inexpressible; bad label
//! lines are refused naming the file and the line.

mod interop_common;

use std::collections::{HashMap, HashSet};

use interop_common::{fixture_set, shared};
use limner::core::fill_rule::FillRule;
use limner::core::formats::{self, Dataset, Format, roundtrip, yolo_seg};

/// Reads the export back and compares with `original`: only reported pixels may change.
fn check_back(
    original: &Dataset,
    out: &std::path::Path,
    inexpressible: &[yolo_seg::Inexpressible],
) -> roundtrip::RoundtripReport {
    let mut reported: HashMap<String, HashSet<[u32; 2]>> = HashMap::new();
    for x in inexpressible {
        reported
            .entry(x.image.clone())
            .or_default()
            .extend(x.at.iter().copied());
    }
    let back = formats::read(Format::YoloSeg, out, None).unwrap();
    let r = roundtrip::compare(original, &back, Format::YoloSeg, &reported);
    assert!(!r.failed(), "{:#?}", r.details);
    assert_eq!(r.changed_pixels, r.reported_pixels);
    assert_eq!(
        (
            r.lost_segments,
            r.lost_holes,
            r.changed_classes,
            r.changed_iscrowd
        ),
        (0, 0, 0, 0)
    );
    r
}

#[test]
fn fixture_set_round_trips_and_reports_cuts() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("yolo");
    let fx = fixture_set();
    let r = yolo_seg::export_documents(&fx.documents, &fx.ontology, &out).unwrap();
    // Segment 1 has a hole, segment 3 two parts, the crowd checkerboard many parts.
    assert!(r.bridged_holes >= 1 && r.bridged_parts >= 2, "{r:?}");
    // Segment 3's two parts are joined across the background: those pixels are reported.
    assert!(
        r.inexpressible.iter().any(|x| x.segment == 3),
        "{:?}",
        r.inexpressible
    );
    check_back(&fixture_set(), &out, &r.inexpressible);
    // Read with Limner's own rule instead, the pixel-centre polygons lose their border.
    let ours = formats::read_with(Format::YoloSeg, &out, None, Some(FillRule::Limner)).unwrap();
    let r2 = roundtrip::compare(&fixture_set(), &ours, Format::YoloSeg, &HashMap::new());
    assert!(
        r2.failed() && r2.changed_pixels > 100,
        "{}",
        r2.changed_pixels
    );
    // Every label value is normalized, the class index is 0-based.
    let text = std::fs::read_to_string(out.join("labels/scene/a.txt")).unwrap();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let c: u32 = it.next().unwrap().parse().unwrap();
        assert!(c < 4);
        let v: Vec<f64> = it.map(|t| t.parse().unwrap()).collect();
        assert!(v.len().is_multiple_of(2) && v.iter().all(|x| (0.0..=1.0).contains(x)));
    }
    let yaml = std::fs::read_to_string(out.join("data.yaml")).unwrap();
    assert!(yaml.contains("  3: \"class-65535\""), "{yaml}");
}

#[test]
fn shared_sample_round_trips_through_yolo() {
    let src = shared().join("panoptic_examples.json");
    let original = formats::read(Format::CocoPanoptic, &src, None).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("yolo");
    let data = formats::read(Format::CocoPanoptic, &src, None).unwrap();
    let r = formats::write(Format::YoloSeg, data, &out).unwrap();
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("walked there and back")),
        "{:?}",
        r.warnings
    );
    let rt = check_back(&original, &out, &r.inexpressible);
    // 493 779 labeled pixels; the old pixel-edge export changed 25 214 of them under
    // Ultralytics' rule. Now only the paths joining separate parts remain.
    assert!(rt.changed_pixels < 1000, "{}", rt.changed_pixels);
}

#[test]
fn bad_label_lines_name_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("yolo");
    formats::write(Format::YoloSeg, fixture_set(), &out).unwrap();
    let label = out.join("labels/b.txt");
    let good = std::fs::read_to_string(&label).unwrap();
    for (bad, want) in [
        ("0 0.1 0.1 0.5 0.1 0.5", "even number"),
        ("0 0.1 0.1 nan 0.1 0.5 0.5", "\"nan\""),
        ("0 0.1 0.1 1.5 0.1 0.5 0.5", "\"1.5\""),
        ("9 0.1 0.1 0.5 0.1 0.5 0.5", "class index 9"),
    ] {
        std::fs::write(&label, format!("{good}{bad}\n")).unwrap();
        let e = formats::read(Format::YoloSeg, &out, None)
            .map(|_| ())
            .expect_err(bad)
            .to_string();
        let line = format!("line {}", good.lines().count() + 1);
        assert!(
            e.contains("b.txt") && e.contains(&line) && e.contains(want),
            "{e}"
        );
    }
}
