//! Shared helpers of the interop tests: a generated fixture set and comparisons on the
//! resolved label map. Included with `mod interop_common;`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use limner::core::document::{Geometry, ImageDocument, Segment, Source};
use limner::core::formats::Dataset;
use limner::core::geometry::{BitMask, PolygonWithHoles};
use limner::core::ontology::{Category, Color, Ontology};

/// The shared COCO panoptic sample.
pub fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/interop/coco-panoptic")
}

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Vec<[f64; 2]> {
    vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
}

fn poly(outer: Vec<[f64; 2]>, holes: Vec<Vec<[f64; 2]>>) -> PolygonWithHoles {
    PolygonWithHoles { outer, holes }
}

fn seg(id: u32, class: u32, g: Geometry) -> Segment {
    Segment::new(id, class, g, Source::Manual)
}

/// Class ids used by the fixtures: small ones and 16-bit ones (> 255).
pub const CLASSES: [u32; 4] = [1, 2, 300, 65535];

/// An ontology with the fixture classes (ids above 255 included).
pub fn ontology() -> Ontology {
    let mut o = Ontology::default();
    for (i, &id) in CLASSES.iter().enumerate() {
        o.categories.push(Category {
            id,
            name: format!("class-{id}"),
            color: Color([(i * 60) as u8, 100, 200]),
            isthing: i % 2 == 0,
            supercategory: None,
            description: None,
            retired: false,
            merged_into: None,
        });
    }
    o
}

/// Deterministic pseudo-random numbers (no clock, no external crate).
pub struct Lcg(pub u64);
impl Lcg {
    /// Next value in 0..n.
    pub fn below(&mut self, n: u32) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % u64::from(n)) as u32
    }
}

/// The fixture set: holes, neighbours sharing a border, 1-px structures, objects on the
/// image border, crowd regions, several polygons per instance, 16-bit class ids,
/// diagonal-only contacts and a random blob.
pub fn fixture_set() -> Dataset {
    let (w, h) = (64u32, 48u32);
    let mut a = ImageDocument::new("scene/a.jpg", w, h);
    a.segments = vec![
        // A frame with a hole, and a neighbour sharing its right edge.
        seg(
            1,
            1,
            Geometry::Polygons {
                polygons: vec![poly(
                    rect(4.0, 4.0, 20.0, 20.0),
                    vec![rect(8.0, 8.0, 14.0, 15.0)],
                )],
            },
        ),
        seg(
            2,
            2,
            Geometry::Polygons {
                polygons: vec![poly(rect(20.0, 4.0, 30.0, 20.0), vec![])],
            },
        ),
        // 1-px wide line and 1-px tall line, class 300.
        seg(
            3,
            300,
            Geometry::Polygons {
                polygons: vec![
                    poly(rect(35.0, 2.0, 36.0, 40.0), vec![]),
                    poly(rect(38.0, 30.0, 60.0, 31.0), vec![]),
                ],
            },
        ),
        // On the image border (left, bottom), slanted edge, class 65535.
        seg(
            4,
            65535,
            Geometry::Polygons {
                polygons: vec![poly(
                    vec![[0.0, 30.0], [12.5, 36.2], [18.0, 48.0], [0.0, 48.0]],
                    vec![],
                )],
            },
        ),
        // Covers the top-right corner of the frame: overlap resolved by z.
        {
            let mut s = seg(
                5,
                2,
                Geometry::Polygons {
                    polygons: vec![poly(rect(16.0, 0.0, 26.0, 6.0), vec![])],
                },
            );
            s.z = 1;
            s
        },
    ];
    // A crowd region with a checkerboard part (diagonal-only contacts) as a mask.
    let mut crowd = BitMask::new(w, h);
    for y in 24..44 {
        for x in 40..64 {
            crowd.set(x, y, (x + y) % 2 == 0 || y > 38);
        }
    }
    let mut c = seg(6, 1, Geometry::from_mask(&crowd));
    c.iscrowd = true;
    a.segments.push(c);

    let mut b = ImageDocument::new("b.png", 50, 33);
    let mut rng = Lcg(42);
    let mut blob = BitMask::new(50, 33);
    for y in 0..33 {
        for x in 0..50 {
            let (dx, dy) = (x as f64 - 25.0, y as f64 - 16.0);
            let r = (dx * dx + dy * dy).sqrt();
            let keep = r < 14.0 && !(5.0..7.0).contains(&r) && rng.below(10) > 0;
            blob.set(x, y, keep);
        }
    }
    b.segments = vec![
        seg(3, 2, Geometry::from_mask(&blob)),
        // Whole first row and last column: the image border.
        seg(
            9,
            300,
            Geometry::Polygons {
                polygons: vec![
                    poly(rect(0.0, 0.0, 50.0, 1.0), vec![]),
                    poly(rect(49.0, 0.0, 50.0, 33.0), vec![]),
                ],
            },
        ),
    ];
    Dataset {
        ontology: ontology(),
        documents: vec![a, b],
        images_dir: PathBuf::from("."),
        name: "fixtures".into(),
    }
}

