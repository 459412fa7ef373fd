//! Drives the real app UI headlessly (egui_kittest): draw a polygon with simulated clicks,
//! undo / redo it, and see it autosaved.

mod app_common;
use app_common::{click_at as click, wait_for_image};

use std::time::{Duration, Instant};

use egui::{Modifiers, Pos2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use limner::app::LimnerApp;
use limner::core::ontology::Color;
use limner::core::project::Project;

fn project(dir: &std::path::Path) -> Project {
    image::RgbImage::from_fn(200, 100, |x, _| image::Rgb([(x % 256) as u8, 80, 120]))
        .save(dir.join("img.png"))
        .unwrap();
    let mut p = Project::open(dir).unwrap();
    p.ontology.add("thing", Color([200, 30, 30]), true).unwrap();
    p.save_ontology().unwrap();
    p
}

#[test]
fn polygon_by_clicks_then_undo_redo_and_autosave() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path());
    let app = LimnerApp::new(p, None);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1100.0, 700.0))
        .build_eframe(|_| app);
    wait_for_image(&mut h);

    let corners = [(20.0, 20.0), (80.0, 20.0), (80.0, 60.0), (20.0, 60.0)];
    for (x, y) in corners {
        let pos = h.state().canvas.view.screen_from_image(Pos2::new(x, y));
        click(&mut h, pos);
    }
    assert_eq!(h.state().canvas.drawing.len(), 4);
    h.key_press(egui::Key::Enter);
    h.step();
    h.step();
    let s = h.state().session.as_ref().unwrap();
    assert_eq!(
        s.doc.segments.len(),
        1,
        "Enter closes the polygon into a segment"
    );
    // About 60 x 40 pixels (vertices come from screen positions, so allow a pixel of slack).
    let area = s.label_map.stats().values().map(|st| st.area).sum::<u64>();
    assert!((area as i64 - 2400).abs() < 120, "area {area}");

    h.key_press_modifiers(Modifiers::COMMAND, egui::Key::Z);
    h.step();
    assert_eq!(
        h.state().session.as_ref().unwrap().doc.segments.len(),
        0,
        "undo"
    );
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, egui::Key::Z);
    h.step();
    assert_eq!(
        h.state().session.as_ref().unwrap().doc.segments.len(),
        1,
        "redo"
    );

    // Autosave: within a second the document is on disk.
    let ann = dir.path().join("annotations/img.png.json");
    let start = Instant::now();
    while !ann.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "not autosaved within 2 s"
        );
        std::thread::sleep(Duration::from_millis(50));
        h.step();
    }
    let reopened = Project::open(dir.path())
        .unwrap()
        .load_document("img.png")
        .unwrap();
    assert_eq!(reopened.segments.len(), 1);
}

#[test]
fn escape_and_backspace_edit_the_polygon_in_progress() {
    let dir = tempfile::tempdir().unwrap();
    let app = LimnerApp::new(project(dir.path()), None);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1100.0, 700.0))
        .build_eframe(|_| app);
    wait_for_image(&mut h);
    for (x, y) in [(10.0, 10.0), (50.0, 10.0), (50.0, 50.0)] {
        let pos = h.state().canvas.view.screen_from_image(Pos2::new(x, y));
        click(&mut h, pos);
    }
    h.key_press(egui::Key::Backspace);
    h.step();
    assert_eq!(h.state().canvas.drawing.len(), 2);
    h.key_press(egui::Key::Escape);
    h.step();
    assert!(h.state().canvas.drawing.is_empty());
    assert!(h.state().session.as_ref().unwrap().doc.segments.is_empty());
}

#[test]
fn brush_stroke_is_one_segment_and_one_undo_step() {
    let dir = tempfile::tempdir().unwrap();
    let app = LimnerApp::new(project(dir.path()), None);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1100.0, 700.0))
        .build_eframe(|_| app);
    wait_for_image(&mut h);
    h.key_press(egui::Key::B);
    h.step();
    assert_eq!(
        h.state().canvas.tool,
        limner::app::canvas::Tool::Brush,
        "B picks the brush"
    );
    h.state_mut().canvas.brush_radius = 5.0;
    let at = |h: &Harness<'_, LimnerApp>, x: f32, y: f32| {
        h.state().canvas.view.screen_from_image(Pos2::new(x, y))
    };
    let start = at(&h, 30.0, 50.0);
    h.hover_at(start);
    h.step();
    h.drag_at(start);
    h.step();
    for k in 1..=10 {
        let p = at(&h, 30.0 + k as f32 * 10.0, 50.0);
        h.hover_at(p);
        h.step();
    }
    h.drop_at(at(&h, 130.0, 50.0));
    h.step();
    h.step();
    let s = h.state().session.as_ref().unwrap();
    assert_eq!(s.doc.segments.len(), 1, "one stroke, one segment");
    assert_eq!(
        s.doc.segments[0].source,
        limner::core::document::Source::Brush
    );
    let area = s.label_map.stats().values().map(|st| st.area).sum::<u64>();
    // A 100 px long stroke of radius 5: about 100 x 10 + the round caps.
    assert!((900..=1300).contains(&area), "area {area}");
    h.key_press_modifiers(Modifiers::COMMAND, egui::Key::Z);
    h.step();
    assert!(h.state().session.as_ref().unwrap().doc.segments.is_empty());
}

