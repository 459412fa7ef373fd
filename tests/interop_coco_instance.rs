//! COCO instance import / export: the generated fixture set and the shared COCO panoptic
//! sample survive coco-instance pixel for pixel, with classes, iscrowd and segment ids;
//! bad input is refused naming the file and the field.

mod interop_common;

use std::path::Path;

use interop_common::{compare, fixture_set, shared};
use limner::core::formats::{self, Format, classmap::ClassMap};

fn export_import(data: formats::Dataset, dir: &Path) -> (formats::Dataset, formats::WriteReport) {
    let json = dir.join("instances.json");
    let r = formats::write(Format::CocoInstance, data, &json).unwrap();
    (formats::read(Format::CocoInstance, &json, None).unwrap(), r)
}

#[test]
fn fixture_set_round_trips_pixel_for_pixel() {
    let tmp = tempfile::tempdir().unwrap();
    let (back, report) = export_import(fixture_set(), tmp.path());
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let diffs = compare(&fixture_set(), &back);
    assert!(diffs.is_empty(), "{diffs:#?}");
    // The crowd segment is written as uncompressed RLE, as COCO does.
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("instances.json")).unwrap()).unwrap();
    let crowd: Vec<&serde_json::Value> = v["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["iscrowd"] == 1)
        .collect();
    assert_eq!(crowd.len(), 1);
    assert!(crowd[0]["segmentation"]["counts"].is_array());
    let n_poly = v["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["segmentation"].is_array())
        .count();
    eprintln!("{} annotations, {n_poly} as polygons", report.segments);
    // Area is the pixel count of the written mask.
    let fx = fixture_set();
    let map = fx.documents[0].resolve();
    for a in v["annotations"].as_array().unwrap() {
        if a["image_id"] == v["images"][0]["id"] {
            let id = a["limner_segment_id"].as_u64().unwrap() as u32;
            let area = map.ids.iter().filter(|&&x| x == id).count() as f64;
            assert_eq!(a["area"].as_f64().unwrap(), area, "segment {id}");
        }
    }
    // The class-id map beside the export lists every class, ids unchanged.
    let cm = ClassMap::load(&tmp.path().join("instances.json.classmap.json")).unwrap();
    for c in &fx.ontology.categories {
        assert_eq!(cm.ontology_id(c.id), Some(c.id));
    }
}

#[test]
fn shared_panoptic_sample_through_coco_instance_equals_original() {
    let src = shared().join("panoptic_examples.json");
    let images = shared().join("images");
    let original = formats::read(Format::CocoPanoptic, &src, Some(&images)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (back, report) = export_import(
        formats::read(Format::CocoPanoptic, &src, Some(&images)).unwrap(),
        tmp.path(),
    );
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(report.segments, 50);
    let diffs = compare(&original, &back);
    assert!(diffs.is_empty(), "{diffs:#?}");
    // And back to panoptic: the PNGs equal the originals pixel for pixel.
    let out = tmp.path().join("panoptic_back.json");
    formats::write(Format::CocoPanoptic, back, &out).unwrap();
    let src_v: serde_json::Value = serde_json::from_slice(&std::fs::read(&src).unwrap()).unwrap();
    for ann in src_v["annotations"].as_array().unwrap() {
        let name = ann["file_name"].as_str().unwrap();
        let a = image::open(shared().join("panoptic_examples").join(name))
            .unwrap()
            .to_rgb8();
        let b = image::open(out.with_extension("").join(name))
            .unwrap()
            .to_rgb8();
        assert!(
            a == b,
            "{name} differs after panoptic -> coco-instance -> panoptic"
        );
    }
}

/// Writes `json` and returns the error text of reading it as COCO instance.
fn import_error(json: serde_json::Value) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("bad.json");
    std::fs::write(&p, serde_json::to_vec(&json).unwrap()).unwrap();
    match formats::read(Format::CocoInstance, &p, None) {
        Ok(_) => panic!("accepted bad input {json}"),
        Err(e) => e.to_string(),
    }
}

fn file_with(segmentation: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "images": [{"id": 1, "file_name": "a.jpg", "width": 4, "height": 3}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0,
                         "segmentation": segmentation}],
        "categories": [{"id": 1, "name": "a"}]
    })
}

