//! pycocotools oracle (installed into a venv under the test target folder on first run):
//! for a few thousand generated polygons, Limner's COCO import gives the same RLE string
//! and area as pycocotools' frPyObjects; and pycocotools' annToMask on Limner's
//! coco-instance export of the fixture set gives the areas Limner wrote.

mod interop_common;

use std::path::Path;
use std::process::Command;

use interop_common::{Lcg, fixture_set, python_with};
use limner::core::document::Geometry;
use limner::core::formats::{self, Format};

#[test]
fn limner_coco_masks_equal_pycocotools() {
    let (w, h) = (97u32, 61u32);
    let mut rng = Lcg(11);
    // Polygons on the grid, off the grid, partly outside the image, and thin slivers.
    let polygons: Vec<Vec<f64>> = (0..3000)
        .map(|i| {
            let n = 3 + rng.below(8) as usize;
            let (cx, cy) = (
                rng.below(w + 20) as f64 - 10.0,
                rng.below(h + 20) as f64 - 10.0,
            );
            let r = 1.0 + rng.below(40) as f64;
            (0..n)
                .flat_map(|k| {
                    let a = k as f64 / n as f64 * std::f64::consts::TAU;
                    let jitter = f64::from(rng.below(1000)) / 1000.0;
                    let (x, y) = (
                        cx + r * jitter * a.cos(),
                        cy + r * a.sin() * if i % 7 == 0 { 0.05 } else { 1.0 },
                    );
                    if i % 3 == 0 {
                        [x.round(), y.round()]
                    } else {
                        [x, y]
                    }
                })
                .collect()
        })
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    // Limner's side: one image per polygon, read through the coco-instance importer.
    let images: Vec<serde_json::Value> = (0..polygons.len())
        .map(|i| serde_json::json!({"id": i + 1, "file_name": format!("{i}.jpg"), "width": w, "height": h}))
        .collect();
    let anns: Vec<serde_json::Value> = polygons
        .iter()
        .enumerate()
        .map(|(i, p)| serde_json::json!({"id": i + 1, "image_id": i + 1, "category_id": 1, "iscrowd": 0, "segmentation": [p]}))
        .collect();
    let inst = tmp.path().join("polys.json");
    let file = serde_json::json!({"images": images, "annotations": anns, "categories": [{"id": 1, "name": "a"}]});
    std::fs::write(&inst, serde_json::to_vec(&file).unwrap()).unwrap();
    let ours = formats::read(Format::CocoInstance, &inst, None).unwrap();

    // Limner's export of the fixture set, for annToMask.
    let export = tmp.path().join("export/instances.json");
    formats::write(Format::CocoInstance, fixture_set(), &export).unwrap();

    let spec = tmp.path().join("spec.json");
    std::fs::write(
        &spec,
        serde_json::to_vec(&serde_json::json!({"h": h, "w": w, "polygons": polygons})).unwrap(),
    )
    .unwrap();
    let py = python_with(
        "pycocotools-venv",
        "import pycocotools.mask, pycocotools.coco",
        &["numpy<2", "pycocotools==2.0.8"],
    );
    let out = Command::new(py)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/coco_masks.py"))
        .arg(&spec)
        .arg(&export)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .expect("result line");
    let r: serde_json::Value = serde_json::from_str(line).unwrap();

    let mut nonempty = 0;
    for (i, (doc, want)) in ours
        .documents
        .iter()
        .zip(r["polygons"].as_array().unwrap())
        .enumerate()
    {
        let g = &doc.segments[0].geometry;
        let mask = g.to_mask(w, h).unwrap();
        let counts = match g {
            Geometry::Rle { counts } => counts.clone(),
            Geometry::Polygons { .. } => mask.to_coco_rle(),
        };
        assert_eq!(
            counts,
            want["counts"].as_str().unwrap(),
            "polygon {i}: {:?}",
            polygons[i]
        );
        assert_eq!(mask.area(), want["area"].as_u64().unwrap(), "polygon {i}");
        nonempty += usize::from(mask.area() > 0);
    }
    assert!(
        nonempty > 2000,
        "the generated polygons mostly cover pixels ({nonempty})"
    );

    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&export).unwrap()).unwrap();
    for a in written["annotations"].as_array().unwrap() {
        let id = a["id"].to_string();
        assert_eq!(
            r["annotations"][&id].as_u64().unwrap() as f64,
            a["area"].as_f64().unwrap(),
            "annotation {id}: pycocotools annToMask area vs Limner's area"
        );
    }
}
