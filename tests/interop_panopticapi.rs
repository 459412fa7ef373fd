//! Compatibility with the reference tool: panopticapi's `pq_compute` (pip package
//! `panopticapi-lite`, installed into a venv under the test target folder on first run)
//! reads Limner's COCO panoptic export of the shared sample and scores it against the
//! original with PQ = 1.0; a perturbed export scores below 1.

use std::path::{Path, PathBuf};
use std::process::Command;

use limner::core::formats::{self, Format};

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/interop/coco-panoptic")
}

/// A Python with panopticapi: the system one if it has it, else a venv made once.
fn oracle_python() -> PathBuf {
    let has = |py: &Path| {
        Command::new(py)
            .args(["-c", "import panopticapi.evaluation, numpy, PIL"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oracle-venv");
    let py = venv.join("bin/python");
    if has(&py) {
        return py;
    }
    let ok = Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg(&venv)
        .status()
        .unwrap()
        .success();
    assert!(ok, "python3 -m venv failed");
    let ok = Command::new(&py)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "panopticapi-lite==0.2.0",
        ])
        .status()
        .unwrap()
        .success()
        && Command::new(&py)
            .args(["-m", "pip", "install", "--quiet", "numpy<2", "pillow"])
            .status()
            .unwrap()
            .success();
    assert!(
        ok && has(&py),
        "could not install panopticapi-lite into {}",
        venv.display()
    );
    py
}

fn pq(gt_json: &Path, pred_json: &Path) -> serde_json::Value {
    let out = Command::new(oracle_python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/pq_compute.py"))
        .arg(gt_json)
        .arg(pred_json)
        .arg(gt_json.with_extension(""))
        .arg(pred_json.with_extension(""))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pq_compute failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .expect("result line");
    serde_json::from_str(line).unwrap()
}

#[test]
fn panopticapi_scores_limner_export_of_the_sample_as_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let gt = shared().join("panoptic_examples.json");
    let data = formats::read(Format::CocoPanoptic, &gt, Some(&shared().join("images"))).unwrap();
    let proj = tmp.path().join("proj");
    formats::write(Format::Project, data, &proj).unwrap();
    let pred = tmp.path().join("export/panoptic_pred.json");
    let data = formats::read(Format::Project, &proj, None).unwrap();
    formats::write(Format::CocoPanoptic, data, &pred).unwrap();

    let r = pq(&gt, &pred);
    for split in ["All", "Things", "Stuff"] {
        let v = r[split]["pq"].as_f64().unwrap();
        assert!((v - 1.0).abs() < 1e-12, "{split} PQ {v}: {r}");
    }

    // Drop the largest non-crowd segment of one image: panopticapi must see the change.
    let mut data = formats::read(Format::Project, &proj, None).unwrap();
    let doc = &mut data.documents[0];
    let map = doc.resolve();
    let stats = map.stats();
    let victim = doc
        .segments
        .iter()
        .filter(|s| !s.iscrowd)
        .max_by_key(|s| stats.get(&s.id).map(|st| st.area).unwrap_or(0))
        .unwrap()
        .id;
    doc.segments.retain(|s| s.id != victim);
    let pred2 = tmp.path().join("export2/panoptic_pred.json");
    formats::write(Format::CocoPanoptic, data, &pred2).unwrap();
    let r2 = pq(&gt, &pred2);
    let all = r2["All"]["pq"].as_f64().unwrap();
    assert!(
        all < 1.0 && all > 0.8,
        "PQ after deleting one segment: {r2}"
    );
}
