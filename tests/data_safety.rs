//! A user's data under hostile or careless use (issue: never lose or corrupt data):
//! closed pipes, concurrent writers, output over input, truncated imports, half-done
//! multi-file writes, and errors said once.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use limner::core::lock::{ProjectLock, Writer};
use limner::core::project::Project;

fn limner() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_limner"));
    c.env_remove("LIMNER_USER");
    c
}

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/interop/coco-panoptic")
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", text(o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const A: &str = "000000142238.jpg";
const B: &str = "000000439180.jpg";

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

/// Runs the command with its stdout closed before it writes a byte (`| head -0`).
fn with_closed_stdout(mut c: Command) -> Output {
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

/// Every file under `dir` with its bytes, for "nothing changed" checks.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_none_or(|n| n != ".limner.lock") {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_closed_stdout_stops_output_quietly_and_keeps_the_exit_status() {
    let tmp = tempfile::tempdir().unwrap();
    let proj = sample_project(tmp.path());
    let mut stats = limner();
    stats.args(["qa", "stats"]).arg(&proj);
    let o = with_closed_stdout(stats);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("panicked"),
        "{}",
        text(&o)
    );
    // A writer whose output nobody reads still reports its success, and wrote.
    let mut set = limner();
    set.args(["tags", "set"])
        .arg(&proj)
        .args([A, "scene=night"]);
    let o = with_closed_stdout(set);
    assert!(o.status.success(), "{}", text(&o));
    let d = Project::open(&proj).unwrap().load_document(A).unwrap();
    assert_eq!(d.tags.get("scene").map(String::as_str), Some("night"));
    // validate keeps its failure status (1) when its report cannot be printed.
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, "{").unwrap();
    let mut v = limner();
    v.arg("validate").arg(&bad);
    let o = with_closed_stdout(v);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
}

