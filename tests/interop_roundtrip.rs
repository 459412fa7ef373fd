//! `limner roundtrip` and the comparison behind it: lossless formats report zero change
//! on the shared sample and the fixture set; tampering is detected and counted.

mod interop_common;

use std::process::Command;

use interop_common::{fixture_set, shared};
use limner::core::document::Geometry;
use limner::core::formats::{self, Format, roundtrip};
use limner::core::geometry::PolygonWithHoles;

fn limner(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_limner"))
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn cli_roundtrip_of_shared_sample() {
    let json = shared().join("panoptic_examples.json");
    let json = json.to_str().unwrap();
    for format in [
        "coco-instance",
        "coco-panoptic",
        "semantic-png",
        "voc",
        "yolo-seg",
        "cvat",
        "labelme",
    ] {
        let (code, text) = limner(&["roundtrip", "--format", format, json]);
        assert_eq!(code, 0, "{format}: {text}");
        assert!(text.contains("segments        50"), "{format}: {text}");
        if format == "yolo-seg" {
            // Read back as Ultralytics does: only the pixels the export reported as
            // inexpressible (paths joining separate parts of one segment) change.
            let changed = text
                .lines()
                .find_map(|l| l.strip_prefix("changed pixels  "))
                .unwrap();
            assert!(
                text.contains(&format!("of which       {changed} reported")),
                "{text}"
            );
            assert!(text.contains("reader          opencv"), "{text}");
            // With Limner's own rule the pixel-centre polygons do change: exit 1.
            let (code, text) =
                limner(&["roundtrip", "--format", format, "--reader", "limner", json]);
            assert_eq!(code, 1, "{text}");
            // A reader for a format without polygons is bad input.
            let (code, text) = limner(&["roundtrip", "--format", "voc", "--reader", "pil", json]);
            assert_eq!(code, 2, "{text}");
        } else {
            assert!(text.contains("changed pixels  0"), "{format}: {text}");
        }
    }
    // A CVAT file is recognised by its extension.
    let tmp = tempfile::tempdir().unwrap();
    let xml = tmp.path().join("a.xml");
    let data = formats::read(
        Format::CocoPanoptic,
        &shared().join("panoptic_examples.json"),
        None,
    )
    .unwrap();
    formats::write(Format::Cvat, data, &xml).unwrap();
    let (code, text) = limner(&["roundtrip", "--format", "voc", xml.to_str().unwrap()]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("changed pixels  0") && text.contains("segments        50"),
        "{text}"
    );
    let (code, text) = limner(&[
        "roundtrip",
        "--format",
        "coco-instance",
        "/nonexistent.json",
    ]);
    assert_eq!(code, 2, "{text}");
}

#[test]
fn tampering_is_detected_and_counted() {
    let before = fixture_set();
    let r = roundtrip::compare(
        &before,
        &fixture_set(),
        Format::CocoInstance,
        &Default::default(),
    );
    assert!(!r.failed(), "{:?}", r.details);
    assert_eq!(r.segments, 8);

    let mut after = fixture_set();
    let a = &mut after.documents[0];
    // Fill the hole of segment 1, change the class of 2, flip iscrowd of 6, drop 3.
    if let Geometry::Polygons { polygons } = &mut a.segment_mut(1).unwrap().geometry {
        polygons[0] = PolygonWithHoles {
            outer: polygons[0].outer.clone(),
            holes: vec![],
        };
    }
    a.segment_mut(2).unwrap().category_id = 300;
    a.segment_mut(6).unwrap().iscrowd = false;
    a.segments.retain(|s| s.id != 3);
    let r = roundtrip::compare(&before, &after, Format::CocoInstance, &Default::default());
    assert!(r.failed());
    assert_eq!(
        (
            r.lost_segments,
            r.lost_holes,
            r.changed_classes,
            r.changed_iscrowd
        ),
        (1, 1, 1, 1),
        "{:?}",
        r.details
    );
    // The filled hole (6 x 7 px) + the visible pixels of the removed segment 3.
    let visible3 = before.documents[0]
        .resolve()
        .ids
        .iter()
        .filter(|&&i| i == 3)
        .count() as u64;
    assert!(visible3 > 0);
    assert_eq!(r.changed_pixels, 42 + visible3, "{:?}", r.details);
    // For a class-only format the same change counts pixels whose class changed.
    let r = roundtrip::compare(&before, &after, Format::SemanticPng, &Default::default());
    assert!(r.failed() && r.changed_pixels > 0);
}
