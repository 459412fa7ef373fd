//! The prompt tools in the real UI (egui_kittest) with a stand-in predictor whose
//! inference blocks until the test releases it: frames keep running while inference is
//! pending, prompts placed meanwhile are not lost (latest request wins), and Enter
//! accepts the mask as a bitmap or as an exact polygon.

mod app_common;
use app_common::click_image;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use limner::app::LimnerApp;
use limner::app::assist::AssistWorker;
use limner::app::canvas::Tool;
use limner::core::document::Geometry;
use limner::core::geometry::BitMask;
use limner::core::ontology::Color;
use limner::core::project::Project;
use limner::model::prompt::PromptKind;
use limner::model::{MaskPredictor, ModelError, Prediction, Prompts};

/// Answers with a 21x21 square around the newest click, once released.
struct GatedPredictor {
    release: Receiver<()>,
    /// Predictions that ran only after a release (not after a time-out).
    released: Arc<AtomicUsize>,
    /// Predictions started (the worker took the request).
    started: Arc<AtomicUsize>,
}

impl MaskPredictor for GatedPredictor {
    fn supports(&self) -> &[PromptKind] {
        &[PromptKind::Click]
    }

    fn predict(
        &mut self,
        image: &image::RgbImage,
        prompts: &Prompts,
    ) -> Result<Prediction, ModelError> {
        self.started.fetch_add(1, Ordering::SeqCst);
        // A UI thread that waited for inference would starve the test of frames until
        // this times out; then `released` stays behind and the test fails.
        if self.release.recv_timeout(Duration::from_secs(10)).is_ok() {
            self.released.fetch_add(1, Ordering::SeqCst);
        }
        let (w, h) = image.dimensions();
        let c = prompts.clicks.last().expect("a click");
        let mut mask = BitMask::new(w, h);
        for y in (c.y as i64 - 10)..=(c.y as i64 + 10) {
            for x in (c.x as i64 - 10)..=(c.x as i64 + 10) {
                mask.set(x, y, true);
            }
        }
        Ok(Prediction {
            width: w,
            height: h,
            probability: mask.data.iter().map(|&v| f32::from(v)).collect(),
            mask,
        })
    }
}

/// The app with the gated predictor: the release sender, and the released and started
/// prediction counts.
type Gated = (
    Harness<'static, LimnerApp>,
    Sender<()>,
    Arc<AtomicUsize>,
    Arc<AtomicUsize>,
);

fn harness(dir: &std::path::Path) -> Gated {
    image::RgbImage::from_fn(200, 100, |x, _| image::Rgb([(x % 256) as u8, 80, 120]))
        .save(dir.join("img.png"))
        .unwrap();
    let mut p = Project::open(dir).unwrap();
    p.ontology.add("thing", Color([200, 30, 30]), true).unwrap();
    p.save_ontology().unwrap();
    let (tx, rx) = channel();
    let released = Arc::new(AtomicUsize::new(0));
    let r2 = released.clone();
    let started = Arc::new(AtomicUsize::new(0));
    let s2 = started.clone();
    let mut app = LimnerApp::new(p, None);
    app.assist = AssistWorker::start_with(Box::new(move || {
        Ok(Box::new(GatedPredictor {
            release: rx,
            released: r2,
            started: s2,
        }) as Box<dyn MaskPredictor>)
    }));
    app.canvas.tool = Tool::Click;
    let mut h = Harness::builder()
        .with_size(egui::vec2(1100.0, 700.0))
        .build_eframe(|_| app);
    let start = Instant::now();
    while !h.state().canvas.has_image() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "image never decoded"
        );
        std::thread::sleep(Duration::from_millis(10));
        h.step();
    }
    h.step();
    (h, tx, released, started)
}

fn wait_for_preview(h: &mut Harness<'_, LimnerApp>) {
    let start = Instant::now();
    while h.state().assist.is_busy() || h.state().draft.preview.is_none() {
        assert!(start.elapsed() < Duration::from_secs(20), "no preview");
        std::thread::sleep(Duration::from_millis(10));
        h.step();
    }
}

