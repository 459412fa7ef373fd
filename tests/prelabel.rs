//! `limner prelabel` with generated ONNX models (tests/oracle/prelabel_models.py, onnx
//! pip-installed into a venv under the test target folder): a colour-to-class semantic
//! model through the whole command, and a YOLO-seg-shaped model whose decoding is
//! checked against a numpy reference.

mod interop_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use interop_common::python_with;
use limner::core::document::{Action, Geometry, ImageDocument, Segment, Source};
use limner::core::geometry::BitMask;
use limner::core::ontology::{Category, Color, Ontology};
use limner::core::project::Project;
use limner::model::{ModelConfig, prelabel::Prelabeler};

fn models(dir: &Path) -> PathBuf {
    let py = python_with(
        "prelabel-venv",
        "import onnx, numpy",
        &["numpy<2.3", "onnx==1.17.0"],
    );
    let out = dir.join("models");
    let o = Command::new(py)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/prelabel_models.py"))
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

fn limner() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_limner"));
    c.env_remove("LIMNER_USER");
    c
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn category(id: u32, name: &str, isthing: bool) -> Category {
    Category {
        id,
        name: name.into(),
        color: Color([100, 100, 100]),
        isthing,
        supercategory: None,
        description: None,
        retired: false,
        merged_into: None,
    }
}

/// Blue sky, two red cars, a green (void) strip: 96 x 64.
fn scene() -> image::RgbImage {
    image::RgbImage::from_fn(96, 64, |x, y| {
        if (8..24).contains(&x) && (10..30).contains(&y)
            || (60..80).contains(&x) && (30..50).contains(&y)
        {
            image::Rgb([220, 20, 20])
        } else if y >= 56 {
            image::Rgb([20, 200, 20])
        } else {
            image::Rgb([20, 20, 230])
        }
    })
}

#[test]
fn semantic_prelabel_splits_things_keeps_people_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let models = models(tmp.path());
    let root = tmp.path().join("proj");
    std::fs::create_dir_all(root.join("images")).unwrap();
    scene().save(root.join("images/a.png")).unwrap();
    scene().save(root.join("images/b.png")).unwrap();
    scene().save(root.join("images/c.png")).unwrap();
    let ontology = Ontology {
        categories: vec![category(1, "car", true), category(2, "sky", false)],
        ..Default::default()
    };
    let p = Project::create(&root, "p", "images", ontology).unwrap();
    // b.png has a person's segment: never touched.
    let mut b = ImageDocument::new("b.png", 96, 64);
    let mut m = BitMask::new(96, 64);
    m.set(1, 1, true);
    b.segments
        .push(Segment::new(1, 1, Geometry::from_mask(&m), Source::Brush));
    p.save_document(&b).unwrap();
    let b_before = std::fs::read(p.annotation_path("b.png")).unwrap();

    let run = |args: &[&str]| {
        ok(&limner()
            .arg("prelabel")
            .arg(&root)
            .arg("--model")
            .arg(models.join("semantic.json"))
            .args(args)
            .output()
            .unwrap())
    };
    let out = run(&["--images", "[ab].png"]);
    assert!(
        out.contains("labeled 1 image(s) with 3 segment(s)"),
        "{out}"
    );
    assert!(out.contains("kept 1 image(s) a person labeled"), "{out}");
    let a = p.load_document("a.png").unwrap();
    let mut areas: Vec<(u32, u64)> = a
        .resolve()
        .stats()
        .into_iter()
        .map(|(id, s)| (a.segment(id).unwrap().category_id, s.area))
        .collect();
    areas.sort();
    // Two cars (things: one segment per component), one sky (stuff), green is void.
    assert_eq!(
        areas,
        vec![(1, 16 * 20), (1, 20 * 20), (2, 96 * 56 - 16 * 20 - 20 * 20)]
    );
    assert!(a.segments.iter().all(|s| s.source == Source::Model));
    assert!(
        matches!(&a.log.last().unwrap().action, Action::Prelabel { model } if model == "colours")
    );
    assert_eq!(std::fs::read(p.annotation_path("b.png")).unwrap(), b_before);
    assert!(
        !p.annotation_path("c.png").exists(),
        "c.png is outside --images"
    );

    // A re-run continues: a.png is done, c.png gets labeled now.
    let a_before = std::fs::read(p.annotation_path("a.png")).unwrap();
    let out = run(&[]);
    assert!(
        out.contains("labeled 1 image(s)") && out.contains("1 already done"),
        "{out}"
    );
    assert_eq!(std::fs::read(p.annotation_path("a.png")).unwrap(), a_before);

    // Another model: --mode add keeps the earlier model's segments, replace-model
    // replaces them (and still never touches b.png).
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(models.join("semantic.json")).unwrap()).unwrap();
    cfg["name"] = "colours-2".into();
    cfg["classes"] = serde_json::json!({"0": 1, "1": null, "2": null});
    std::fs::write(models.join("semantic2.json"), cfg.to_string()).unwrap();
    let run2 = |mode: &str| {
        ok(&limner()
            .arg("prelabel")
            .arg(&root)
            .arg("--model")
            .arg(models.join("semantic2.json"))
            .args(["--mode", mode])
            .output()
            .unwrap())
    };
    let out = run2("add");
    assert!(
        out.contains("labeled 0 image(s)") && out.contains("2 with another model's segments"),
        "{out}"
    );
    let out = run2("replace-model");
    assert!(
        out.contains("labeled 2 image(s) with 4 segment(s)"),
        "{out}"
    );
    assert_eq!(p.load_document("a.png").unwrap().segments.len(), 2);
    assert_eq!(std::fs::read(p.annotation_path("b.png")).unwrap(), b_before);
}

