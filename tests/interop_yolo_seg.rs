//! yolo-seg: holes and multi-part instances are joined by zero-width cuts (counted), and
//! the labels import back to exactly the same pixels; bad label lines are refused naming
//! the file and the line.

mod interop_common;

use interop_common::{compare, fixture_set, shared};
use limner::core::formats::{self, Format, yolo_seg};

#[test]
fn fixture_set_round_trips_and_reports_cuts() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("yolo");
    let fx = fixture_set();
    let r = yolo_seg::export_documents(&fx.documents, &fx.ontology, &out).unwrap();
    // Segment 1 has a hole, segment 3 two parts, the crowd checkerboard many parts.
    assert!(r.bridged_holes >= 1 && r.bridged_parts >= 2, "{r:?}");
    let back = formats::read(Format::YoloSeg, &out, None).unwrap();
    let diffs = compare(&fixture_set(), &back);
    assert!(diffs.is_empty(), "{diffs:#?}");
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
        r.warnings.iter().any(|w| w.contains("zero-width")),
        "{:?}",
        r.warnings
    );
    let back = formats::read(Format::YoloSeg, &out, None).unwrap();
    let diffs = compare(&original, &back);
    assert!(diffs.is_empty(), "{diffs:#?}");
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
