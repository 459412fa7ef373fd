//! `limner gold sample`: a stratified, seeded gold set; `qa compare` shows gold coverage
//! per slice and warns about slices without gold.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use limner::core::ontology::Ontology;
use limner::core::project::Project;

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

/// 30 images: scene indoor x18, outdoor x9, night x3; device a / b alternating.
fn project(dir: &Path) -> PathBuf {
    let root = dir.join("proj");
    std::fs::create_dir_all(root.join("images")).unwrap();
    let mut csv = String::from("file_name,scene,device\n");
    for i in 0..30 {
        let name = format!("{i:02}.png");
        image::GrayImage::new(4, 3)
            .save(root.join("images").join(&name))
            .unwrap();
        let scene = match i {
            0..18 => "indoor",
            18..27 => "outdoor",
            _ => "night",
        };
        csv.push_str(&format!(
            "{name},{scene},{}\n",
            if i % 2 == 0 { "a" } else { "b" }
        ));
    }
    Project::create(&root, "p", "images", Ontology::default()).unwrap();
    std::fs::write(dir.join("tags.csv"), csv).unwrap();
    ok(&limner()
        .args(["tags", "import"])
        .arg(&root)
        .arg(dir.join("tags.csv"))
        .output()
        .unwrap());
    root
}

/// Gold images per scene value.
fn gold_by_scene(root: &Path) -> (usize, usize, usize, Vec<String>) {
    let p = Project::open(root).unwrap();
    let docs = p.load_all_documents().unwrap();
    let mut names: Vec<String> = docs
        .values()
        .filter(|d| d.gold)
        .map(|d| d.image.file_name.clone())
        .collect();
    names.sort();
    let count = |s: &str| {
        docs.values()
            .filter(|d| d.gold && d.tags.get("scene").map(String::as_str) == Some(s))
            .count()
    };
    (count("indoor"), count("outdoor"), count("night"), names)
}

#[test]
fn sample_is_stratified_seeded_and_counts_existing_gold() {
    let tmp = tempfile::tempdir().unwrap();
    let root = project(tmp.path());
    let sample = |root: &Path, args: &[&str]| {
        ok(&limner()
            .args(["gold", "sample"])
            .arg(root)
            .args(args)
            .output()
            .unwrap())
    };
    let out = sample(&root, &["--n", "6", "--by", "scene", "--seed", "7"]);
    assert!(out.contains("marked 6 image(s)"), "{out}");
    // In proportion to 18 / 9 / 3, at least one each: 3 / 2 / 1.
    let (indoor, outdoor, night, first) = gold_by_scene(&root);
    assert_eq!((indoor, outdoor, night), (3, 2, 1), "{out}");

    // Asking again for 6 finds them already there.
    let out = sample(&root, &["--n", "6", "--by", "scene", "--seed", "99"]);
    assert!(out.contains("marked 0 image(s)"), "{out}");

    // The same seed on a fresh project picks the same images; another seed others.
    let other = tempfile::tempdir().unwrap();
    let again = project(other.path());
    sample(&again, &["--n", "6", "--by", "scene", "--seed", "7"]);
    assert_eq!(gold_by_scene(&again).3, first);
    let third = tempfile::tempdir().unwrap();
    let root3 = project(third.path());
    sample(&root3, &["--n", "6", "--by", "scene", "--seed", "8"]);
    assert_ne!(gold_by_scene(&root3).3, first);

    // Per stratum over two keys: 2 of each of the 6 combinations (night has 1 a, 2 b).
    let out = sample(
        &root3,
        &["--n", "2", "--by", "scene,device", "--per-stratum"],
    );
    let (indoor, outdoor, night, names) = gold_by_scene(&root3);
    assert!(indoor >= 4 && outdoor >= 4 && night == 3, "{out}");
    assert!(names.len() >= 11, "{out}");

    // A bad key is refused before anything is written.
    let o = limner()
        .args(["gold", "sample"])
        .arg(&root3)
        .args(["--n", "1", "--by", "scene=x"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert_eq!(gold_by_scene(&root3).3, names);
}

#[test]
fn compare_reports_gold_coverage_and_warns_about_uncovered_slices() {
    let tmp = tempfile::tempdir().unwrap();
    let root = project(tmp.path());
    // Gold only indoors and outdoors: night has none.
    ok(&limner()
        .arg("gold")
        .arg(&root)
        .args(["00.png", "01.png", "20.png"])
        .output()
        .unwrap());
    let html = tmp.path().join("r.html");
    let out = ok(&limner()
        .args(["qa", "compare", "--gold"])
        .arg(&root)
        .arg("--pred")
        .arg(&root)
        .args(["--by", "scene", "--html"])
        .arg(&html)
        .output()
        .unwrap());
    assert!(out.contains("gold coverage by scene"), "{out}");
    let row = |v: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(v) && l.contains(" / "))
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(row("indoor"), "indoor 2 / 18", "{out}");
    assert_eq!(row("outdoor"), "outdoor 1 / 9", "{out}");
    assert_eq!(row("night"), "night 0 / 3", "{out}");
    assert!(
        out.contains("warning: slice scene=night has 3 image(s) and no gold image"),
        "{out}"
    );
    assert!(!out.contains("slice scene=indoor has"), "{out}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Gold coverage: scene") && page.contains("scene=night has 3"));
}
