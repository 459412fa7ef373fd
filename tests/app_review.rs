//! The review workflow in the real UI (egui_kittest): the review queue with keyboard
//! accept / reject-with-reason, comments pinned at the cursor, slice tags and the
//! image-list filter, and the disagreement view against gold labels (J jumps to the
//! worst segment). Everything is checked again after reopening the project from disk.

use std::time::{Duration, Instant};

use egui::Pos2;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use limner::app::LimnerApp;
use limner::core::document::{Geometry, ImageDocument, ImageStatus, ReviewState, Segment, Source};
use limner::core::geometry::PolygonWithHoles;
use limner::core::ontology::Color;
use limner::core::project::Project;

fn rect(id: u32, x0: f64, y0: f64, x1: f64, y1: f64) -> Segment {
    Segment::new(
        id,
        1,
        Geometry::Polygons {
            polygons: vec![PolygonWithHoles {
                outer: vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]],
                holes: vec![],
            }],
        },
        Source::Polygon,
    )
}

/// A project with images a, b, c (200x100); a and b are done, c is todo.
fn project(dir: &std::path::Path, shift: f64) -> Project {
    for name in ["a.png", "b.png", "c.png"] {
        image::RgbImage::from_fn(200, 100, |x, _| image::Rgb([(x % 256) as u8, 80, 120]))
            .save(dir.join(name))
            .unwrap();
    }
    let mut p = Project::open(dir).unwrap();
    p.ontology.add("thing", Color([200, 30, 30]), true).unwrap();
    p.save_ontology().unwrap();
    for (name, status) in [
        ("a.png", ImageStatus::Done),
        ("b.png", ImageStatus::Done),
        ("c.png", ImageStatus::Todo),
    ] {
        let mut d = ImageDocument::new(name, 200, 100);
        d.status = status;
        d.segments = vec![
            rect(1, 10.0 + shift, 10.0, 60.0 + shift, 50.0),
            rect(2, 100.0, 20.0, 150.0, 80.0),
        ];
        p.save_document(&d).unwrap();
    }
    p
}

fn harness(app: LimnerApp) -> Harness<'static, LimnerApp> {
    let mut h = Harness::builder()
        .with_size(egui::vec2(1200.0, 760.0))
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
    h
}

fn file(h: &Harness<'_, LimnerApp>) -> String {
    h.state()
        .session
        .as_ref()
        .unwrap()
        .doc
        .image
        .file_name
        .clone()
}

#[test]
fn review_queue_accepts_and_rejects_with_a_reason_by_keyboard() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path(), 0.0);
    let mut app = LimnerApp::new(p, None);
    app.review.user = "qa-lead".into();
    let mut h = harness(app);

    h.key_press(egui::Key::R);
    h.step();
    assert!(h.state().review.mode);
    assert!(
        h.query_by_label_contains("c.png").is_none(),
        "todo images are not in the queue"
    );
    assert_eq!(file(&h), "a.png");

    h.key_press(egui::Key::Y);
    h.step();
    assert_eq!(
        file(&h),
        "b.png",
        "accept moves on to the next queued image"
    );

    h.key_press(egui::Key::N);
    h.step();
    h.event(egui::Event::Text("car edge too loose".into()));
    h.step();
    h.key_press(egui::Key::Enter);
    h.step();
    h.step();
    h.state_mut().flush();

    let p = Project::open(dir.path()).unwrap();
    let a = p.load_document("a.png").unwrap();
    assert_eq!(a.status, ImageStatus::Reviewed);
    assert!(a.segments.iter().all(|s| s.review == ReviewState::Accepted));
    let b = p.load_document("b.png").unwrap();
    assert_eq!(
        b.status,
        ImageStatus::Rejected,
        "rejected images go back to the annotator"
    );
    assert_eq!(b.comments[0].text, "rejected: car edge too loose");
    assert_eq!(b.comments[0].author.as_deref(), Some("qa-lead"));
    assert!(b.log.iter().any(|e| e.who == "qa-lead"), "{:?}", b.log);

    // The annotator's side: leave review mode, filter rejected, the reason is shown.
    h.key_press(egui::Key::R);
    h.step();
    assert!(h.query_by_label_contains("c.png").is_some());
    h.state_mut().open_image(1);
    h.step();
    assert!(h.query_by_label_contains("car edge too loose").is_some());
}