#[test]
fn frames_run_while_inference_is_pending_and_the_latest_prompt_wins() {
    let dir = tempfile::tempdir().unwrap();
    let (mut h, release, released, started) = harness(dir.path());
    click_image(&mut h, 40.5, 50.5);
    // The predictor is blocked: the UI keeps drawing frames, and takes another click.
    // (Frames until the worker has taken the first request: on a loaded machine it may
    // not have yet, and would then take both requests at once, newest only.)
    let start = Instant::now();
    for frame in 0.. {
        if frame >= 10 && started.load(Ordering::SeqCst) == 1 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no prediction started"
        );
        std::thread::sleep(Duration::from_millis(1));
        h.step();
    }
    assert!(h.state().assist.is_busy(), "inference is pending");
    assert!(h.state().draft.preview.is_none());
    click_image(&mut h, 150.5, 50.5);
    assert_eq!(
        h.state().draft.prompts.clicks.len(),
        2,
        "the click placed while pending counts"
    );
    release.send(()).unwrap();
    release.send(()).unwrap();
    wait_for_preview(&mut h);
    assert_eq!(
        released.load(Ordering::SeqCst),
        2,
        "both runs waited for the release"
    );
    let preview = h.state().draft.preview.clone().unwrap();
    assert!(
        preview.get(150, 50) && !preview.get(40, 50),
        "the newest request's answer is shown"
    );
}

#[test]
fn enter_accepts_the_mask_as_an_exact_polygon() {
    let dir = tempfile::tempdir().unwrap();
    let (mut h, release, _, _) = harness(dir.path());
    h.state_mut().accept_as_polygon = true;
    h.state_mut().polygon_tolerance = 0.0;
    release.send(()).unwrap();
    click_image(&mut h, 60.5, 40.5);
    wait_for_preview(&mut h);
    h.key_press(egui::Key::Enter);
    h.step();
    let s = h.state().session.as_ref().unwrap();
    assert_eq!(s.doc.segments.len(), 1, "Enter accepts");
    let seg = &s.doc.segments[0];
    assert!(
        matches!(seg.geometry, Geometry::Polygons { .. }),
        "a polygon, not a bitmap"
    );
    let mask = seg.geometry.to_mask(200, 100).unwrap();
    assert_eq!(mask.area(), 21 * 21, "exact polygon covers the same pixels");
    assert!(mask.get(50, 30) && mask.get(70, 50) && !mask.get(71, 50));
}

#[test]
fn the_threshold_level_slider_reruns_the_preview_as_it_moves() {
    // A grey ramp (grey = x): the threshold assist's mask from a click on the bright
    // side ends where the level is, so moving the level slider moves the mask's edge.
    let dir = tempfile::tempdir().unwrap();
    image::RgbImage::from_fn(200, 100, |x, _| {
        let v = x as u8;
        image::Rgb([v, v, v])
    })
    .save(dir.path().join("ramp.png"))
    .unwrap();
    let mut p = Project::open(dir.path()).unwrap();
    p.ontology.add("thing", Color([200, 30, 30]), true).unwrap();
    p.save_ontology().unwrap();
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/threshold.json");
    let mut app = LimnerApp::new(p, None);
    app.assist = AssistWorker::start(Some(config));
    app.canvas.tool = Tool::Click;
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 700.0))
        .build_eframe(|_| app);
    let start = Instant::now();
    while !h.state().canvas.has_image() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "image never decoded"
        );
        std::thread::sleep(Duration::from_millis(10));
        h.step();
    }
    h.step();
    click_image(&mut h, 180.5, 50.5);
    wait_for_preview(&mut h);
    let otsu = h.state().draft.preview.clone().unwrap();
    assert!(
        otsu.get(190, 50) && !otsu.get(20, 50),
        "Otsu: the bright end"
    );
    let slider = || egui::accesskit::Role::Slider;
    for (level, edge) in [(60u8, 61u32), (150, 151)] {
        h.get_by_role_and_label(slider(), "level")
            .set_value_accesskit(f64::from(level));
        h.step();
        assert_eq!(h.state().assist.threshold_level, level);
        wait_for_preview(&mut h);
        let m = h.state().draft.preview.clone().unwrap();
        assert!(
            m.get(edge as i64, 50) && !m.get(edge as i64 - 1, 50),
            "level {level}: the mask starts at x = {edge}"
        );
        assert_eq!(m.area(), (200 - edge as u64) * 100);
    }
    // Back to 0: Otsu's level again, the first preview.
    h.get_by_role_and_label(slider(), "level")
        .set_value_accesskit(0.0);
    h.step();
    wait_for_preview(&mut h);
    assert_eq!(h.state().draft.preview.as_ref().unwrap().data, otsu.data);
}
