//! `qa suspects`: errors planted in a clean labeled set (held-out ECSSD photos and
//! masks) rank at the top of the click model's disagreement list.

use std::path::{Path, PathBuf};

use limner::core::document::Geometry;
use limner::core::formats::{self, Format};
use limner::core::geometry::BitMask;
use limner::core::qa::LabelSet;
use limner::model::{self, suspects};

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/interop/coco-panoptic")
}

fn to_gray(m: &BitMask) -> image::GrayImage {
    image::GrayImage::from_fn(m.width, m.height, |x, y| {
        image::Luma([if m.get(i64::from(x), i64::from(y)) {
            255
        } else {
            0
        }])
    })
}

fn from_gray(g: &image::GrayImage) -> BitMask {
    let mut m = BitMask::new(g.width(), g.height());
    for (x, y, p) in g.enumerate_pixels() {
        m.set(i64::from(x), i64::from(y), p[0] != 0);
    }
    m
}

/// The planted errors: (image, segment id, what was done).
type Planted = Vec<(String, u32, &'static str)>;

/// 24 held-out ECSSD photos (every 10th sorted id, as the training scripts hold them
/// out) with their salient-object masks as one segment each, and six planted errors:
/// dilated / eroded by 8-12 px, shifted by 12 px, the lower half dropped. Written as a
/// project.
fn planted_project(dir: &Path) -> (PathBuf, Planted) {
    use imageproc::distance_transform::Norm;
    use limner::core::document::{ImageDocument, Segment, Source};
    use limner::core::ontology::{Category, Color, Ontology};
    let root = shared().join("../../data/ecssd");
    let mut ids: Vec<String> = std::fs::read_dir(root.join("images"))
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().to_string_lossy().into_owned();
            n.strip_suffix(".jpg").map(str::to_string)
        })
        .collect();
    ids.sort();
    let ids: Vec<String> = ids.into_iter().step_by(10).take(24).collect();
    let mut ontology = Ontology::default();
    ontology.categories.push(Category {
        id: 1,
        name: "object".into(),
        color: Color([200, 80, 40]),
        isthing: true,
        supercategory: None,
        description: None,
        retired: false,
        merged_into: None,
    });
    let plan: [(usize, &'static str); 6] = [
        (2, "dilated 10 px"),
        (6, "eroded 10 px"),
        (10, "shifted 12 px"),
        (13, "half dropped"),
        (17, "dilated 8 px"),
        (21, "eroded 12 px"),
    ];
    let mut documents = Vec::new();
    let mut planted = Vec::new();
    for (k, id) in ids.iter().enumerate() {
        let mask = image::open(root.join("masks").join(format!("{id}.png")))
            .unwrap()
            .to_luma8();
        let m = from_gray(&mask);
        let kind = plan.iter().find(|(i, _)| *i == k).map(|(_, kind)| *kind);
        let changed = match kind {
            None => m.clone(),
            Some(kind) if kind.starts_with("dilated") => {
                let r = if kind.contains("10") { 10 } else { 8 };
                from_gray(&imageproc::morphology::dilate(&to_gray(&m), Norm::LInf, r))
            }
            Some(kind) if kind.starts_with("eroded") => {
                let r = if kind.contains("10") { 10 } else { 12 };
                from_gray(&imageproc::morphology::erode(&to_gray(&m), Norm::LInf, r))
            }
            Some("shifted 12 px") => {
                let mut s = BitMask::new(m.width, m.height);
                for y in 0..i64::from(m.height) {
                    for x in 0..i64::from(m.width) {
                        if m.get(x, y) {
                            s.set(x + 12, y + 6, true);
                        }
                    }
                }
                s
            }
            Some(_) => {
                let b = m.bounds();
                let cut = (b.y0 + b.y1) / 2;
                let mut s = m.clone();
                for y in cut..m.height {
                    for x in 0..m.width {
                        s.set(i64::from(x), i64::from(y), false);
                    }
                }
                s
            }
        };
        let name = format!("{id}.jpg");
        let mut d = ImageDocument::new(&name, m.width, m.height);
        d.segments.push(Segment::new(
            1,
            1,
            Geometry::from_mask(&changed),
            Source::Manual,
        ));
        if let Some(kind) = kind {
            planted.push((name, 1, kind));
        }
        documents.push(d);
    }
    let data = formats::Dataset {
        ontology,
        documents,
        images_dir: root.join("images"),
        name: "ecssd-planted".into(),
    };
    let proj = dir.join("proj");
    formats::write(Format::Project, data, &proj).unwrap();
    (proj, planted)
}

