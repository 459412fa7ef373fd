//! VOC: SegmentationClass / SegmentationObject palette PNGs with 255 = void; a Limner
//! export imports back unchanged; other tools' VOC (no sidecar) keeps instances and
//! classes; unknown palette indices are refused naming the PNG.

mod interop_common;

use interop_common::{compare, fixture_set, shared};
use limner::core::formats::{self, Format, classmap::ClassMap};

#[test]
fn fixture_set_round_trips_with_void_255() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("voc");
    formats::write(Format::Voc, fixture_set(), &out).unwrap();
    let back = formats::read(Format::Voc, &out, None).unwrap();
    let diffs = compare(&fixture_set(), &back);
    assert!(diffs.is_empty(), "{diffs:#?}");
    // Independent look at the PNG: palette image, void pixels are index 255, class 65535
    // became a small VOC index listed in the class map.
    let bytes = std::fs::read(out.join("SegmentationClass/scene/a.png")).unwrap();
    let mut dec = png::Decoder::new(std::io::Cursor::new(bytes));
    dec.set_transformations(png::Transformations::IDENTITY);
    let mut rd = dec.read_info().unwrap();
    assert_eq!(rd.info().color_type, png::ColorType::Indexed);
    let mut buf = vec![0; rd.output_buffer_size().unwrap()];
    rd.next_frame(&mut buf).unwrap();
    let map = fixture_set().documents[0].resolve();
    for (i, &id) in map.ids.iter().enumerate() {
        assert_eq!(id == 0, buf[i] == 255, "pixel {i}");
    }
    let cm = ClassMap::load(&out.join("classmap.json")).unwrap();
    assert_eq!(cm.void.format_value, serde_json::json!(255));
    let v = cm
        .classes
        .iter()
        .find(|c| c.ontology_id == 65535)
        .unwrap()
        .format_id;
    assert!(v < 255 && buf.contains(&(v as u8)));
}

#[test]
fn shared_sample_round_trips_through_voc() {
    let src = shared().join("panoptic_examples.json");
    let original = formats::read(Format::CocoPanoptic, &src, None).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("voc");
    formats::write(
        Format::Voc,
        formats::read(Format::CocoPanoptic, &src, None).unwrap(),
        &out,
    )
    .unwrap();
    let back = formats::read(Format::Voc, &out, None).unwrap();
    let diffs = compare(&original, &back);
    assert!(diffs.is_empty(), "{diffs:#?}");
}

#[test]
fn foreign_voc_without_sidecar_and_bad_index() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("voc");
    formats::write(Format::Voc, fixture_set(), &out).unwrap();
    // Without Limner's sidecar: instances and classes still come back (ids renumbered,
    // crowd flags lost), so the class of every pixel is unchanged.
    std::fs::remove_file(out.join(limner::core::formats::voc::SIDECAR)).unwrap();
    let back = formats::read(Format::Voc, &out, None).unwrap();
    // VOC names images JPEGImages/<stem>.jpg.
    let mut expect = fixture_set();
    for d in &mut expect.documents {
        d.image.file_name = std::path::Path::new(&d.image.file_name)
            .with_extension("jpg")
            .to_string_lossy()
            .into_owned();
    }
    let diffs = interop_common::compare_classes(&expect, &back);
    assert!(diffs.is_empty(), "{diffs:#?}");
    let visible = fixture_set().documents[0].resolve().stats().len();
    let d = back
        .documents
        .iter()
        .find(|d| d.image.file_name == "scene/a.jpg")
        .unwrap();
    assert_eq!(d.segments.len(), visible);
    // A palette index the class map does not list is refused, naming the PNG.
    let p = out.join("SegmentationClass/b.png");
    let img = image::GrayImage::from_pixel(50, 33, image::Luma([200u8]));
    img.save(&p).unwrap();
    let e = formats::read(Format::Voc, &out, None)
        .map(|_| ())
        .expect_err("refused")
        .to_string();
    assert!(
        e.contains("b.png") && e.contains("palette index 200"),
        "{e}"
    );
}
