//! The fuzz targets: what each importer is fed and what it must survive. Shared by the
//! AFL++ harness (`fuzz/src/main.rs`, built by `cargo afl`) and by the regression test
//! (`tests/fuzz_regressions.rs`), which replays the seeds and every minimized crash in
//! `.ci/run`, so a fixed crash stays fixed.
//!
//! A target may return any error; it must not panic, abort or hang. Importers of folders
//! get their input as a *pack*: several files in one byte string, each introduced by a
//! line `#### relative/path` (see [`unpack`]), so the fuzzer mutates the main file, the
//! sidecars and the PNGs alike.

use std::path::Path;

use limner::core::document::ImageDocument;
use limner::core::formats::{self, Format};
use limner::core::ontology::Ontology;
use limner::core::project::Project;

/// Every target, by name (the `LIMNER_FUZZ_TARGET` of the harness and the folder names
/// under `fuzz/seeds/` and `fuzz/regressions/`).
pub const TARGETS: &[&str] = &[
    "coco-panoptic",
    "coco-instance",
    "semantic-png",
    "voc",
    "yolo-seg",
    "cvat",
    "labelme",
    "project",
    "document",
    "ontology",
    "prompts",
    "tags-csv",
];

/// Documents larger than this are not resolved into a label map by the harness: a
/// fuzzed size within the documented 500 MP limit is legitimate but would spend the
/// fuzzer's time allocating, not exploring.
const MAX_RESOLVE_PIXELS: u64 = 1 << 22;

/// The separator line of a pack.
pub const PACK_MARK: &[u8] = b"#### ";

/// Splits a pack into (relative path, contents). Records whose path is not a plain
/// relative path of at most 4 short components are dropped, so a mutated pack never
/// writes outside its scratch folder.
pub fn unpack(data: &[u8]) -> Vec<(String, &[u8])> {
    let mut out = Vec::new();
    let mut starts = Vec::new();
    if data.starts_with(PACK_MARK) {
        starts.push(0);
    }
    for i in 0..data.len() {
        if data[i] == b'\n' && data[i + 1..].starts_with(PACK_MARK) {
            starts.push(i + 1);
        }
    }
    for (k, &s) in starts.iter().enumerate() {
        // The newline before the next mark belongs to the separator, not the file.
        let end = starts.get(k + 1).map_or(data.len(), |&n| n - 1);
        let record = &data[s + PACK_MARK.len()..end.max(s + PACK_MARK.len())];
        let (name, body) = match record.iter().position(|&b| b == b'\n') {
            Some(n) => (&record[..n], &record[n + 1..]),
            None => (record, &record[record.len()..]),
        };
        let Ok(name) = std::str::from_utf8(name) else {
            continue;
        };
        let parts: Vec<&str> = name.split('/').collect();
        let plain = parts.len() <= 4
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.len() <= 64
                    && *p != "."
                    && *p != ".."
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            });
        if plain && out.len() < 32 {
            out.push((name.to_string(), body));
        }
    }
    out
}

/// Joins files into a pack (the inverse of [`unpack`], for writing seeds).
pub fn pack(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, (name, body)) in files.iter().enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        out.extend_from_slice(PACK_MARK);
        out.extend_from_slice(name.as_bytes());
        out.push(b'\n');
        out.extend_from_slice(body);
    }
    out
}

/// Writes a pack's files under `dir`. A file whose path runs through an earlier file
/// (or the reverse) is skipped.
fn write_pack(dir: &Path, data: &[u8]) {
    for (name, body) in unpack(data) {
        let path = dir.join(&name);
        if let Some(parent) = path.parent()
            && std::fs::create_dir_all(parent).is_err()
        {
            continue;
        }
        let _ = std::fs::write(&path, body);
    }
}

/// The format a target imports, and the input path inside the unpacked folder.
fn format_of(target: &str) -> Option<(Format, &'static str)> {
    Some(match target {
        "coco-panoptic" => (Format::CocoPanoptic, "panoptic.json"),
        "coco-instance" => (Format::CocoInstance, "instances.json"),
        "cvat" => (Format::Cvat, "annotations.xml"),
        "semantic-png" => (Format::SemanticPng, ""),
        "voc" => (Format::Voc, ""),
        "yolo-seg" => (Format::YoloSeg, ""),
        "labelme" => (Format::Labelme, ""),
        "project" => (Format::Project, ""),
        _ => return None,
    })
}