#[test]
fn d_and_a_switch_images_and_keep_work() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path());
    image::RgbImage::new(50, 40)
        .save(dir.path().join("second.png"))
        .unwrap();
    let app = LimnerApp::new(p, None);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1100.0, 700.0))
        .build_eframe(|_| app);
    wait_for_image(&mut h);
    let names: Vec<&str> = h.state().images.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["img.png", "second.png"]);
    for (x, y) in [(10.0, 10.0), (40.0, 10.0), (40.0, 40.0)] {
        let pos = h.state().canvas.view.screen_from_image(Pos2::new(x, y));
        click(&mut h, pos);
    }
    h.key_press(egui::Key::Enter);
    h.step();
    h.key_press(egui::Key::D);
    h.step();
    assert_eq!(h.state().current, 1, "D opens the next image");
    wait_for_image(&mut h);
    assert_eq!(
        h.state().session.as_ref().unwrap().doc.image.file_name,
        "second.png"
    );
    // The first image's polygon was saved when leaving it.
    let saved = Project::open(dir.path())
        .unwrap()
        .load_document("img.png")
        .unwrap();
    assert_eq!(saved.segments.len(), 1);
    h.key_press(egui::Key::A);
    h.step();
    assert_eq!(h.state().current, 0, "A goes back");
    assert_eq!(h.state().session.as_ref().unwrap().doc.segments.len(), 1);
}

#[test]
fn ontology_rename_in_the_panel_keeps_the_id() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path());
    let id = p.ontology.active_categories().next().unwrap().id;
    let app = LimnerApp::new(p, None);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1100.0, 900.0))
        .build_eframe(|_| app);
    wait_for_image(&mut h);
    h.get_by_label_contains("Edit class").click();
    h.step();
    h.step();
    let field = h.get_by_label("Name:");
    field.focus();
    h.step();
    // The field starts with the class's name: replace it.
    h.key_press_modifiers(Modifiers::COMMAND, egui::Key::A);
    h.step();
    h.get_by_label("Name:").type_text("widget");
    h.step();
    h.get_by_label("rename").click();
    h.step();
    h.step();
    let c = h.state().project.ontology.get(id).expect("same id");
    assert_eq!(c.name, "widget");
    let on_disk = Project::open(dir.path()).unwrap();
    assert_eq!(
        on_disk.ontology.get(id).map(|c| c.name.as_str()),
        Some("widget")
    );
    assert_eq!(on_disk.ontology.categories.len(), 1, "renamed, not added");
}

#[test]
fn export_menu_writes_every_format_and_it_reads_back() {
    use limner::core::formats::{self, Format};
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path());
    let app = LimnerApp::new(p, None);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1100.0, 700.0))
        .build_eframe(|_| app);
    wait_for_image(&mut h);
    for (x, y) in [(20.0, 20.0), (80.0, 20.0), (80.0, 60.0)] {
        let pos = h.state().canvas.view.screen_from_image(Pos2::new(x, y));
        click(&mut h, pos);
    }
    h.key_press(egui::Key::Enter);
    h.step();
    let out = tempfile::tempdir().unwrap();
    for f in [
        Format::CocoPanoptic,
        Format::CocoInstance,
        Format::Voc,
        Format::Cvat,
    ] {
        let folder = out.path().join(f.name());
        std::fs::create_dir_all(&folder).unwrap();
        // The folder is given here; in the app a native dialog asks for it.
        h.state_mut().export_as(f, Some(folder.clone()));
        let start = Instant::now();
        while h.state().is_exporting() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "export never finished"
            );
            std::thread::sleep(Duration::from_millis(10));
            h.step();
        }
        let back = formats::read(f, &f.output_in(&folder), Some(dir.path()))
            .unwrap_or_else(|e| panic!("{} export reads back: {e}", f.name()));
        let segs: usize = back.documents.iter().map(|d| d.segments.len()).sum();
        assert_eq!(
            segs,
            1,
            "{}: the unsaved polygon was flushed and exported",
            f.name()
        );
    }
}

