//! `limner predict` writes the mask the app shows: the same clean-up (keep the parts a
//! positive prompt touches, fill small holes) with the app's defaults, and `--model`
//! takes a model's name as the model picker shows it.

use std::path::Path;
use std::process::{Command, Output};

fn limner() -> Command {
    Command::new(env!("CARGO_BIN_EXE_limner"))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Two bright squares meeting only at a corner (one part with 8-neighbours, two with
/// 4), the clicked one with a 2x2 hole.
fn scene(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let img = image::RgbImage::from_fn(60, 40, |x, y| {
        let a = (10..20).contains(&x) && (10..20).contains(&y);
        let hole = (14..16).contains(&x) && (14..16).contains(&y);
        let b = (20..30).contains(&x) && (20..30).contains(&y);
        if (a && !hole) || b {
            image::Rgb([220, 220, 220])
        } else {
            image::Rgb([20, 20, 20])
        }
    });
    let image = dir.join("scene.png");
    img.save(&image).unwrap();
    let prompts = dir.join("p.json");
    std::fs::write(
        &prompts,
        r#"{"points": [{"x": 11.5, "y": 11.5, "positive": true}]}"#,
    )
    .unwrap();
    (image, prompts)
}

fn predicted_area(dir: &Path, extra: &[&str]) -> u64 {
    let (image, prompts) = scene(dir);
    let out = dir.join("mask.png");
    let o = limner()
        .args(["predict", "--model", "threshold", "--overwrite", "--image"])
        .arg(&image)
        .arg("--prompts")
        .arg(&prompts)
        .arg("--out")
        .arg(&out)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let mask = image::open(&out).unwrap().to_luma8();
    mask.pixels().filter(|p| p[0] == 255).count() as u64
}

#[test]
fn predict_applies_the_apps_clean_up_with_flags() {
    let tmp = tempfile::tempdir().unwrap();
    // The app's defaults: only the clicked part (4-connected), holes kept.
    assert_eq!(predicted_area(tmp.path(), &[]), 96);
    assert_eq!(
        predicted_area(tmp.path(), &["--keep-touching", "false"]),
        196
    );
    assert_eq!(
        predicted_area(
            tmp.path(),
            &["--keep-touching", "false", "--fill-holes", "10"]
        ),
        200
    );
}

#[test]
fn an_unknown_model_name_lists_the_known_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let (image, prompts) = scene(tmp.path());
    let o = limner()
        .args(["predict", "--model", "no-such-model", "--image"])
        .arg(&image)
        .arg("--prompts")
        .arg(&prompts)
        .arg("--out")
        .arg(tmp.path().join("m.png"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    let t = text(&o);
    assert!(t.contains("no-such-model") && t.contains("grabcut"), "{t}");
    assert!(!tmp.path().join("m.png").exists());
}