/// A scratch folder in memory where there is one (`/dev/shm`), else the temp folder.
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(d) = tempfile::Builder::new()
            .prefix("limner-fuzz")
            .tempdir_in(shm)
    {
        return d;
    }
    tempfile::Builder::new()
        .prefix("limner-fuzz")
        .tempdir()
        .expect("a temp folder")
}

/// What a successful import is then put through, as `convert` and the app would:
/// validation against the ontology and resolution into a label map.
fn use_dataset(data: &formats::Dataset, origin: &Path) {
    let _ = data.ontology.validate(origin);
    for doc in &data.documents {
        let _ = doc.validate(&data.ontology, origin);
        if u64::from(doc.image.width) * u64::from(doc.image.height) <= MAX_RESOLVE_PIXELS {
            let map = doc.resolve();
            std::hint::black_box(map);
        }
    }
}

/// Runs one target on one input: true when the input was accepted (imported, parsed).
/// Panics only where Limner itself panics.
pub fn run(target: &str, data: &[u8]) -> bool {
    let dir = scratch();
    let root = dir.path();
    if let Some((format, input)) = format_of(target) {
        write_pack(root, data);
        let input = root.join(input);
        return match formats::read(format, &input, None) {
            Ok(d) => {
                use_dataset(&d, &input);
                true
            }
            Err(_) => false,
        };
    }
    match target {
        "document" => {
            // The document parser and its rules; the check that a file sits where its
            // `image.file_name` says is the `project` target's.
            let path = root.join("a.png.json");
            let _ = std::fs::write(&path, data);
            let doc = limner::core::io::read_json::<ImageDocument>(&path);
            let Ok(doc) = doc else { return false };
            let valid = doc.validate(&fixture_ontology(), &path).is_empty();
            if u64::from(doc.image.width) * u64::from(doc.image.height) <= MAX_RESOLVE_PIXELS {
                std::hint::black_box(doc.resolve());
            }
            valid
        }
        "ontology" => {
            let path = root.join("ontology.json");
            let _ = std::fs::write(&path, data);
            let Ok(o) = Ontology::load(&path) else {
                return false;
            };
            for c in &o.categories {
                std::hint::black_box(o.resolve(c.id));
            }
            true
        }
        "prompts" => {
            let path = root.join("prompts.json");
            let _ = std::fs::write(&path, data);
            tiny_png(&root.join("previous.png"));
            limner::model::request::read_prompt_file(&path, 64, 48).is_ok()
        }
        "tags-csv" => {
            let Ok(project) =
                Project::create(&root.join("p"), "fuzz", "images", Ontology::default())
            else {
                return false;
            };
            let _ = std::fs::create_dir_all(project.images_dir());
            for name in ["a.png", "b.png"] {
                tiny_png(&project.images_dir().join(name));
            }
            let csv = root.join("tags.csv");
            let _ = std::fs::write(&csv, data);
            limner::core::qa::tags::import_csv(&project, &csv, "fuzz").is_ok()
        }
        other => panic!("no fuzz target {other:?}; the targets are {TARGETS:?}"),
    }
}

/// The ontology documents are validated against: classes 1, 2, 300 and 65535, as in
/// the interop fixture set the seeds come from.
fn fixture_ontology() -> Ontology {
    let mut o = Ontology::default();
    for (i, id) in [1u32, 2, 300, 65535].into_iter().enumerate() {
        o.categories.push(limner::core::ontology::Category {
            id,
            name: format!("class-{id}"),
            color: limner::core::ontology::Color([(i * 60) as u8, 100, 200]),
            isthing: i % 2 == 0,
            supercategory: None,
            description: None,
            retired: false,
            merged_into: None,
        });
    }
    o
}

/// Writes a 64x48 all-zero grayscale PNG, for the files a target needs beside its input.
pub fn tiny_png(path: &Path) {
    let _ = image::GrayImage::new(64, 48).save(path);
}
