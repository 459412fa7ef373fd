//! LabelMe: mask shapes (base64 PNG) round-trip pixel for pixel; foreign polygon,
//! rectangle, circle and grouped shapes are read; bad input names the file and field.

mod interop_common;

use base64::Engine as _;
use interop_common::{compare, fixture_set, shared};
use limner::core::fill_rule::FillRule;
use limner::core::formats::{self, Format};

#[test]
fn fixture_set_and_shared_sample_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("lm");
    formats::write(Format::Labelme, fixture_set(), &out).unwrap();
    let back = formats::read(Format::Labelme, &out, None).unwrap();
    let diffs = compare(&fixture_set(), &back);
    assert!(diffs.is_empty(), "{diffs:#?}");
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("scene/a.json")).unwrap()).unwrap();
    assert_eq!(v["imagePath"], "a.jpg");
    assert!(v["imageData"].is_null());

    let src = shared().join("panoptic_examples.json");
    let original = formats::read(Format::CocoPanoptic, &src, None).unwrap();
    let out2 = tmp.path().join("lm2");
    formats::write(
        Format::Labelme,
        formats::read(Format::CocoPanoptic, &src, None).unwrap(),
        &out2,
    )
    .unwrap();
    let back = formats::read(Format::Labelme, &out2, None).unwrap();
    let diffs = compare(&original, &back);
    assert!(diffs.is_empty(), "{diffs:#?}");
}

fn write(dir: &std::path::Path, name: &str, v: serde_json::Value) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, serde_json::to_vec(&v).unwrap()).unwrap();
}

fn file(shapes: serde_json::Value, image_path: &str) -> serde_json::Value {
    serde_json::json!({"version": "5.2.1", "flags": {}, "shapes": shapes, "imagePath": image_path,
                       "imageData": null, "imageHeight": 10, "imageWidth": 12})
}

#[test]
fn foreign_shapes_are_read() {
    let tmp = tempfile::tempdir().unwrap();
    // A 2x1 mask PNG with its left pixel set.
    let mut png = Vec::new();
    image::GrayImage::from_raw(2, 1, vec![255, 0])
        .unwrap()
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
    write(
        tmp.path(),
        "sub/x.json",
        file(
            serde_json::json!([
                {"label": "box", "points": [[6, 4], [2, 1]], "shape_type": "rectangle", "group_id": null, "flags": {}},
                {"label": "disc", "points": [[8, 6], [10, 6]], "shape_type": "circle", "group_id": 7, "flags": {}},
                {"label": "disc", "points": [[0, 8], [0, 7]], "shape_type": "mask", "group_id": 7, "flags": {}, "mask": b64},
                {"label": "tri", "points": [[0, 0], [2, 0], [0, 2]], "group_id": null, "flags": {}}
            ]),
            "../images/x.jpg",
        ),
    );
    let d = formats::read(Format::Labelme, tmp.path(), None).unwrap();
    let doc = &d.documents[0];
    assert_eq!(doc.image.file_name, "images/x.jpg");
    let map = doc.resolve();
    let area = |id: u32| map.ids.iter().filter(|&&i| i == id).count();
    let by_class = |name: &str| {
        let c = d
            .ontology
            .categories
            .iter()
            .find(|c| c.name == name)
            .unwrap()
            .id;
        doc.segments.iter().find(|s| s.category_id == c).unwrap().id
    };
    // LabelMe fills a rectangle with PIL: both corners' rows and columns included.
    assert_eq!(area(by_class("box")), 5 * 4);
    // Disc of radius 2 at (8, 6): 12 pixel centres inside, plus the one mask pixel.
    assert_eq!(by_class("disc"), 7, "group_id becomes the segment id");
    assert_eq!(area(7), 12 + 1);
    assert_eq!(map.at(0, 8), 7);
    assert_eq!(doc.segments.len(), 3);
    // Limner's own rule on request: pixel centres inside the box only.
    let ours =
        formats::read_with(Format::Labelme, tmp.path(), None, Some(FillRule::Limner)).unwrap();
    let map = ours.documents[0].resolve();
    assert_eq!(
        map.ids.iter().filter(|&&i| i == by_class("box")).count(),
        4 * 3
    );
}

#[test]
fn bad_input_names_file_and_field() {
    let cases = [
        (file(serde_json::json!([]), "../../etc/passwd"), "imagePath"),
        (
            file(
                serde_json::json!([{"label": "a", "points": [[0, 0], [1, 1]], "shape_type": "polygon"}]),
                "x.jpg",
            ),
            "shapes[0]",
        ),
        (
            file(
                serde_json::json!([{"label": "a", "points": [[0, 0]], "shape_type": "point"}]),
                "x.jpg",
            ),
            "no area",
        ),
        (
            file(
                serde_json::json!([{"label": "a", "points": [[0, 0], [1, 1]], "shape_type": "mask", "mask": "%%%"}]),
                "x.jpg",
            ),
            "base64",
        ),
    ];
    for (v, want) in cases {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), "x.json", v);
        let e = formats::read(Format::Labelme, tmp.path(), None)
            .map(|_| ())
            .expect_err(want)
            .to_string();
        assert!(e.contains("x.json") && e.contains(want), "{e}");
    }
}