#[test]
fn concurrent_writers_lose_no_update_and_the_app_lock_is_respected() {
    let tmp = tempfile::tempdir().unwrap();
    let proj = sample_project(tmp.path());
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let proj = proj.clone();
            std::thread::spawn(move || {
                for i in 0..20 {
                    let o = limner()
                        .args(["tags", "set"])
                        .arg(&proj)
                        .args([A, &format!("w{w}k{i}=v")])
                        .output()
                        .unwrap();
                    assert!(o.status.success(), "{}", text(&o));
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let d = Project::open(&proj).unwrap().load_document(A).unwrap();
    let missing: Vec<String> = (0..2)
        .flat_map(|w| (0..20).map(move |i| format!("w{w}k{i}")))
        .filter(|k| !d.tags.contains_key(k))
        .collect();
    assert!(missing.is_empty(), "lost updates: {missing:?}");

    // While the app has the project, a command-line writer is refused, says who has
    // it, and changes nothing.
    let before = snapshot(&proj);
    let app = ProjectLock::acquire(&proj, Writer::App, "(editing)").unwrap();
    for args in [
        vec!["tags", "set", "PROJ", B, "scene=day"],
        vec!["gold", "PROJ", B],
    ] {
        let o = limner()
            .args(args.iter().map(|a| {
                if *a == "PROJ" {
                    proj.as_os_str()
                } else {
                    std::ffi::OsStr::new(a)
                }
            }))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("the Limner app"), "{err}");
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
    }
    drop(app);
    assert!(snapshot(&proj) == before, "a refused writer changed files");
}

#[test]
fn no_command_writes_over_its_input_or_a_file_it_did_not_create() {
    let tmp = tempfile::tempdir().unwrap();
    let proj = sample_project(tmp.path());
    // convert whose output is its own input file.
    let coco = tmp.path().join("coco/instances.json");
    ok(&limner()
        .args(["convert", "--from", "project", "--input"])
        .arg(&proj)
        .args(["--to", "coco-instance", "--output"])
        .arg(&coco)
        .output()
        .unwrap());
    let original = std::fs::read(&coco).unwrap();
    for extra in [&[][..], &["--overwrite"][..]] {
        let o = limner()
            .args(["convert", "--from", "coco-instance", "--input"])
            .arg(&coco)
            .args(["--images"])
            .arg(shared().join("images"))
            .args(["--to", "coco-instance", "--output"])
            .arg(&coco)
            .args(extra)
            .output()
            .unwrap();
        assert!(!o.status.success(), "{}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("input"),
            "{}",
            text(&o)
        );
        assert_eq!(std::fs::read(&coco).unwrap(), original);
    }

    // An export into a folder that holds a file of the user's with the same name.
    let out = tmp.path().join("mine");
    std::fs::create_dir_all(&out).unwrap();
    let users = out.join("instances.json");
    std::fs::write(&users, b"my notes").unwrap();
    let export = |extra: &[&str]| {
        limner()
            .args(["convert", "--from", "project", "--input"])
            .arg(&proj)
            .args(["--to", "coco-instance", "--output"])
            .arg(&users)
            .args(extra)
            .output()
            .unwrap()
    };
    let o = export(&[]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--overwrite"),
        "{}",
        text(&o)
    );
    assert_eq!(std::fs::read(&users).unwrap(), b"my notes");
    ok(&export(&["--overwrite"]));
    assert_ne!(std::fs::read(&users).unwrap(), b"my notes");
    // Limner's own export may be redone in place without the flag.
    ok(&export(&[]));

    // An export into a project's own folder is refused; the project still validates.
    let before = snapshot(&proj);
    let o = limner()
        .args(["convert", "--from", "project", "--input"])
        .arg(&proj)
        .args(["--to", "semantic-png", "--output"])
        .arg(proj.join("export"))
        .output()
        .unwrap();
    assert!(!o.status.success(), "{}", text(&o));
    assert!(snapshot(&proj) == before);
    ok(&limner().arg("validate").arg(&proj).output().unwrap());

    // predict --out equal to --image (checked before any model is loaded).
    let photo = tmp.path().join("photo.jpg");
    std::fs::copy(shared().join("images").join(A), &photo).unwrap();
    let prompts = tmp.path().join("p.json");
    std::fs::write(
        &prompts,
        r#"{"points": [{"x": 10, "y": 10, "positive": true}]}"#,
    )
    .unwrap();
    let o = limner()
        .args(["predict", "--image"])
        .arg(&photo)
        .arg("--prompts")
        .arg(&prompts)
        .arg("--out")
        .arg(&photo)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(
        std::fs::read(&photo).unwrap(),
        std::fs::read(shared().join("images").join(A)).unwrap()
    );
}

#[test]
fn a_truncated_cvat_file_is_refused_with_its_position() {
    let tmp = tempfile::tempdir().unwrap();
    let proj = sample_project(tmp.path());
    let xml = tmp.path().join("cvat/annotations.xml");
    ok(&limner()
        .args(["convert", "--from", "project", "--input"])
        .arg(&proj)
        .args(["--to", "cvat", "--output"])
        .arg(&xml)
        .output()
        .unwrap());
    let whole = std::fs::read_to_string(&xml).unwrap();
    // Cut at a line break in the middle: every element before it is well formed.
    let cut = whole[..whole.len() / 2].rfind('\n').unwrap() + 1;
    let half = tmp.path().join("half.xml");
    std::fs::write(&half, &whole[..cut]).unwrap();
    let o = limner()
        .args(["convert", "--from", "cvat", "--input"])
        .arg(&half)
        .arg("--images")
        .arg(shared().join("images"))
        .args(["--to", "project", "--output"])
        .arg(tmp.path().join("from-half"))
        .output()
        .unwrap();
    assert!(!o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("half.xml") && err.contains("truncated") && err.contains("byte "),
        "{err}"
    );
    assert!(!tmp.path().join("from-half").exists());
}

/// A project made from a plain folder: `a.png` and `sub/b.png`.
fn folder_project(dir: &Path) -> PathBuf {
    let root = dir.join("plain");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    for p in ["a.png", "sub/b.png"] {
        image::RgbImage::from_pixel(8, 6, image::Rgb([90, 120, 30]))
            .save(root.join(p))
            .unwrap();
    }
    Project::open(&root).unwrap();
    root
}

#[test]
fn a_multi_file_command_that_fails_midway_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let root = folder_project(tmp.path());
    ok(&limner()
        .args(["tags", "set"])
        .arg(&root)
        .args(["a.png", "scene=old"])
        .output()
        .unwrap());
    // The second document cannot be written: a file stands where its folder goes.
    std::fs::write(root.join("annotations/sub"), b"in the way").unwrap();
    let csv = tmp.path().join("tags.csv");
    std::fs::write(&csv, "file_name,scene\na.png,new\nsub/b.png,new\n").unwrap();
    let before = snapshot(&root);
    let o = limner()
        .args(["tags", "import"])
        .arg(&root)
        .arg(&csv)
        .output()
        .unwrap();
    assert!(!o.status.success(), "{}", text(&o));
    assert!(snapshot(&root) == before, "the first document was written");

    // convert to a single-file format whose output path is a folder: refused up front.
    let folder = tmp.path().join("a-folder");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::remove_file(root.join("annotations/sub")).unwrap();
    let o = limner()
        .args(["convert", "--from", "project", "--input"])
        .arg(&root)
        .args(["--to", "coco-panoptic", "--output"])
        .arg(&folder)
        .output()
        .unwrap();
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is a folder"),
        "{}",
        text(&o)
    );
    assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 0);
}

#[test]
fn errors_are_said_once_and_bad_prompts_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let o = limner()
        .args(["convert", "--from", "coco-panoptic", "--input"])
        .arg(tmp.path().join("missing.json"))
        .args(["--to", "project", "--output"])
        .arg(tmp.path().join("p"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    let os = std::io::Error::from(std::io::ErrorKind::NotFound).to_string();
    let once = err
        .matches("No such file")
        .count()
        .max(err.matches(&os).count());
    assert_eq!(once, 1, "{err}");

    // A click on the image's far corner (allowed by the prompt file: coordinates run
    // 0..=width) takes the last pixel for every backend; a box for
    // the superpixel brush is a bad prompt (exit 2), not a failure (exit 1).
    let img = tmp.path().join("img.png");
    image::RgbImage::from_fn(40, 30, |x, _| {
        if x < 20 {
            image::Rgb([200, 30, 30])
        } else {
            image::Rgb([30, 30, 200])
        }
    })
    .save(&img)
    .unwrap();
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/superpixel.json");
    let run = |prompts: &str, out: &str| {
        let p = tmp.path().join(format!("{out}.json"));
        std::fs::write(&p, prompts).unwrap();
        limner()
            .args(["predict", "--image"])
            .arg(&img)
            .arg("--prompts")
            .arg(&p)
            .arg("--out")
            .arg(tmp.path().join(format!("{out}.png")))
            .arg("--model")
            .arg(&model)
            .output()
            .unwrap()
    };
    ok(&run(
        r#"{"points": [{"x": 40, "y": 30, "positive": true}]}"#,
        "last",
    ));
    let o = run(r#"{"box": [2, 2, 10, 10]}"#, "box");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}
