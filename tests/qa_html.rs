//! The `qa compare` HTML report renders in headless Chromium: the screenshot is a
//! non-empty PNG that is not one flat colour, and the HTML holds the SVG plots and the
//! thumbnails. Without Chromium the test fails when `CI` is set, and is skipped with a
//! note otherwise.

use std::path::{Path, PathBuf};
use std::process::Command;

use limner::core::document::Geometry;
use limner::core::formats::{self, Format};

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/interop/coco-panoptic")
}

fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

#[test]
fn html_report_renders_in_headless_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let gt = shared().join("panoptic_examples.json");
    // A prediction with one image's largest segment deleted and another shifted.
    let mut data = formats::read(Format::CocoPanoptic, &gt, None).unwrap();
    let doc = &mut data.documents[0];
    let (w, h) = (doc.image.width, doc.image.height);
    let stats = doc.resolve().stats();
    doc.segments
        .sort_by_key(|s| std::cmp::Reverse(stats.get(&s.id).map_or(0, |st| st.area)));
    doc.segments.remove(0);
    let m = doc.segments[0].geometry.to_mask(w, h).unwrap();
    let mut shifted = limner::core::geometry::BitMask::new(w, h);
    for y in 0..h as i64 {
        for x in 0..w as i64 {
            shifted.set(x + 15, y + 5, m.get(x, y));
        }
    }
    doc.segments[0].geometry = Geometry::from_mask(&shifted);
    let pred = tmp.path().join("pred/panoptic_pred.json");
    formats::write(Format::CocoPanoptic, data, &pred).unwrap();

    let html = tmp.path().join("report.html");
    let json = tmp.path().join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_limner"))
        .args(["qa", "compare", "--gold"])
        .arg(&gt)
        .arg("--pred")
        .arg(&pred)
        .arg("--images")
        .arg(shared().join("images"))
        .arg("--html")
        .arg(&html)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(
        text.matches("<svg").count() >= 2,
        "per-class and annotator plots"
    );
    assert!(text.contains("class=\"chart\""));
    assert!(text.contains("data:image/png;base64,"), "thumbnails inline");
    assert!(!text.contains("<script"), "no script");
    assert!(
        !text.contains("src=\"http"),
        "nothing is fetched from the network"
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert!(v["overall"]["all"]["pq"].as_f64().unwrap() < 1.0);
    assert_eq!(v["per_image"].as_array().unwrap().len(), 2);

    let Some(chrome) = chromium() else {
        if std::env::var_os("CI").is_some() {
            panic!("chromium is missing (CI is set): .ci/run installs it");
        }
        eprintln!(
            "note: chromium not found; skipping the rendering check (set CI to make this fail)"
        );
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let png = tmp.path().join("shot.png");
    let url = format!("file://{}", html.canonicalize().unwrap().display());
    let o = Command::new(&chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1200,1600")
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        png.is_file(),
        "no screenshot; chromium said:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let shot = image::open(&png).unwrap().to_rgb8();
    assert_eq!(shot.dimensions(), (1200, 1600));
    let first = *shot.get_pixel(0, 0);
    let differing = shot.pixels().filter(|p| **p != first).count();
    assert!(
        differing > 10_000,
        "the screenshot is nearly one colour ({differing} pixels differ)"
    );
}
