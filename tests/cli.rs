//! End-to-end: the `limner` binary's convert and validate subcommands.

use std::path::Path;
use std::process::Command;

fn limner() -> Command {
    Command::new(env!("CARGO_BIN_EXE_limner"))
}

fn shared() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/interop/coco-panoptic")
}

#[test]
fn convert_and_validate_roundtrip_via_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let proj = tmp.path().join("proj");
    let out = limner()
        .args(["convert", "--from", "coco-panoptic", "--input"])
        .arg(shared().join("panoptic_examples.json"))
        .arg("--images")
        .arg(shared().join("images"))
        .args(["--to", "project", "--output"])
        .arg(&proj)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = limner().arg("validate").arg(&proj).output().unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    let json = tmp.path().join("exp/panoptic_exp.json");
    let out = limner()
        .args(["convert", "--from", "project", "--input"])
        .arg(&proj)
        .args(["--to", "coco-panoptic", "--output"])
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = limner().arg("validate").arg(&json).output().unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    // The shared sample itself validates clean.
    let v = limner()
        .arg("validate")
        .arg(shared().join("panoptic_examples.json"))
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
}

#[test]
fn validate_reports_every_problem_and_exits_nonzero() {
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("bad.json");
    std::fs::write(
        &json,
        br#"{"images":[{"id":1,"file_name":"../x.jpg","width":2,"height":2}],
             "annotations":[{"image_id":3,"file_name":"x.png","segments_info":[]}],
             "categories":[]}"#,
    )
    .unwrap();
    let v = limner().arg("validate").arg(&json).output().unwrap();
    assert!(!v.status.success());
    let text = String::from_utf8_lossy(&v.stdout);
    assert!(text.contains("images[0].file_name"), "{text}");
    assert!(text.contains("annotations[0].image_id"), "{text}");
    assert!(text.contains("2 problem(s)"), "{text}");
}
