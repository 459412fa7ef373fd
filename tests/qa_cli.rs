//! End-to-end: `limner tags import|set`, `limner gold`, `limner qa relabel|stats|agreement`
//! on a project made from the shared COCO panoptic sample; review and tag state survive a
//! reopen.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use limner::core::document::{Action, Geometry, ImageStatus, ReviewState};
use limner::core::project::Project;

fn limner() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_limner"));
    c.env_remove("LIMNER_USER");
    c
}

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/interop/coco-panoptic")
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

/// The shared sample as a project (images copied in by `convert --images`).
fn sample_project(dir: &Path) -> PathBuf {
    let proj = dir.join("proj");
    ok(&limner()
        .args(["convert", "--from", "coco-panoptic", "--input"])
        .arg(shared().join("panoptic_examples.json"))
        .arg("--images")
        .arg(shared().join("images"))
        .args(["--to", "project", "--output"])
        .arg(&proj)
        .output()
        .unwrap());
    proj
}

const A: &str = "000000142238.jpg";
const B: &str = "000000439180.jpg";

#[test]
fn tags_import_set_and_gold_survive_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let proj = sample_project(tmp.path());
    let csv = tmp.path().join("tags.csv");
    std::fs::write(
        &csv,
        format!("file_name,scene,device\r\n{A},outdoor,\"phone, a\"\n{B},indoor,\n"),
    )
    .unwrap();
    let out = ok(&limner()
        .args(["tags", "import"])
        .arg(&proj)
        .arg(&csv)
        .args(["--user", "ana"])
        .output()
        .unwrap());
    assert!(out.contains("2 image(s) changed"), "{out}");
    ok(&limner()
        .args(["tags", "set"])
        .arg(&proj)
        .args([B, "lighting=night", "scene=garage", "--user", "bo"])
        .output()
        .unwrap());
    ok(&limner()
        .arg("gold")
        .arg(&proj)
        .args([A, B, "--user", "qa"])
        .output()
        .unwrap());
    ok(&limner()
        .arg("gold")
        .arg(&proj)
        .args([B, "--unset", "--user", "qa"])
        .output()
        .unwrap());

    let p = Project::open(&proj).unwrap();
    let a = p.load_document(A).unwrap();
    assert_eq!(a.tags["scene"], "outdoor");
    assert_eq!(a.tags["device"], "phone, a");
    assert!(a.gold);
    let b = p.load_document(B).unwrap();
    assert_eq!(b.tags["scene"], "garage");
    assert_eq!(b.tags["lighting"], "night");
    assert!(!b.tags.contains_key("device"), "empty cell leaves it unset");
    assert!(!b.gold);
    let who: Vec<(&str, &Action)> = b.log.iter().map(|e| (e.who.as_str(), &e.action)).collect();
    assert_eq!(
        who,
        [
            ("ana", &Action::Tags),
            ("bo", &Action::Tags),
            ("qa", &Action::Gold { gold: true }),
            ("qa", &Action::Gold { gold: false }),
        ]
    );
    assert!(p.validate().is_empty(), "{:?}", p.validate());
}

#[test]
fn bad_csv_names_file_line_and_column_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let proj = sample_project(tmp.path());
    let before = std::fs::read(Project::open(&proj).unwrap().annotation_path(A)).unwrap();
    let cases = [
        (
            format!("file_name,scene\n{A},outdoor\n{B},indoor,extra\n"),
            "line 3",
            "expected 2 fields",
        ),
        (
            format!("file_name,sc=ene\n{A},outdoor\n"),
            "line 1, column 2",
            "must not contain",
        ),
        (
            format!("image,scene\n{A},outdoor\n"),
            "line 1, column 1",
            "file_name",
        ),
        (
            format!("file_name,scene\n{A},outdoor\nnope.jpg,indoor\n"),
            "line 3, column 1 (file_name)",
            "not in the project",
        ),
        (
            format!("file_name,scene\n{A},\"outdoor\n"),
            "line 2, column 2",
            "unterminated",
        ),
        (
            format!("file_name,scene\n{A},a\n{A},b\n"),
            "line 3, column 1",
            "already listed on line 2",
        ),
    ];
    for (i, (text, place, why)) in cases.iter().enumerate() {
        let csv = tmp.path().join(format!("bad{i}.csv"));
        std::fs::write(&csv, text).unwrap();
        let o = limner()
            .args(["tags", "import"])
            .arg(&proj)
            .arg(&csv)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "case {i} must fail");
        assert!(
            err.contains(&format!("bad{i}.csv")) && err.contains(place) && err.contains(why),
            "case {i}: {err}"
        );
    }
    let after = std::fs::read(Project::open(&proj).unwrap().annotation_path(A)).unwrap();
    assert_eq!(before, after, "a failed import writes nothing");
}

