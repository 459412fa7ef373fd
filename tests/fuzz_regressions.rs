//! Replays the fuzz seeds and every minimized crash the fuzzer found (`fuzz/seeds/` and
//! `fuzz/regressions/`, one folder per target) through the same targets the AFL++
//! harness runs (`fuzz/targets.rs`): none may panic. `write_fuzz_seeds` (ignored) writes
//! the seeds from the interop fixture set.

mod interop_common;

#[path = "../fuzz/targets.rs"]
mod targets;

use std::path::{Path, PathBuf};

use limner::core::formats::{self, Format};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// Every file under `fuzz/<kind>/<target>/`, with its target.
fn inputs(kind: &str) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for t in targets::TARGETS {
        let dir = fuzz_dir().join(kind).join(t);
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort();
        out.extend(files.into_iter().map(|f| (t.to_string(), f)));
    }
    out
}

/// Runs each input, catching panics: (the inputs that panicked, those refused).
fn replay(inputs: &[(String, PathBuf)]) -> (Vec<String>, Vec<String>) {
    let (mut failed, mut refused) = (Vec::new(), Vec::new());
    for (t, f) in inputs {
        let data = std::fs::read(f).unwrap();
        let name = format!("{t}: {}", f.display());
        match std::panic::catch_unwind(|| targets::run(t, &data)) {
            Err(_) => failed.push(name),
            Ok(false) => refused.push(name),
            Ok(true) => {}
        }
    }
    (failed, refused)
}

#[test]
fn every_target_has_seeds_and_none_panics() {
    let seeds = inputs("seeds");
    for t in targets::TARGETS {
        assert!(
            seeds.iter().any(|(s, _)| s == t),
            "no seeds for fuzz target {t}: run the ignored write_fuzz_seeds test"
        );
    }
    let (failed, refused) = replay(&seeds);
    assert!(failed.is_empty(), "seeds that panic: {failed:#?}");
    // A seed the importer refuses would leave the fuzzer exploring error paths only.
    assert!(refused.is_empty(), "seeds that do not import: {refused:#?}");
}

#[test]
fn minimized_crashes_stay_fixed() {
    let found = inputs("regressions");
    let (failed, _) = replay(&found);
    assert!(
        failed.is_empty(),
        "fuzzer findings that panic again: {failed:#?}"
    );
}

#[test]
fn a_pack_unpacks_into_its_files_and_drops_unsafe_paths() {
    let files = vec![
        ("a/b.json".to_string(), b"{\n}".to_vec()),
        ("../up.txt".to_string(), b"x".to_vec()),
        ("/abs.txt".to_string(), b"y".to_vec()),
        ("c.png".to_string(), vec![0, b'\n', 1]),
    ];
    let pack = targets::pack(&files);
    let got = targets::unpack(&pack);
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["a/b.json", "c.png"]);
    assert_eq!(got[0].1, b"{\n}");
    assert_eq!(got[1].1, [0, b'\n', 1]);
}

/// Every file under `dir`, relative, with its bytes.
fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out
}