#[test]
fn bad_input_names_file_and_field() {
    let e = import_error(file_with(serde_json::json!([[0, 0, 2, 0, 2]])));
    assert!(
        e.contains("bad.json")
            && e.contains("annotations[0].segmentation[0]")
            && e.contains("even"),
        "{e}"
    );
    let e = import_error(file_with(
        serde_json::json!({"size": [3, 4], "counts": [1, 2, 3]}),
    ));
    assert!(
        e.contains("annotations[0].segmentation.counts") && e.contains("covers 6 pixels"),
        "{e}"
    );
    let e = import_error(file_with(
        serde_json::json!({"size": [4, 4], "counts": [16]}),
    ));
    assert!(e.contains("annotations[0].segmentation.size"), "{e}");
    let e = import_error(file_with(
        serde_json::json!({"size": [3, 4], "counts": "zz~~"}),
    ));
    assert!(e.contains("annotations[0].segmentation.counts"), "{e}");
    let e = import_error(file_with(serde_json::json!([[0, 0, 2, 0, null, 1]])));
    assert!(e.contains("annotations[0].segmentation[0][4]"), "{e}");
    let mut f = file_with(serde_json::json!([[0, 0, 2, 0, 2, 2]]));
    f["annotations"][0]["category_id"] = serde_json::json!(9);
    let e = import_error(f);
    assert!(
        e.contains("annotations[0].category_id") && e.contains("unknown"),
        "{e}"
    );
    let mut f = file_with(serde_json::json!([[0, 0, 2, 0, 2, 2]]));
    f["images"][0]["file_name"] = serde_json::json!("../../etc/passwd");
    let e = import_error(f);
    assert!(
        e.contains("images[0].file_name") && e.contains("unsafe"),
        "{e}"
    );
}

#[test]
fn foreign_polygons_use_pycocotools_rule() {
    // Random polygons, some with vertices off the pixel grid: the imported mask is always
    // pycocotools' (hotcoco), and stays an editable polygon only where Limner's rule
    // gives the same pixels.
    use limner::core::document::Geometry;
    use limner::core::geometry::{BitMask, PolygonWithHoles, rasterize_polygons};
    let mut rng = interop_common::Lcg(3);
    let (w, h) = (40u32, 30u32);
    let polys: Vec<Vec<f64>> = (0..200)
        .map(|i| {
            let n = 3 + rng.below(5) as usize;
            (0..2 * n)
                .map(|k| {
                    let lim = if k % 2 == 0 { w } else { h };
                    let v = f64::from(rng.below(lim * 4)) / 4.0;
                    if i % 2 == 0 { v.round() } else { v }
                })
                .collect()
        })
        .collect();
    let anns: Vec<serde_json::Value> = polys
        .iter()
        .enumerate()
        .map(|(i, p)| {
            serde_json::json!({"id": i + 1, "image_id": i + 1, "category_id": 1,
                               "iscrowd": 0, "segmentation": [p]})
        })
        .collect();
    let imgs: Vec<serde_json::Value> = (0..polys.len())
        .map(|i| serde_json::json!({"id": i + 1, "file_name": format!("{i}.jpg"), "width": w, "height": h}))
        .collect();
    let json = serde_json::json!({"images": imgs, "annotations": anns,
                                  "categories": [{"id": 1, "name": "a"}]});
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("t.json");
    std::fs::write(&p, serde_json::to_vec(&json).unwrap()).unwrap();
    let d = formats::read(Format::CocoInstance, &p, None).unwrap();
    let (mut kept, mut differ) = (0, 0);
    for (doc, xy) in d.documents.iter().zip(&polys) {
        let g = &doc.segments[0].geometry;
        let expect = BitMask::from_hotcoco(&hotcoco::mask::fr_poly(xy, h, w).unwrap());
        assert_eq!(g.to_mask(w, h).unwrap(), expect, "{xy:?}");
        let ours = rasterize_polygons(
            &[PolygonWithHoles {
                outer: xy.chunks(2).map(|c| [c[0], c[1]]).collect(),
                holes: vec![],
            }],
            w,
            h,
        );
        let same = ours == expect;
        assert_eq!(matches!(g, Geometry::Polygons { .. }), same, "{xy:?}");
        kept += usize::from(same);
        differ += usize::from(!same);
    }
    eprintln!("polygons kept editable: {kept}, rules differ: {differ}");
    assert!(
        differ > 0,
        "the generated set must exercise differing rules"
    );
}
