//! Crash loop: `tags import` and `convert` killed (SIGKILL) at random moments, again and
//! again. After every kill each file on disk is its old or its new version, the project
//! loads and validates, and the export validates.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use limner::core::project::Project;

fn limner() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_limner"));
    c.env_remove("LIMNER_USER")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// A small deterministic generator for the kill moments.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Starts the command, kills it after `ms` milliseconds (if still running).
fn kill_after(mut c: Command, ms: u64) -> bool {
    let mut child = c.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(ms));
    let killed = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    child.wait().unwrap();
    killed
}

fn project_with_images(dir: &Path, n: usize) -> PathBuf {
    let root = dir.join("proj");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    for i in 0..n {
        let name = if i % 2 == 0 {
            format!("img{i:02}.png")
        } else {
            format!("sub/img{i:02}.png")
        };
        image::RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([(x * 4) as u8, (y * 5) as u8, (i * 9) as u8])
        })
        .save(root.join(name))
        .unwrap();
    }
    Project::open(&root).unwrap();
    root
}

#[test]
fn tags_import_killed_at_random_moments_leaves_old_or_new_files() {
    let tmp = tempfile::tempdir().unwrap();
    let root = project_with_images(tmp.path(), 40);
    let p = Project::open(&root).unwrap();
    let (names, _) = p.list_images().unwrap();
    let csv = |round: usize| {
        let path = tmp.path().join(format!("tags{round}.csv"));
        let mut s = String::from("file_name,round\n");
        for n in &names {
            s.push_str(&format!("{n},r{round}\n"));
        }
        std::fs::write(&path, s).unwrap();
        path
    };
    let mut rng = Lcg(7);
    let mut killed = 0;
    // Round r's values are "r{r}"; a kill leaves each image at a value from an earlier
    // round or this one, never a broken file.
    for round in 1..=60 {
        let mut c = limner();
        c.args(["tags", "import"]).arg(&root).arg(csv(round));
        killed += usize::from(kill_after(c, rng.below(40)));
        let p = Project::open(&root).unwrap();
        let docs = p
            .load_all_documents()
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        for d in docs.values() {
            let v = d.tags.get("round").map(String::as_str).unwrap_or("r0");
            let r: usize = v[1..].parse().unwrap();
            assert!(r <= round, "round {round}: {v}");
        }
        assert!(p.validate().is_empty(), "round {round}: {:?}", p.validate());
    }
    // The kills must land while the command runs, or the test proves nothing.
    assert!(killed >= 10, "only {killed} of 60 runs were killed midway");
    // And a run that is let finish brings every image to its round.
    let status = limner()
        .args(["tags", "import"])
        .arg(&root)
        .arg(csv(61))
        .status()
        .unwrap();
    assert!(status.success());
    let docs = Project::open(&root).unwrap().load_all_documents().unwrap();
    assert_eq!(docs.len(), names.len());
    assert!(docs.values().all(|d| d.tags["round"] == "r61"));
}

#[test]
fn convert_killed_at_random_moments_never_leaves_a_broken_export() {
    let tmp = tempfile::tempdir().unwrap();
    let root = project_with_images(tmp.path(), 40);
    // 40 images: 40 PNGs and a JSON to write, so kills land midway.
    let json = tmp.path().join("out/panoptic.json");
    let mut rng = Lcg(11);
    let mut killed = 0;
    for round in 0..40 {
        let mut c = limner();
        c.args(["convert", "--from", "project", "--input"])
            .arg(&root)
            .args(["--to", "coco-panoptic", "--output"])
            .arg(&json);
        killed += usize::from(kill_after(c, rng.below(60)));
        if json.exists() {
            let ok = limner().arg("validate").arg(&json).status().unwrap();
            assert!(ok.success(), "round {round}: the export does not validate");
        }
    }
    assert!(killed >= 5, "only {killed} of 40 runs were killed midway");
    let out = limner()
        .args(["convert", "--from", "project", "--input"])
        .arg(&root)
        .args(["--to", "coco-panoptic", "--output"])
        .arg(&json)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "an export killed before can be redone in place: {:?}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        limner()
            .arg("validate")
            .arg(&json)
            .status()
            .unwrap()
            .success()
    );
}
