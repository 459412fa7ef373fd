//! Never losing work: a real `kill -9` of a process running the app right after an edit,
//! and a loop of 100 kills at random moments while the app edits.
//! The test re-runs its own binary as the child (selected by an environment variable);
//! the child opens the project with its lock, draws a polygon, keeps drawing frames as a
//! live app does, and is killed with SIGKILL 1.5 s after the edit. The work must be on
//! disk, the project must open again (the dead process's lock does not block), and a
//! second instance must be refused while the first is alive.

mod app_common;
use app_common::click_image as click;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use egui::Pos2;
use egui_kittest::Harness;
use limner::app::LimnerApp;
use limner::core::ontology::Color;
use limner::core::project::Project;

const CHILD_ENV: &str = "LIMNER_CRASH_TEST_CHILD";

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

const LOOP_ENV: &str = "LIMNER_CRASH_LOOP_CHILD";

/// The loop's child: opens the project, then draws up to 8 small polygons one after the
/// other, announcing each (`EDIT <unix ms>`) once the app has it, with frames between
/// them as a live app runs, until it is killed.
fn loop_child(dir: &str, round: usize) {
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
    let before = h.state().session.as_ref().unwrap().doc.segments.len();
    for k in 0..8usize {
        let cell = (round * 8 + k) % 40;
        let (x, y) = (
            5.0 + (cell % 10) as f32 * 19.0,
            5.0 + (cell / 10) as f32 * 23.0,
        );
        for (dx, dy) in [(0.0, 0.0), (12.0, 0.0), (12.0, 15.0), (0.0, 15.0)] {
            click(&mut h, x + dx, y + dy);
        }
        h.key_press(egui::Key::Enter);
        h.step();
        let n = h.state().session.as_ref().unwrap().doc.segments.len();
        assert_eq!(n, before + k + 1, "the polygon became a segment");
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        println!("EDIT {ms}");
        for _ in 0..6 {
            std::thread::sleep(Duration::from_millis(16));
            h.step();
        }
    }
    loop {
        std::thread::sleep(Duration::from_millis(16));
        h.step();
    }
}

/// kill -9 at 100 random moments while the app edits: after each kill the project opens
/// and validates, the document is whole, and no edit older than a second is lost.
#[test]
fn app_killed_at_100_random_moments_loses_no_edit_older_than_a_second() {
    if let Ok(v) = std::env::var(LOOP_ENV) {
        let (round, dir) = v.split_once(':').unwrap();
        loop_child(dir, round.parse().unwrap());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    image::RgbImage::from_fn(200, 100, |x, _| image::Rgb([(x % 256) as u8, 80, 120]))
        .save(dir.path().join("img.png"))
        .unwrap();
    let mut p = Project::open(dir.path()).unwrap();
    p.ontology.add("thing", Color([200, 30, 30]), true).unwrap();
    p.save_ontology().unwrap();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let (mut edits_seen, mut killed_mid_edits) = (0, 0);
    for round in 0..100 {
        let on_disk = |dir: &std::path::Path| {
            let p = Project::open(dir).expect("the project opens after a kill");
            assert!(p.validate().is_empty(), "round {round}: {:?}", p.validate());
            p.load_document("img.png")
                .map(|d| d.segments.len())
                .unwrap_or(0)
        };
        let before = on_disk(dir.path());
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "app_killed_at_100_random_moments_loses_no_edit_older_than_a_second",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(LOOP_ENV, format!("{round}:{}", dir.path().display()))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let announced = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u128>::new()));
        let sink = announced.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(ms) = line.strip_prefix("EDIT ") {
                    sink.lock().unwrap().push(ms.trim().parse().unwrap());
                }
            }
        });
        // The app starts in about a second; the 8 edits take about another.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(300 + seed % 2000));
        let killed_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        let announced = announced.lock().unwrap().clone();
        let old = announced.iter().filter(|&&t| t + 1000 <= killed_at).count();
        let now = on_disk(dir.path());
        assert!(
            now >= before + old,
            "round {round}: {old} edit(s) older than 1 s were announced, only {} on disk",
            now - before
        );
        assert!(
            now <= before + announced.len() + 1,
            "round {round}: more on disk than drawn"
        );
        edits_seen += announced.len();
        killed_mid_edits += usize::from(!announced.is_empty() && announced.len() < 8);
    }
    eprintln!("100 kills: {edits_seen} edits announced, {killed_mid_edits} kills between edits");
    // The kills must land while edits happen, or the test proves little.
    assert!(edits_seen > 100, "only {edits_seen} edits in 100 rounds");
    assert!(
        killed_mid_edits >= 10,
        "only {killed_mid_edits} kills landed mid-edits"
    );
}