#[test]
fn comment_pinned_at_the_cursor_and_tags_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path(), 0.0);
    let mut app = LimnerApp::new(p, None);
    app.review.user = "ana".into();
    let mut h = harness(app);

    let at = h
        .state()
        .canvas
        .view
        .screen_from_image(Pos2::new(120.0, 30.0));
    h.hover_at(at);
    h.step();
    h.key_press(egui::Key::M);
    h.step();
    h.event(egui::Event::Text("is this a car?".into()));
    h.step();
    h.key_press(egui::Key::Enter);
    h.step();

    h.get_by_label("Tag:").click();
    h.step();
    h.get_by_label("Tag:").type_text("scene=indoor");
    h.step();
    h.key_press(egui::Key::Enter);
    h.step();
    h.step();
    h.state_mut().flush();

    let doc = Project::open(dir.path())
        .unwrap()
        .load_document("a.png")
        .unwrap();
    let c = &doc.comments[0];
    assert_eq!(c.text, "is this a car?");
    let [x, y] = c.at.unwrap();
    assert!(
        (x - 120.0).abs() < 1.0 && (y - 30.0).abs() < 1.0,
        "pinned at {x},{y}"
    );
    assert_eq!(doc.tags.get("scene").map(String::as_str), Some("indoor"));

    // The image list filters by tag.
    h.state_mut().review.tag_filter = "scene=indoor".into();
    h.step();
    assert!(h.query_by_label_contains("a.png").is_some());
    assert!(h.query_by_label_contains("b.png").is_none());
}

#[test]
fn disagreement_view_ranks_the_shifted_segment_and_j_zooms_to_it() {
    let gold_dir = tempfile::tempdir().unwrap();
    project(gold_dir.path(), 0.0);
    let dir = tempfile::tempdir().unwrap();
    // Segment 1 shifted right by 6 px: 240 px false negative, 240 px false positive.
    let p = project(dir.path(), 6.0);
    let mut app = LimnerApp::new(p, None);
    app.load_gold(Some(gold_dir.path().to_path_buf()), true);
    let mut h = harness(app);
    let start = Instant::now();
    while h.state().review.diff.is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "comparison never arrived"
        );
        std::thread::sleep(Duration::from_millis(10));
        h.step();
    }
    h.step();
    let d = &h.state().review.diff.as_ref().unwrap().diff;
    assert_eq!(d.error_pixels, 480);
    let worst = &d.segments[0];
    assert_eq!(worst.current, Some(1));
    // IoU = 44*40 / (56*40) = 0.7857...
    assert!((worst.iou - 44.0 / 56.0).abs() < 1e-9, "{}", worst.iou);
    assert!(
        h.query_by_label_contains("false positive: 240 px")
            .is_some()
    );

    let before = h.state().canvas.view.scale;
    h.key_press(egui::Key::J);
    h.step();
    assert_eq!(h.state().canvas.selected, Some(1));
    assert!(
        h.state().canvas.view.scale > before,
        "J zooms in on the segment"
    );

    // Fixing the segment clears the disagreement.
    let fixed = rect(1, 10.0, 10.0, 60.0, 50.0);
    let edit = {
        let s = h.state().session.as_ref().unwrap();
        limner::core::edit::history::Edit::replace(&s.doc, fixed).unwrap()
    };
    h.state_mut().apply_edit(edit);
    let start = Instant::now();
    loop {
        h.step();
        let s = h.state();
        if let Some(l) = &s.review.diff
            && l.revision == s.session.as_ref().unwrap().revision
        {
            assert_eq!(l.diff.error_pixels, 0);
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(10));
    }
}
