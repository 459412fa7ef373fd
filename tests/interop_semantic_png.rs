//! semantic-png: class maps survive pixel for pixel with the same ontology ids (16-bit
//! PNGs when ids exceed 255); unknown pixel values are refused naming the PNG.

mod interop_common;

use interop_common::{compare_classes, fixture_set, shared};
use limner::core::formats::{self, Format};

#[test]
fn fixture_set_round_trips_classes_with_16_bit_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sem");
    formats::write(Format::SemanticPng, fixture_set(), &out).unwrap();
    // Independent read of the PNG: 16-bit, and class 65535 is present.
    let img = image::open(out.join("scene/a.png")).unwrap();
    let g = img.as_luma16().expect("16-bit grayscale");
    assert!(g.pixels().any(|p| p[0] == 65535));
    let back = formats::read(Format::SemanticPng, &out, None).unwrap();
    let diffs = compare_classes(&fixture_set(), &back);
    assert!(diffs.is_empty(), "{diffs:#?}");
    let fx = fixture_set();
    for c in &fx.ontology.categories {
        let b = back.ontology.get(c.id).expect("same ontology ids");
        assert_eq!((&b.name, b.isthing), (&c.name, c.isthing));
    }
    // Original image names come back (scene/a.jpg, not scene/a.png).
    assert!(
        back.documents
            .iter()
            .any(|d| d.image.file_name == "scene/a.jpg")
    );
}

#[test]
fn shared_sample_classes_survive_in_8_bit() {
    let src = shared().join("panoptic_examples.json");
    let data = formats::read(Format::CocoPanoptic, &src, None).unwrap();
    let original = formats::read(Format::CocoPanoptic, &src, None).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sem");
    formats::write(Format::SemanticPng, data, &out).unwrap();
    let back = formats::read(Format::SemanticPng, &out, None).unwrap();
    let diffs = compare_classes(&original, &back);
    assert!(diffs.is_empty(), "{diffs:#?}");
    let d0 = &back.documents[0];
    let png = out.join(std::path::Path::new(&d0.image.file_name).with_extension("png"));
    assert!(
        image::open(png).unwrap().as_luma8().is_some(),
        "ids <= 255 use 8 bits"
    );
}

#[test]
fn pixel_value_without_class_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sem");
    formats::write(Format::SemanticPng, fixture_set(), &out).unwrap();
    // Overwrite one PNG with a value the class map does not list.
    let mut img = image::open(out.join("b.png")).unwrap().to_luma16();
    img.put_pixel(3, 3, image::Luma([77u16]));
    img.save(out.join("b.png")).unwrap();
    let e = formats::read(Format::SemanticPng, &out, None)
        .map(|_| ())
        .expect_err("refused")
        .to_string();
    assert!(
        e.contains("b.png") && e.contains("77") && e.contains("no class"),
        "{e}"
    );
}