/// One difference found by [`compare`].
pub type Diff = String;

/// Compares two datasets on what a format must keep: per image (matched by file name)
/// the resolved label map pixel for pixel, and per visible segment its class and
/// iscrowd. Returns every difference.
pub fn compare(a: &Dataset, b: &Dataset) -> Vec<Diff> {
    let mut out = Vec::new();
    for da in &a.documents {
        let Some(db) = b
            .documents
            .iter()
            .find(|d| d.image.file_name == da.image.file_name)
        else {
            out.push(format!("{}: image missing", da.image.file_name));
            continue;
        };
        let (ma, mb) = (da.resolve(), db.resolve());
        if (ma.width, ma.height) != (mb.width, mb.height) {
            out.push(format!("{}: size differs", da.image.file_name));
            continue;
        }
        let changed = ma.ids.iter().zip(&mb.ids).filter(|(x, y)| x != y).count();
        if changed > 0 {
            out.push(format!(
                "{}: {changed} pixel(s) changed",
                da.image.file_name
            ));
        }
        for id in ma.stats().keys() {
            let (sa, sb) = (da.segment(*id), db.segment(*id));
            match (sa, sb) {
                (Some(sa), Some(sb)) => {
                    if sa.category_id != sb.category_id {
                        out.push(format!(
                            "{} segment {id}: class {} -> {}",
                            da.image.file_name, sa.category_id, sb.category_id
                        ));
                    }
                    if sa.iscrowd != sb.iscrowd {
                        out.push(format!(
                            "{} segment {id}: iscrowd changed",
                            da.image.file_name
                        ));
                    }
                }
                _ => out.push(format!("{} segment {id}: lost", da.image.file_name)),
            }
        }
    }
    out
}

/// Compares per image the class of every pixel (for formats that keep classes only).
/// Returns every difference.
pub fn compare_classes(a: &Dataset, b: &Dataset) -> Vec<Diff> {
    let classes = |d: &ImageDocument| {
        let map = d.resolve();
        let of: std::collections::HashMap<u32, u32> =
            d.segments.iter().map(|s| (s.id, s.category_id)).collect();
        map.map_ids(|id| of.get(&id).copied().unwrap_or(0))
    };
    let mut out = Vec::new();
    for da in &a.documents {
        match b
            .documents
            .iter()
            .find(|d| d.image.file_name == da.image.file_name)
        {
            None => out.push(format!("{}: image missing", da.image.file_name)),
            Some(db) => {
                let (ca, cb) = (classes(da), classes(db));
                if (ca.width, ca.height) != (cb.width, cb.height) {
                    out.push(format!("{}: size differs", da.image.file_name));
                    continue;
                }
                let n = ca.ids.iter().zip(&cb.ids).filter(|(x, y)| x != y).count();
                if n > 0 {
                    out.push(format!(
                        "{}: {n} pixel class(es) changed",
                        da.image.file_name
                    ));
                }
            }
        }
    }
    out
}

/// A Python with `import_check` importable: a venv named `venv` under the test target
/// folder, created once with `pip install` of `packages`. Panics with the reason when
/// Python or pip is unavailable.
pub fn python_with(venv: &str, import_check: &str, packages: &[&str]) -> PathBuf {
    use std::process::Command;
    // Tests of one binary run on parallel threads: one of them makes the venv while the
    // others wait (two `python -m venv` on one folder fail with "File exists").
    static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = MAKING.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(venv);
    let py = dir.join("bin/python");
    let works = |py: &Path| {
        Command::new(py)
            .args(["-c", import_check])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !works(&py) {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        let installed = made
            && Command::new(&py)
                .args(["-m", "pip", "install", "--quiet"])
                .args(packages)
                .status()
                .is_ok_and(|s| s.success());
        assert!(
            installed && works(&py),
            "could not set up {}",
            dir.display()
        );
    }
    py
}