#[test]
fn planted_label_errors_rank_at_the_top() {
    let tmp = tempfile::tempdir().unwrap();
    let (proj, planted) = planted_project(tmp.path());
    assert_eq!(planted.len(), 6);
    let set = LabelSet::load(&proj, None).unwrap();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/limner-click-v2.json");
    let mut predictor = model::load_predictor(&config).unwrap();
    let images = set.images_dir.clone().unwrap();
    let (found, skipped) = suspects::find_suspects(
        &set,
        &images,
        predictor.as_mut(),
        &suspects::SuspectOptions::default(),
        |_, _| {},
    )
    .unwrap();
    assert!(skipped.is_empty(), "{skipped:?}");
    let rank = |img: &str, id: u32| {
        found
            .iter()
            .position(|s| s.image == img && s.segment_id == id)
            .map(|r| r + 1)
    };
    let ranks: Vec<(usize, &str)> = planted
        .iter()
        .map(|(img, id, kind)| (rank(img, *id).unwrap_or(usize::MAX), *kind))
        .collect();
    let k = planted.len();
    let at_k = ranks.iter().filter(|(r, _)| *r <= k).count();
    eprintln!(
        "planted ranks among {} segments: {ranks:?}; precision@{k} {at_k}/{k}",
        found.len()
    );
    for s in found.iter().take(12) {
        eprintln!(
            "  {} {} {} score {:.3} iou {:.3} conf {:.2}",
            s.image, s.segment_id, s.category, s.check.score, s.check.iou, s.check.confidence
        );
    }
    // Measured: ranks 1-5 are planted (precision@6 = 5/6); the dropped half ranks 17th
    // (the box of what is left keeps the model to it).
    let at_8 = ranks.iter().filter(|(r, _)| *r <= 8).count();
    assert!(
        at_k >= 4 && at_8 >= 5,
        "planted errors not at the top: {ranks:?}"
    );
}

#[test]
fn the_app_finds_suspects_and_k_jumps_to_them_zoomed() {
    use egui_kittest::Harness;
    use std::time::{Duration, Instant};
    let tmp = tempfile::tempdir().unwrap();
    let (proj, planted) = planted_project(tmp.path());
    let project = limner::core::project::Project::open(&proj).unwrap();
    let app = limner::app::LimnerApp::with_project(project);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1100.0, 700.0))
        .build_eframe(|_| app);
    h.step();
    h.state_mut().find_suspects();
    let start = Instant::now();
    while h.state().jobs.is_running("label suspects") {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "suspects never finished"
        );
        std::thread::sleep(Duration::from_millis(50));
        h.step();
    }
    h.step();
    let top = h.state().review.suspects[0].clone();
    assert!(
        planted
            .iter()
            .any(|(img, id, _)| *img == top.image && *id == top.segment)
    );
    h.key_press(egui::Key::K);
    let start = Instant::now();
    while !(h.state().canvas.has_image() && h.state().images[h.state().current].name == top.image) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "suspect image never opened"
        );
        std::thread::sleep(Duration::from_millis(10));
        h.step();
    }
    h.step();
    assert_eq!(h.state().canvas.selected, Some(top.segment));
    // The view is centred on the suspect's box (within a few dozen px: the side panel
    // may change width once a segment is selected).
    let [x, y, w, bh] = top.bbox;
    let c = h.state().canvas.view.screen_from_image(egui::pos2(
        x as f32 + w as f32 / 2.0,
        y as f32 + bh as f32 / 2.0,
    ));
    let r = h.state().review_canvas_rect();
    let d = c - r.center();
    assert!(
        d.x.abs() < r.width() / 8.0 && d.y.abs() < r.height() / 8.0,
        "{c:?} vs {:?}",
        r.center()
    );
}