/// Writes `fuzz/seeds/`: the fixture set in every format (with and without Limner's
/// sidecars, images beside them), one document, the ontology, prompt files and tag CSVs.
#[test]
#[ignore = "writes fuzz/seeds/; run by hand when the formats change"]
fn write_fuzz_seeds() {
    let seeds = fuzz_dir().join("seeds");
    let put = |target: &str, name: &str, bytes: &[u8]| {
        let dir = seeds.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    };
    let tmp = tempfile::tempdir().unwrap();
    // Small images for the formats that read sizes from them.
    let images = tmp.path().join("images");
    let data = interop_common::fixture_set();
    for doc in &data.documents {
        let p = images.join(&doc.image.file_name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        image::RgbImage::new(doc.image.width, doc.image.height)
            .save_with_format(&p, image::ImageFormat::Png)
            .unwrap();
    }
    let image_files: Vec<(String, Vec<u8>)> = files_under(&images)
        .into_iter()
        .map(|(n, b)| (format!("images/{n}"), b))
        .collect();
    let sidecar = |n: &str| n.contains("limner") || n.ends_with("classmap.json");
    for (target, format) in [
        ("coco-panoptic", Format::CocoPanoptic),
        ("coco-instance", Format::CocoInstance),
        ("semantic-png", Format::SemanticPng),
        ("voc", Format::Voc),
        ("yolo-seg", Format::YoloSeg),
        ("cvat", Format::Cvat),
        ("labelme", Format::Labelme),
        ("project", Format::Project),
    ] {
        let out = tmp.path().join(target);
        let mut d = interop_common::fixture_set();
        d.images_dir = images.clone();
        formats::write(format, d, &format.output_in(&out)).unwrap();
        let mut files = files_under(&out);
        // A written project points at the images it was made from; the pack carries them.
        for (n, b) in &mut files {
            if n == "limner.json" {
                let mut v: serde_json::Value = serde_json::from_slice(b).unwrap();
                v["images_dir"] = "images".into();
                *b = serde_json::to_vec_pretty(&v).unwrap();
            }
        }
        if !files.iter().any(|(n, _)| n.starts_with("images/")) {
            files.extend(image_files.iter().cloned());
        }
        put(target, "fixtures", &targets::pack(&files));
        let foreign: Vec<_> = files.iter().filter(|(n, _)| !sidecar(n)).cloned().collect();
        if foreign.len() < files.len() && format != Format::Project {
            put(target, "fixtures-no-sidecars", &targets::pack(&foreign));
        }
        if target == "project" {
            for (n, b) in &files {
                if n.starts_with("annotations/") {
                    put("document", &n.replace('/', "_"), b);
                }
                if n == "ontology.json" {
                    put("ontology", "fixture", b);
                }
            }
        }
    }
    put(
        "prompts",
        "all-fields",
        br#"{"points": [{"x": 10.5, "y": 20, "positive": true}, {"x": 63, "y": 47, "positive": false}],
 "scribbles": [{"points": [[1, 2], [30, 40]], "positive": false, "radius": 3.0}],
 "box": [2, 3, 40, 30], "previous_mask": "previous.png"}"#,
    );
    put("prompts", "one-click", br#"{"points": [{"x": 1, "y": 1}]}"#);
    put(
        "tags-csv",
        "quoted",
        b"\xef\xbb\xbffile_name,scene,\"device\"\r\na.png,indoor,\"phone \"\"a\"\", b\"\r\nb.png,,x\r\n",
    );
    put("tags-csv", "plain", b"file_name,scene\na.png,outdoor\n");
}

/// Found by fuzzing: a LabelMe mask whose corner is at x = 2e19 wrapped around (an
/// overflow panic with overflow checks on, a silently shifted mask without): now it is
/// refused, naming the file and the shape.
#[test]
fn a_labelme_mask_corner_outside_the_image_is_refused() {
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    let mut png = Vec::new();
    image::GrayImage::from_pixel(4, 4, image::Luma([255]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
    for (x, ok) in [
        ("2.0", true),
        ("20000000000000000000", false),
        ("-3", false),
    ] {
        let json = format!(
            r#"{{"version":"5.4.1","flags":{{}},"imagePath":"a.png","imageData":null,
            "imageHeight":16,"imageWidth":16,
            "shapes":[{{"label":"blob","points":[[{x},1],[5,5]],"group_id":null,
            "shape_type":"mask","flags":{{}},"mask":"{b64}"}}]}}"#
        );
        std::fs::write(dir.path().join("a.json"), json).unwrap();
        let r = formats::read(Format::Labelme, dir.path(), None);
        match (ok, r) {
            (true, Ok(d)) => assert_eq!(d.documents[0].segments.len(), 1),
            (false, Err(e)) => {
                let m = e.to_string();
                assert!(m.contains("a.json") && m.contains("shapes[0]"), "{m}");
                assert!(m.contains("outside the 16x16 image"), "{m}");
            }
            (ok, r) => panic!("x = {x}: expected ok={ok}, got {:?}", r.map(|_| ())),
        }
    }
}

/// Found by fuzzing: a CVAT image declared 555 555 550 px wide made the reader allocate a
/// mask of that size (minutes, gigabytes); sizes over the limits are refused first.
#[test]
fn a_cvat_image_over_the_size_limit_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("annotations.xml");
    std::fs::write(
        &xml,
        r#"<?xml version="1.0" encoding="utf-8"?>
<annotations><version>1.1</version>
<image id="0" name="b.png" width="555555550" height="33">
<mask label="x" source="manual" occluded="0" z_order="0" rle="0, 4" left="0" top="0" width="2" height="2"/>
</image></annotations>"#,
    )
    .unwrap();
    let e = formats::read(Format::Cvat, &xml, None)
        .err()
        .expect("refused");
    assert!(e.to_string().contains("exceeds the limit"), "{e}");
}
