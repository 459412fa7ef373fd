//! `qa compare` PQ / SQ / RQ against panopticapi's `pq_compute` (pip package
//! `panopticapi-lite`, in the venv under the test target folder that
//! tests/interop_panopticapi.rs also uses): the shared COCO panoptic sample against
//! itself is 1.0 everywhere; against a perturbed copy (eroded segments, swapped classes,
//! deleted segments), every number (All / Things / Stuff, per class) equals the oracle's.

use std::path::{Path, PathBuf};
use std::process::Command;

use limner::core::document::Geometry;
use limner::core::formats::{self, Format};
use limner::core::geometry::BitMask;
use limner::core::qa::{LabelSet, compare};

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/interop/coco-panoptic")
}

/// A Python with panopticapi: the venv made once (same as interop_panopticapi.rs).
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
    assert!(
        Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .unwrap()
            .success(),
        "python3 -m venv failed"
    );
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
    assert!(ok && has(&py), "could not install panopticapi-lite");
    py
}

fn oracle(gt_json: &Path, pred_json: &Path) -> serde_json::Value {
    let out = Command::new(oracle_python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/pq_compute_full.py"))
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
    serde_json::from_str(
        text.lines()
            .find_map(|l| l.strip_prefix("RESULT "))
            .expect("result line"),
    )
    .unwrap()
}

/// Erodes a mask by `k` pixels (L∞), image border not counted as background.
fn erode(mask: &BitMask, k: u8) -> BitMask {
    let img = image::GrayImage::from_fn(mask.width, mask.height, |x, y| {
        image::Luma([if mask.get(x.into(), y.into()) { 255 } else { 0 }])
    });
    let e = imageproc::morphology::erode(&img, imageproc::distance_transform::Norm::LInf, k);
    let mut out = BitMask::new(mask.width, mask.height);
    for (x, y, p) in e.enumerate_pixels() {
        out.set(x.into(), y.into(), p[0] != 0);
    }
    out
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn pq_of_the_sample_against_itself_is_one_and_perturbed_equals_panopticapi() {
    let gt_json = shared().join("panoptic_examples.json");
    let gold = LabelSet::load(&gt_json, None).unwrap();
    let same = compare::compare(&gold, &gold, &compare::CompareOptions::default()).unwrap();
    for s in [&same.overall.all, &same.overall.things, &same.overall.stuff] {
        assert_eq!((s.pq, s.sq, s.rq), (Some(1.0), Some(1.0), Some(1.0)));
    }
    assert_eq!(same.overall.miou, Some(1.0));
    assert_eq!(same.overall.boundary_iou, Some(1.0));

    // Perturb: per image, erode the largest segment by 3 px and another by 12 px, swap
    // the class of one thing with another thing class, delete one segment.
    let mut data = formats::read(Format::CocoPanoptic, &gt_json, None).unwrap();
    let things: Vec<u32> = data
        .ontology
        .categories
        .iter()
        .filter(|c| c.isthing)
        .map(|c| c.id)
        .collect();
    for doc in &mut data.documents {
        let (w, h) = (doc.image.width, doc.image.height);
        let stats = doc.resolve().stats();
        let mut by_area: Vec<(u64, usize)> = doc
            .segments
            .iter()
            .enumerate()
            .map(|(i, s)| (stats.get(&s.id).map_or(0, |st| st.area), i))
            .collect();
        by_area.sort_by(|a, b| b.cmp(a));
        assert!(
            by_area.len() >= 4,
            "{} has few segments",
            doc.image.file_name
        );
        for (rank, k) in [(0usize, 3u8), (1, 12)] {
            let s = &mut doc.segments[by_area[rank].1];
            let m = erode(&s.geometry.to_mask(w, h).unwrap(), k);
            s.geometry = Geometry::from_mask(&m);
        }
        // Swap the class of the largest thing segment that is not already eroded.
        if let Some(&(_, i)) = by_area[2..]
            .iter()
            .find(|(_, i)| things.contains(&doc.segments[*i].category_id))
        {
            let c = doc.segments[i].category_id;
            doc.segments[i].category_id = *things.iter().find(|&&t| t != c).unwrap();
        }
        let victim = doc.segments[by_area[by_area.len() - 1].1].id;
        doc.segments.retain(|s| s.id != victim);
        // Drop segments the erosion emptied (the exporter would drop them anyway).
        doc.segments
            .retain(|s| s.geometry.to_mask(w, h).is_ok_and(|m| m.area() > 0));
    }
    let tmp = tempfile::tempdir().unwrap();
    let pred_json = tmp.path().join("pred/panoptic_pred.json");
    formats::write(Format::CocoPanoptic, data, &pred_json).unwrap();

    let pred = LabelSet::load(&pred_json, None).unwrap();
    let r = compare::compare(&gold, &pred, &compare::CompareOptions::default()).unwrap();
    let o = oracle(&gt_json, &pred_json);
    assert!(
        r.overall.all.pq.unwrap() < 0.95,
        "the perturbation must show: {:?}",
        r.overall.all
    );
    for (name, s) in [
        ("All", &r.overall.all),
        ("Things", &r.overall.things),
        ("Stuff", &r.overall.stuff),
    ] {
        for (k, v) in [("pq", s.pq), ("sq", s.sq), ("rq", s.rq)] {
            let want = o[name][k].as_f64().unwrap();
            assert!(
                close(v.unwrap(), want),
                "{name} {k}: limner {v:?}, panopticapi {want}"
            );
        }
        assert_eq!(s.n as u64, o[name]["n"].as_u64().unwrap(), "{name} n");
    }
    let per_class = o["per_class"].as_object().unwrap();
    let mut checked = 0;
    for (id, want) in per_class {
        let id: u32 = id.parse().unwrap();
        let ours = r.overall.classes.iter().find(|c| c.id == id);
        for k in ["pq", "sq", "rq"] {
            let w = want[k].as_f64().unwrap();
            let v = ours
                .and_then(|c| match k {
                    "pq" => c.pq,
                    "sq" => c.sq,
                    _ => c.rq,
                })
                .unwrap_or(0.0);
            assert!(close(v, w), "class {id} {k}: limner {v}, panopticapi {w}");
        }
        checked += usize::from(ours.is_some_and(|c| c.pq.is_some()));
    }
    assert!(checked >= 8, "only {checked} classes scored");
    // The perturbation produced every kind of count.
    let (tp, fp, fn_) = r
        .overall
        .classes
        .iter()
        .fold((0, 0, 0), |a, c| (a.0 + c.tp, a.1 + c.fp, a.2 + c.fn_));
    assert!(tp > 0 && fp > 0 && fn_ > 0, "tp {tp} fp {fp} fn {fn_}");
}
