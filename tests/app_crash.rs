//! Never losing work: a real `kill -9` of a process running the app right after an edit.
//! The test re-runs its own binary as the child (selected by an environment variable);
//! the child opens the project with its lock, draws a polygon, keeps drawing frames as a
//! live app does, and is killed with SIGKILL 1.5 s after the edit. The work must be on
//! disk, the project must open again (the dead process's lock does not block), and a
//! second instance must be refused while the first is alive.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use egui::{Modifiers, Pos2};
use egui_kittest::Harness;
use limner::app::LimnerApp;
use limner::core::ontology::Color;
use limner::core::project::Project;

const CHILD_ENV: &str = "LIMNER_CRASH_TEST_CHILD";

fn click(h: &mut Harness<'_, LimnerApp>, x: f32, y: f32) {
    let pos = h.state().canvas.view.screen_from_image(Pos2::new(x, y));
    h.hover_at(pos);
    h.step();
    h.drag_at(pos);
    h.step();
    h.event(egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Primary,
        pressed: false,
        modifiers: Modifiers::NONE,
    });
    h.step();
}

/// The child: edit, announce it, then run frames until killed.
fn child(dir: &str) {
    let app = LimnerApp::open(std::path::Path::new(dir)).expect("child opens the project");
    let mut h = Harness::builder()
        .with_size(egui::vec2(1100.0, 700.0))
        .build_eframe(|_| app);
    let start = Instant::now();
    while !h.state().canvas.has_image() {
        assert!(start.elapsed() < Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(10));
        h.step();
    }
    h.step();
    for (x, y) in [(20.0, 20.0), (80.0, 20.0), (80.0, 60.0), (20.0, 60.0)] {
        click(&mut h, x, y);
    }
    h.key_press(egui::Key::Enter);
    h.step();
    assert_eq!(h.state().session.as_ref().unwrap().doc.segments.len(), 1);
    // Review work too: a comment pinned with M at the cursor, a segment marked
    // "needs fix", the image marked done.
    h.state_mut().review.user = "crash-tester".into();
    let pin = h
        .state()
        .canvas
        .view
        .screen_from_image(Pos2::new(50.0, 40.0));
    h.hover_at(pin);
    h.step();
    h.key_press(egui::Key::M);
    h.step();
    h.event(egui::Event::Text("boundary too loose".into()));
    h.step();
    h.key_press(egui::Key::Enter);
    h.step();
    let id = h.state().session.as_ref().unwrap().doc.segments[0].id;
    h.state_mut()
        .set_segment_review(id, limner::core::document::ReviewState::NeedsFix);
    h.state_mut()
        .set_image_status(limner::core::document::ImageStatus::Done);
    h.step();
    println!("EDITED");
    loop {
        std::thread::sleep(Duration::from_millis(16));
        h.step();
    }
}

#[test]
fn kill_9_right_after_an_edit_keeps_the_work_and_the_lock_recovers() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        child(&dir);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    image::RgbImage::from_fn(200, 100, |x, _| image::Rgb([(x % 256) as u8, 80, 120]))
        .save(dir.path().join("img.png"))
        .unwrap();
    let mut p = Project::open(dir.path()).unwrap();
    p.ontology.add("thing", Color([200, 30, 30]), true).unwrap();
    p.save_ontology().unwrap();

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "kill_9_right_after_an_edit_keeps_the_work_and_the_lock_recovers",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let edited = lines.any(|l| l.is_ok_and(|l| l.contains("EDITED")));
    assert!(edited, "the child never made its edit");

    // While the child lives, a second instance is refused with a clear message.
    let second = LimnerApp::open(dir.path());
    let err = second
        .err()
        .expect("a second instance must not open the project");
    assert!(err.contains("open"), "lock message: {err}");

    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap(); // SIGKILL: no destructors, no save on exit
    child.wait().unwrap();

    let doc = Project::open(dir.path())
        .unwrap()
        .load_document("img.png")
        .expect("the edit reached disk before the kill");
    assert_eq!(doc.segments.len(), 1);
    assert_eq!(
        doc.segments[0].review,
        limner::core::document::ReviewState::NeedsFix
    );
    assert_eq!(doc.status, limner::core::document::ImageStatus::Done);
    let (_, pinned) = doc
        .all_comments()
        .next()
        .expect("the pinned comment reached disk");
    assert_eq!(pinned.text, "boundary too loose");
    let at = pinned.at.expect("pinned to a point");
    assert!(
        (at[0] - 50.0).abs() < 1.0 && (at[1] - 40.0).abs() < 1.0,
        "{at:?}"
    );
    assert!(
        doc.log.iter().any(|e| e.who == "crash-tester"),
        "review actions record who: {:?}",
        doc.log
    );
    // The lock the app takes on open (not a whole app: its model thread would still be
    // loading ONNX Runtime when this test process exits).
    let reopened = limner::core::lock::ProjectLock::acquire(
        dir.path(),
        limner::core::lock::Writer::App,
        "(editing)",
    );
    assert!(
        reopened.is_ok(),
        "the dead process's lock blocks: {:?}",
        reopened.err()
    );
}