#[test]
fn relabel_sends_the_worst_boundaries_back_to_review() {
    let tmp = tempfile::tempdir().unwrap();
    let proj = sample_project(tmp.path());
    // Spoil one image's boundaries: shift every segment of B by 6 pixels.
    let p = Project::open(&proj).unwrap();
    let mut d = p.load_document(B).unwrap();
    let (w, h) = (d.image.width, d.image.height);
    for s in &mut d.segments {
        let m = s.geometry.to_mask(w, h).unwrap();
        let mut shifted = limner::core::geometry::BitMask::new(w, h);
        for y in 0..h as i64 {
            for x in 0..w as i64 {
                shifted.set(x + 6, y, m.get(x, y));
            }
        }
        s.geometry = Geometry::from_mask(&shifted);
    }
    d.segments
        .retain(|s| s.geometry.to_mask(w, h).is_ok_and(|m| m.area() > 0));
    p.save_document(&d).unwrap();

    let gold = shared().join("panoptic_examples.json");
    let dry = ok(&limner()
        .args(["qa", "relabel"])
        .arg(&proj)
        .arg("--gold")
        .arg(&gold)
        .args(["--worst", "1", "--dry-run"])
        .output()
        .unwrap());
    assert!(dry.contains(B) && !dry.contains(A), "{dry}");
    assert_eq!(p.load_document(B).unwrap().status, ImageStatus::Done);

    let out = ok(&limner()
        .args(["qa", "relabel"])
        .arg(&proj)
        .arg("--gold")
        .arg(&gold)
        .args(["--worst", "1"])
        .env("LIMNER_USER", "qa-bot")
        .output()
        .unwrap());
    assert!(
        out.contains(B) && out.contains("1 image(s) sent back"),
        "{out}"
    );
    let b = Project::open(&proj).unwrap().load_document(B).unwrap();
    assert_eq!(b.status, ImageStatus::Rejected);
    let c = &b.comments.last().unwrap();
    assert!(
        c.text.starts_with("re-review: boundary IoU 0."),
        "{}",
        c.text
    );
    assert!(c.text.contains(" for class "), "{}", c.text);
    assert_eq!(c.author.as_deref(), Some("qa-bot"));
    assert!(b.log.iter().any(|e| e.who == "qa-bot"
        && e.action
            == Action::Status {
                status: ImageStatus::Rejected
            }));
    let a = Project::open(&proj).unwrap().load_document(A).unwrap();
    assert_eq!(a.status, ImageStatus::Done, "only the worst image");

    // One class: person is in both images; an unknown class is an error naming it.
    let out = ok(&limner()
        .args(["qa", "relabel"])
        .arg(&proj)
        .arg("--gold")
        .arg(&gold)
        .args(["--worst", "5", "--class", "person", "--dry-run"])
        .output()
        .unwrap());
    assert!(out.contains("class person"), "{out}");
    let o = limner()
        .args(["qa", "relabel"])
        .arg(&proj)
        .arg("--gold")
        .arg(&gold)
        .args(["--worst", "1", "--class", "unicorn"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("unicorn"));
}

#[test]
fn stats_and_agreement_run_from_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let proj = sample_project(tmp.path());
    let p = Project::open(&proj).unwrap();
    for (f, day, scene) in [(A, "2026-11-01", "outdoor"), (B, "2026-11-03", "indoor")] {
        let mut d = p.load_document(f).unwrap();
        d.record_at(
            "ana",
            Action::Edit { count: 1 },
            &format!("{day}T10:00:00Z"),
        );
        d.tags.insert("scene".into(), scene.into());
        p.save_document(&d).unwrap();
    }
    let json = tmp.path().join("stats.json");
    let out = ok(&limner()
        .args(["qa", "stats"])
        .arg(&proj)
        .args(["--by", "scene", "--split-date", "2026-11-02", "--json"])
        .arg(&json)
        .output()
        .unwrap());
    assert!(
        out.contains("2026-11-01") && out.contains("indoor"),
        "{out}"
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(v["before"]["images"], 1);
    assert_eq!(v["after"]["images"], 1);
    assert!(
        v["shifts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["flagged"] == true),
        "two different images must drift: {v}"
    );
    let bad = limner()
        .args(["qa", "stats"])
        .arg(&proj)
        .args(["--split-date", "11/02/2026"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--split-date"));

    let out = ok(&limner()
        .args(["qa", "agreement"])
        .arg(&proj)
        .arg(shared().join("panoptic_examples.json"))
        .output()
        .unwrap());
    assert!(out.contains("100.0 (2)"), "{out}");
}

#[test]
fn review_and_tag_state_survive_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let proj = sample_project(tmp.path());
    let p = Project::open(&proj).unwrap();
    let mut d = p.load_document(A).unwrap();
    let seg = d.segments[0].id;
    assert!(d.set_review("rev", seg, ReviewState::NeedsFix));
    assert!(d.add_comment("rev", Some(seg), "edge too loose", Some([12.0, 30.5])));
    assert!(d.set_status("rev", ImageStatus::Reviewed));
    d.tags.insert("scene".into(), "outdoor".into());
    d.gold = true;
    d.record("rev", Action::Tags);
    p.save_document(&d).unwrap();
    drop(p);
    let back = Project::open(&proj).unwrap().load_document(A).unwrap();
    assert_eq!(back, d);
    assert_eq!(back.segment(seg).unwrap().review, ReviewState::NeedsFix);
    assert_eq!(back.all_comments().count(), 1);
}