#[test]
fn yolo_seg_decoding_matches_the_numpy_reference() {
    let tmp = tempfile::tempdir().unwrap();
    let models = models(tmp.path());
    let reference: serde_json::Value =
        serde_json::from_slice(&std::fs::read(models.join("yolo_reference.json")).unwrap())
            .unwrap();
    let config = ModelConfig::load(&models.join("yolo.json")).unwrap();
    let mut model = Prelabeler::load(&config).unwrap();
    let image = image::RgbImage::new(80, 48);
    let found = model.predict(&image, &|_| true).unwrap();
    let want = reference["masks"].as_array().unwrap();
    assert_eq!(
        found.len(),
        want.len(),
        "NMS and the score filter keep 4 of 6 boxes"
    );
    for (got, want) in found.iter().zip(want) {
        let mut m = BitMask::new(80, 48);
        let runs: Vec<usize> = want["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        for r in runs.chunks_exact(2) {
            m.data[r[0]..r[0] + r[1]].fill(1);
        }
        let class = want["class"].as_u64().unwrap() as u32 + 1;
        assert_eq!(got.category_id, class);
        assert!((got.score - want["score"].as_f64().unwrap() as f32).abs() < 1e-6);
        let differ = got
            .mask
            .data
            .iter()
            .zip(&m.data)
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(
            differ, 0,
            "class {class} score {}: {differ} pixels differ",
            got.score
        );
        assert!(m.area() > 50);
    }
    // A prompt model is not a pre-labeling model, and vice versa.
    let click = ModelConfig::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("models/limner-click-v2.json"),
    )
    .unwrap();
    assert!(Prelabeler::load(&click).is_err());
    assert!(limner::model::load_predictor(&models.join("yolo.json")).is_err());
}

#[test]
fn the_app_prelabels_on_a_worker_and_leaves_the_open_image_alone() {
    use egui_kittest::Harness;
    use std::time::{Duration, Instant};
    let tmp = tempfile::tempdir().unwrap();
    let models = models(tmp.path());
    let root = tmp.path().join("proj");
    std::fs::create_dir_all(root.join("images")).unwrap();
    for n in ["a.png", "b.png", "c.png"] {
        scene().save(root.join("images").join(n)).unwrap();
    }
    let ontology = Ontology {
        categories: vec![category(1, "car", true), category(2, "sky", false)],
        ..Default::default()
    };
    let p = Project::create(&root, "p", "images", ontology).unwrap();
    let app = limner::app::LimnerApp::new(p.clone(), None);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1100.0, 700.0))
        .build_eframe(|_| app);
    h.step();
    h.state_mut().prelabel_with(models.join("semantic.json"));
    let start = Instant::now();
    while h.state().jobs.is_running("pre-label") {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "pre-label never finished"
        );
        std::thread::sleep(Duration::from_millis(20));
        h.step();
    }
    h.step();
    // a.png is on screen: left alone; b and c are labeled and saved.
    assert!(p.load_document("a.png").unwrap().segments.is_empty());
    for n in ["b.png", "c.png"] {
        let d = p.load_document(n).unwrap();
        assert_eq!(d.segments.len(), 3, "{n}");
        assert!(d.segments.iter().all(|s| s.source == Source::Model));
    }
}
