//! COCO panoptic import -> export on the shared panopticapi sample, and export checks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use limner::core::document::{Geometry, ImageDocument, Segment, Source};
use limner::core::formats::{self, Format, coco_panoptic};
use limner::core::geometry::PolygonWithHoles;
use limner::core::ontology::{Color, Ontology};

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/interop/coco-panoptic")
}

/// Reads a panoptic PNG with the `image` crate directly (independent of Limner's reader).
fn png_ids(path: &Path) -> (u32, u32, Vec<u32>) {
    let img = image::open(path).unwrap().to_rgb8();
    let ids = img
        .pixels()
        .map(|p| p[0] as u32 + 256 * p[1] as u32 + 65536 * p[2] as u32)
        .collect();
    (img.width(), img.height(), ids)
}

/// Area and bbox per id, computed by the test from pixels.
fn derive(w: u32, ids: &[u32]) -> BTreeMap<u32, (u64, [f64; 4])> {
    let mut acc: BTreeMap<u32, (u64, u32, u32, u32, u32)> = BTreeMap::new();
    for (i, &id) in ids.iter().enumerate() {
        if id == 0 {
            continue;
        }
        let (x, y) = (i as u32 % w, i as u32 / w);
        let e = acc.entry(id).or_insert((0, x, y, x, y));
        e.0 += 1;
        e.1 = e.1.min(x);
        e.2 = e.2.min(y);
        e.3 = e.3.max(x);
        e.4 = e.4.max(y);
    }
    acc.into_iter()
        .map(|(id, (a, x0, y0, x1, y1))| {
            (
                id,
                (
                    a,
                    [
                        x0 as f64,
                        y0 as f64,
                        (x1 - x0 + 1) as f64,
                        (y1 - y0 + 1) as f64,
                    ],
                ),
            )
        })
        .collect()
}

#[test]
fn shared_sample_import_then_export_gives_identical_segments() {
    let src_json = shared().join("panoptic_examples.json");
    let src: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&src_json).unwrap()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let project_dir = tmp.path().join("proj");
    let data = formats::read(
        Format::CocoPanoptic,
        &src_json,
        Some(&shared().join("images")),
    )
    .unwrap();
    formats::write(Format::Project, data, &project_dir).unwrap();
    // The project opens and validates clean, and finds its images by relative path.
    let project = limner::core::project::Project::open(&project_dir).unwrap();
    assert!(project.validate().is_empty(), "{:?}", project.validate());
    assert_eq!(project.list_images().unwrap().0.len(), 2);

    let out_json = tmp.path().join("out/panoptic_out.json");
    let data = formats::read(Format::Project, &project_dir, None).unwrap();
    let report = formats::write(Format::CocoPanoptic, data, &out_json).unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let out: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out_json).unwrap()).unwrap();

    let mut total_segments = 0;
    for ann in src["annotations"].as_array().unwrap() {
        let image_id = &ann["image_id"];
        let out_ann = out["annotations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| &a["image_id"] == image_id)
            .expect("same image ids");
        let (w, h, src_ids) = png_ids(
            &shared()
                .join("panoptic_examples")
                .join(ann["file_name"].as_str().unwrap()),
        );
        let (w2, h2, out_ids) = png_ids(
            &out_json
                .with_extension("")
                .join(out_ann["file_name"].as_str().unwrap()),
        );
        assert_eq!((w, h), (w2, h2));
        assert!(
            src_ids == out_ids,
            "exported PNG differs from the original for image {image_id}"
        );
        let derived = derive(w, &out_ids);
        let by_id = |a: &serde_json::Value| -> BTreeMap<u64, serde_json::Value> {
            a["segments_info"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| (s["id"].as_u64().unwrap(), s.clone()))
                .collect()
        };
        let (src_segs, out_segs) = (by_id(ann), by_id(out_ann));
        assert_eq!(
            src_segs.keys().collect::<Vec<_>>(),
            out_segs.keys().collect::<Vec<_>>()
        );
        assert_eq!(
            derived.len(),
            out_segs.len(),
            "PNG and segments_info list the same ids"
        );
        for (id, s) in &src_segs {
            let o = &out_segs[id];
            assert_eq!(s["category_id"], o["category_id"], "segment {id}");
            assert_eq!(s["iscrowd"].as_u64(), o["iscrowd"].as_u64(), "segment {id}");
            let (area, bbox) = derived[&(*id as u32)];
            assert_eq!(
                o["area"].as_u64().unwrap(),
                area,
                "area of {id} re-derived from the PNG"
            );
            let ob: Vec<f64> = serde_json::from_value(o["bbox"].clone()).unwrap();
            assert_eq!(ob, bbox.to_vec(), "bbox of {id}");
            total_segments += 1;
        }
    }
    assert_eq!(total_segments, 50);
    assert_eq!(
        out["categories"].as_array().unwrap().len(),
        src["categories"].as_array().unwrap().len()
    );
}

#[test]
fn coco_categories_file_keeps_ids() {
    let o =
        Ontology::load_coco_categories(&shared().join("panoptic_coco_categories.json")).unwrap();
    assert_eq!(o.categories.len(), 133);
    let sky = o
        .categories
        .iter()
        .find(|c| c.name == "sky-other-merged")
        .unwrap();
    assert_eq!(sky.id, 187);
    assert!(!sky.isthing);
    assert!(o.get(1).unwrap().isthing);
}

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> PolygonWithHoles {
    PolygonWithHoles {
        outer: vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]],
        holes: vec![],
    }
}

#[test]
fn export_resolves_overlaps_and_drops_hidden_segments() {
    let mut o = Ontology::default();
    let thing = o.add("thing", Color([255, 0, 0]), true).unwrap();
    let stuff = o.add("stuff", Color([0, 255, 0]), false).unwrap();
    let mut d = ImageDocument::new("a.b.jpg", 20, 10);
    let seg = |id, cat, z, p: PolygonWithHoles| Segment {
        id,
        category_id: cat,
        geometry: Geometry::Polygons { polygons: vec![p] },
        z,
        iscrowd: false,
        source: Source::Polygon,
        review: Default::default(),
        comments: vec![],
    };
    d.segments = vec![
        seg(1, stuff, 0, rect(0.0, 0.0, 20.0, 10.0)),
        seg(2, thing, 1, rect(2.0, 2.0, 6.0, 6.0)),
        // Fully covered by segment 1 (lower z): must be dropped with a warning.
        seg(3, thing, -1, rect(10.0, 2.0, 12.0, 4.0)),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("p.json");
    let r = coco_panoptic::export_documents(vec![d], &o, &json).unwrap();
    assert_eq!(r.segments, 2);
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    // a.b.jpg -> a.b.png (stem, not split at the first dot).
    let (w, _, ids) = png_ids(&tmp.path().join("p/a.b.png"));
    let derived = derive(w, &ids);
    assert_eq!(derived[&2].0, 16);
    assert_eq!(derived[&1].0, 200 - 16);
    assert!(!derived.contains_key(&3));
    // Re-import gives back the same partition.
    let back = coco_panoptic::read(&json, None).unwrap();
    assert_eq!(back.documents[0].resolve().ids, ids);
}
