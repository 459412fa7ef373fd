//! CVAT for images 1.1: masks in CVAT's RLE round-trip pixel for pixel; foreign polygons
//! and masks are read; DOCTYPE / entity bombs and broken RLE are refused naming the field.

mod interop_common;

use interop_common::{compare, fixture_set, shared};
use limner::core::formats::{self, Format};

#[test]
fn fixture_set_and_shared_sample_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let xml = tmp.path().join("annotations.xml");
    formats::write(Format::Cvat, fixture_set(), &xml).unwrap();
    let back = formats::read(Format::Cvat, &xml, None).unwrap();
    let diffs = compare(&fixture_set(), &back);
    assert!(diffs.is_empty(), "{diffs:#?}");

    let src = shared().join("panoptic_examples.json");
    let original = formats::read(Format::CocoPanoptic, &src, None).unwrap();
    let xml2 = tmp.path().join("sample.xml");
    formats::write(
        Format::Cvat,
        formats::read(Format::CocoPanoptic, &src, None).unwrap(),
        &xml2,
    )
    .unwrap();
    let back = formats::read(Format::Cvat, &xml2, None).unwrap();
    let diffs = compare(&original, &back);
    assert!(diffs.is_empty(), "{diffs:#?}");
}

fn write(xml: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("a.xml");
    std::fs::write(&p, xml).unwrap();
    (tmp, p)
}

#[test]
fn foreign_file_with_polygon_and_mask() {
    // A 2x2 mask at (1, 1) with its top-left and bottom-right pixels set: runs 0,1,2,1.
    let (_t, p) = write(
        r#"<?xml version="1.0"?><annotations><version>1.1</version>
        <meta><task><labels><label><name>cat &amp; dog</name></label><label><name>sky</name></label></labels></task></meta>
        <image id="0" name="x.jpg" width="6" height="5">
          <polygon label="sky" occluded="0" points="3,0;6,0;6,3;3,3" z_order="0"/>
          <mask label="cat &amp; dog" rle="0, 1, 2, 1" left="1" top="1" width="2" height="2" z_order="1"></mask>
        </image></annotations>"#,
    );
    let d = formats::read(Format::Cvat, &p, None).unwrap();
    assert_eq!(d.ontology.categories[0].name, "cat & dog");
    let map = d.documents[0].resolve();
    let cat = d.documents[0]
        .segments
        .iter()
        .find(|s| s.category_id == 1)
        .unwrap()
        .id;
    let sky = d.documents[0]
        .segments
        .iter()
        .find(|s| s.category_id == 2)
        .unwrap()
        .id;
    assert_eq!((map.at(1, 1), map.at(2, 2), map.at(2, 1)), (cat, cat, 0));
    assert_eq!(map.ids.iter().filter(|&&i| i == sky).count(), 9);
}

#[test]
fn bad_xml_is_refused() {
    let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
        <annotations><image id="0" name="&lol2;" width="4" height="4"/></annotations>"#;
    let (_t, p) = write(bomb);
    let e = formats::read(Format::Cvat, &p, None)
        .map(|_| ())
        .expect_err("bomb")
        .to_string();
    assert!(e.contains("a.xml") && e.contains("DOCTYPE"), "{e}");
    let (_t, p) = write(
        r#"<annotations><image id="0" name="x.jpg" width="4" height="4">
        <mask label="a" rle="1, 2" left="0" top="0" width="2" height="2"/></image></annotations>"#,
    );
    let e = formats::read(Format::Cvat, &p, None)
        .map(|_| ())
        .expect_err("rle")
        .to_string();
    assert!(
        e.contains("images[0].shapes[0]") && e.contains("covers 3 pixels"),
        "{e}"
    );
    let (_t, p) = write(
        r#"<annotations><image id="0" name="x.jpg" width="4" height="4">
        <polygon label="a" points="0,0;NaN,1;2,2"/></image></annotations>"#,
    );
    let e = formats::read(Format::Cvat, &p, None)
        .map(|_| ())
        .expect_err("nan")
        .to_string();
    assert!(
        e.contains("images[0].shapes[0]") && e.contains("not finite"),
        "{e}"
    );
    let (_t, p) =
        write(r#"<annotations><image id="0" name="../x.jpg" width="4" height="4"/></annotations>"#);
    let e = formats::read(Format::Cvat, &p, None)
        .map(|_| ())
        .expect_err("path")
        .to_string();
    assert!(e.contains("images[0]@name") && e.contains("unsafe"), "{e}");
}