/// Tool keys work while the image is still decoding (here: never, the file is cut
/// short after its header), so a tool picked early is waiting when the image shows.
#[test]
fn tool_keys_work_before_the_image_decodes() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path());
    let path = dir.path().join("img.png");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let app = LimnerApp::new(p, None);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1100.0, 700.0))
        .build_eframe(|_| app);
    h.step();
    for (key, tool) in [
        (egui::Key::B, limner::app::canvas::Tool::Brush),
        (egui::Key::W, limner::app::canvas::Tool::Wand),
        (egui::Key::V, limner::app::canvas::Tool::Select),
    ] {
        h.key_press(key);
        h.step();
        assert!(!h.state().canvas.has_image());
        assert_eq!(h.state().canvas.tool, tool);
    }
}

/// The help overlay (?) lists every command with its shortcuts.
#[test]
fn help_overlay_lists_every_command() {
    use limner::app::command::Command;
    let dir = tempfile::tempdir().unwrap();
    let app = LimnerApp::new(project(dir.path()), None);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1100.0, 2400.0))
        .build_eframe(|_| app);
    wait_for_image(&mut h);
    h.key_press(egui::Key::Questionmark);
    h.step();
    h.step();
    for &c in Command::ALL {
        for text in [c.help().to_string(), c.shortcut_text()] {
            assert!(
                h.query_all_by_label(&text).next().is_some(),
                "the help overlay does not show {c:?}: {text}"
            );
        }
    }
}

/// The class panel adds a class (it becomes the active one, the name field clears) and a
/// click on a class row picks it.
#[test]
fn class_panel_adds_and_picks_classes() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path());
    let first = p.ontology.active_categories().next().unwrap().id;
    let app = LimnerApp::new(p, None);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1100.0, 900.0))
        .build_eframe(|_| app);
    wait_for_image(&mut h);
    h.get_by_label("New:").focus();
    h.step();
    h.get_by_label("New:").type_text("gadget");
    h.step();
    h.get_by_label("Add class").click();
    h.step();
    h.step();
    let added = h
        .state()
        .project
        .ontology
        .active_categories()
        .find(|c| c.name == "gadget")
        .map(|c| c.id)
        .expect("added");
    assert_eq!(h.state().active_class, Some(added));
    assert_eq!(
        h.get_by_label("New:").value().as_deref(),
        Some(""),
        "the field cleared"
    );
    h.get_by_label_contains("thing (thing, 0)").click();
    h.step();
    assert_eq!(h.state().active_class, Some(first));
}

/// The selected segment's panel: z up is one undo step, a comment and a review state are
/// recorded on the segment.
#[test]
fn segment_panel_raises_comments_and_reviews_the_selected_segment() {
    let dir = tempfile::tempdir().unwrap();
    let app = LimnerApp::new(project(dir.path()), None);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1100.0, 1400.0))
        .build_eframe(|_| app);
    wait_for_image(&mut h);
    for (x, y) in [(20.0, 20.0), (80.0, 20.0), (80.0, 60.0)] {
        let pos = h.state().canvas.view.screen_from_image(Pos2::new(x, y));
        click(&mut h, pos);
    }
    h.key_press(egui::Key::Enter);
    h.step();
    h.step();
    let seg =
        |h: &Harness<'_, LimnerApp>| h.state().session.as_ref().unwrap().doc.segments[0].clone();
    assert_eq!(h.state().canvas.selected, Some(seg(&h).id));
    h.get_by_label("up").click();
    h.step();
    h.step();
    assert_eq!(seg(&h).z, 1);
    h.get_by_label("Comment:").focus();
    h.step();
    h.get_by_label("Comment:").type_text("edge too loose");
    h.step();
    // The first "add" is the segment's (the image's comments come later in the panel).
    h.query_all_by_label("add").next().unwrap().click();
    h.step();
    h.step();
    assert_eq!(seg(&h).comments.len(), 1);
    assert_eq!(seg(&h).comments[0].text, "edge too loose");
    h.get_by_label("needs fix").click();
    h.step();
    h.step();
    assert_eq!(
        seg(&h).review,
        limner::core::document::ReviewState::NeedsFix
    );
    h.key_press_modifiers(Modifiers::COMMAND, egui::Key::Z);
    h.step();
    assert_eq!(seg(&h).z, 0, "z up was one undo step");
}
