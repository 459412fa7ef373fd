//! What an annotator coming from CVAT or LabelMe expects of the app (issue 20), driven
//! through the real UI with egui_kittest at 1280x800: the in-app path chooser, the class
//! filter with a large ontology, model masks that protect other segments, selection
//! feedback, safe class edits, undo kept per image, and a toolbar that stays put.

mod app_common;
use app_common::{click_at as click, wait_for_image};

use std::time::{Duration, Instant};

use egui::{Modifiers, Pos2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use limner::app::LimnerApp;
use limner::app::canvas::Tool;
use limner::core::document::{Geometry, ImageDocument, Segment, Source};
use limner::core::geometry::{BitMask, PolygonWithHoles};
use limner::core::ontology::Color;
use limner::core::project::Project;

const SIZE: egui::Vec2 = egui::vec2(1280.0, 800.0);

/// A project with `images` 200x100 images and the classes named.
fn project(dir: &std::path::Path, images: usize, classes: &[&str]) -> Project {
    for i in 0..images {
        image::RgbImage::from_fn(200, 100, |x, _| image::Rgb([(x % 256) as u8, 80, 120]))
            .save(dir.join(format!("img{i}.png")))
            .unwrap();
    }
    let mut p = Project::open(dir).unwrap();
    for (i, c) in classes.iter().enumerate() {
        p.ontology
            .add(c, Color([(i * 40 % 256) as u8, 30, 30]), true)
            .unwrap();
    }
    p.save_ontology().unwrap();
    p
}

/// The 133-class ontology of the COCO panoptic sample, near enough: 131 numbered
/// classes around "person" and "cup".
fn many_classes() -> Vec<String> {
    let mut v: Vec<String> = (0..131).map(|i| format!("class-{i:03}")).collect();
    v.insert(40, "person".into());
    v.insert(90, "cup".into());
    v
}

fn harness(app: LimnerApp) -> Harness<'static, LimnerApp> {
    let mut h = Harness::builder().with_size(SIZE).build_eframe(|_| app);
    wait_for_image(&mut h);
    h
}

/// Draws a rectangle polygon with the polygon tool (image coordinates).
fn draw_rect(h: &mut Harness<'_, LimnerApp>, x0: f32, y0: f32, x1: f32, y1: f32) {
    h.state_mut().canvas.tool = Tool::Polygon;
    for (x, y) in [(x0, y0), (x1, y0), (x1, y1), (x0, y1)] {
        let pos = h.state().canvas.view.screen_from_image(Pos2::new(x, y));
        click(h, pos);
    }
    h.key_press(egui::Key::Enter);
    h.step();
    h.step();
}

fn segments(h: &Harness<'_, LimnerApp>) -> Vec<Segment> {
    h.state().session.as_ref().unwrap().doc.segments.clone()
}

fn area_of(h: &Harness<'_, LimnerApp>, id: u32) -> u64 {
    let s = h.state().session.as_ref().unwrap();
    s.stats.get(&id).map_or(0, |st| st.area)
}

/// Replaces the text of the field labelled `label` with `text`.
fn retype(h: &mut Harness<'_, LimnerApp>, label: &str, text: &str) {
    h.get_by_label(label).focus();
    h.step();
    h.key_press_modifiers(Modifiers::COMMAND, egui::Key::A);
    h.step();
    h.get_by_label(label).type_text(text);
    h.step();
}

/// Item 1: the export asks in the app (no native dialog needed), refuses a file with a
/// message, and exports into the folder typed.
#[test]
fn export_asks_for_its_folder_in_the_app_and_exports_there() {
    use limner::core::formats::{self, Format};
    let dir = tempfile::tempdir().unwrap();
    let app = LimnerApp::new(project(dir.path(), 1, &["thing"]), None);
    let mut h = harness(app);
    draw_rect(&mut h, 20.0, 20.0, 80.0, 60.0);
    h.state_mut().export_as(Format::CocoPanoptic, None);
    // A new window is laid out invisibly on its first frame.
    h.step();
    h.step();
    assert!(h.state().path_dialog.is_open(), "the in-app chooser opened");
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("a-file.txt");
    std::fs::write(&file, b"x").unwrap();
    retype(&mut h, "Path:", &file.display().to_string());
    h.key_press(egui::Key::Enter);
    h.step();
    h.step();
    assert!(h.state().path_dialog.is_open(), "a file is refused");
    assert!(
        h.query_by_label_contains("is a file; choose a folder")
            .is_some()
    );
    let folder = out.path().join("export");
    retype(&mut h, "Path:", &folder.display().to_string());
    h.key_press(egui::Key::Enter);
    h.step();
    assert!(!h.state().path_dialog.is_open());
    let start = Instant::now();
    while h.state().is_exporting() || !folder.join("panoptic.json").exists() {
        assert!(start.elapsed() < Duration::from_secs(30), "no export");
        std::thread::sleep(Duration::from_millis(10));
        h.step();
    }
    let back = formats::read(Format::CocoPanoptic, &folder.join("panoptic.json"), None).unwrap();
    assert_eq!(
        back.documents
            .iter()
            .map(|d| d.segments.len())
            .sum::<usize>(),
        1
    );
}

/// Item 2: with 133 classes the segment list is still on screen, "/" puts the keyboard
/// in the class filter, typing finds, Down moves, Enter picks, the picked classes come
/// back as recent ones, and rows show class ids (not list positions).
#[test]
fn a_large_ontology_is_searched_by_keyboard_and_recent_classes_come_first() {
    let dir = tempfile::tempdir().unwrap();
    let names = many_classes();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut p = project(dir.path(), 1, &names);
    let retired = p.ontology.active_categories().nth(1).unwrap().id;
    p.retire_category(retired).unwrap();
    let app = LimnerApp::new(p, None);
    let mut h = harness(app);
    let segments_header = h.get_by_label_contains("Segments (").rect();
    assert!(
        segments_header.bottom() < SIZE.y,
        "the segment list is on screen (at y {})",
        segments_header.top()
    );
    let id_of = |h: &Harness<'_, LimnerApp>, n: &str| {
        let o = &h.state().project.ontology;
        o.active_categories().find(|c| c.name == n).unwrap().id
    };
    let cup = id_of(&h, "cup");
    h.key_press(egui::Key::Slash);
    h.step();
    h.step();
    h.get_by_label("Find:").type_text("cup");
    h.step();
    h.key_press(egui::Key::Enter);
    h.step();
    h.step();
    assert_eq!(h.state().active_class, Some(cup), "Enter picks the match");
    // "class-01" matches class-010 ... class-019: Down twice picks the third.
    h.key_press(egui::Key::Slash);
    h.step();
    h.step();
    h.get_by_label("Find:").type_text("class-01");
    h.step();
    h.key_press(egui::Key::ArrowDown);
    h.step();
    h.key_press(egui::Key::ArrowDown);
    h.step();
    h.key_press(egui::Key::Enter);
    h.step();
    h.step();
    assert_eq!(h.state().active_class, Some(id_of(&h, "class-012")));
    let recent = h.state().class_panel_recent();
    assert_eq!(
        &recent[..2],
        &[id_of(&h, "class-012"), cup],
        "most recent first"
    );
    // A recent class is one click away: the "cup" button of the recent row.
    h.get_by_label("cup").click();
    h.step();
    assert_eq!(h.state().active_class, Some(cup));
    // Ids, not positions: with class 2 retired, the third row is id 3.
    let third = h
        .state()
        .project
        .ontology
        .active_categories()
        .nth(1)
        .unwrap()
        .clone();
    assert_eq!(third.id, 3);
    assert!(
        h.query_by_label_contains(&format!("3 {} (thing", third.name))
            .is_some(),
        "the row shows id 3"
    );
}

fn square(w: u32, h: u32, x0: i64, x1: i64, y0: i64, y1: i64) -> BitMask {
    let mut m = BitMask::new(w, h);
    for y in y0..y1 {
        for x in x0..x1 {
            m.set(x, y, true);
        }
    }
    m
}

/// Item 3: a model mask accepted over another segment leaves that segment its pixels
/// (protect, the default) unless overwrite is chosen.
#[test]
fn model_masks_protect_other_segments_unless_overwrite_is_chosen() {
    let dir = tempfile::tempdir().unwrap();
    let app = LimnerApp::new(project(dir.path(), 1, &["thing"]), None);
    let mut h = harness(app);
    draw_rect(&mut h, 20.0, 20.0, 80.0, 60.0);
    let first = segments(&h)[0].id;
    let before = area_of(&h, first);
    assert!(before > 2000);
    let accept = |h: &mut Harness<'_, LimnerApp>| {
        h.state_mut().canvas.tool = Tool::Box;
        h.state_mut().draft.preview = Some(square(200, 100, 50, 120, 30, 70));
        h.step();
        h.key_press(egui::Key::Enter);
        h.step();
        h.step();
    };
    accept(&mut h);
    assert_eq!(segments(&h).len(), 2);
    assert_eq!(
        area_of(&h, first),
        before,
        "protect: the first keeps every pixel"
    );
    assert!(
        h.query_by_label_contains("stay with the segments")
            .is_some()
    );
    h.get_by_label("overwrite").click();
    h.step();
    accept(&mut h);
    assert!(area_of(&h, first) < before, "overwrite takes pixels");
}

/// Item 4: a selected bitmap segment gets an outline, Esc deselects, the segment list
/// scrolls to a selection made elsewhere, and undo selects what it gave back.
#[test]
fn selection_is_outlined_listed_dropped_with_esc_and_restored_by_undo() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path(), 1, &["thing"]);
    let class = p.ontology.active_categories().next().unwrap().id;
    let mut doc = ImageDocument::new("img0.png", 200, 100);
    for i in 0..60u32 {
        let x = f64::from(i % 20) * 10.0;
        let y = f64::from(i / 20) * 30.0;
        let ring = vec![[x, y], [x + 8.0, y], [x + 8.0, y + 8.0], [x, y + 8.0]];
        let geometry = if i == 59 {
            Geometry::from_mask(&square(
                200,
                100,
                x as i64,
                x as i64 + 8,
                y as i64,
                y as i64 + 8,
            ))
        } else {
            Geometry::Polygons {
                polygons: vec![PolygonWithHoles {
                    outer: ring,
                    holes: vec![],
                }],
            }
        };
        doc.segments
            .push(Segment::new(i + 1, class, geometry, Source::Manual));
    }
    p.save_document(&doc).unwrap();
    let app = LimnerApp::new(p, None);
    let mut h = harness(app);
    assert!(
        h.query_by_label_contains("#60 ").is_none(),
        "row 60 starts out of view"
    );
    h.state_mut().canvas.tool = Tool::Select;
    h.state_mut().canvas.selected = Some(60);
    h.step();
    h.step();
    assert!(
        h.query_by_label_contains("#60 ").is_some(),
        "the list scrolled to it"
    );
    let rings = h
        .state()
        .canvas
        .selected_outline()
        .expect("an outline")
        .to_vec();
    assert_eq!(rings.len(), 1);
    assert_eq!(
        rings[0].len(),
        4,
        "the square's four corners: {:?}",
        rings[0]
    );
    h.key_press(egui::Key::Escape);
    h.step();
    assert_eq!(h.state().canvas.selected, None, "Esc deselects");
    h.state_mut().canvas.selected = Some(60);
    h.step();
    h.key_press(egui::Key::Delete);
    h.step();
    h.step();
    assert_eq!(segments(&h).len(), 59);
    assert_eq!(h.state().canvas.selected, None);
    h.key_press_modifiers(Modifiers::COMMAND, egui::Key::Z);
    h.step();
    assert_eq!(segments(&h).len(), 60);
    assert_eq!(
        h.state().canvas.selected,
        Some(60),
        "undo selects the segment it restored"
    );
}

/// Item 5: the name field shows the active class's own name, a merge asks first (and
/// Cancel changes nothing), and retiring a class in use names the image using it.
#[test]
fn class_edits_show_the_right_name_ask_before_merging_and_explain_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path(), 1, &["car", "truck"]);
    let (car, truck) = (1, 2);
    let app = LimnerApp::new(p, None);
    let mut h = harness(app);
    h.state_mut().active_class = Some(car);
    draw_rect(&mut h, 20.0, 20.0, 80.0, 60.0);
    h.get_by_label_contains("Edit class").click();
    h.step();
    h.step();
    assert_eq!(h.get_by_label("Name:").value().as_deref(), Some("car"));
    h.state_mut().active_class = Some(truck);
    h.step();
    h.step();
    assert_eq!(
        h.get_by_label("Name:").value().as_deref(),
        Some("truck"),
        "the field follows the active class"
    );
    // Retire "car" (in use): refused, naming the image.
    h.state_mut().active_class = Some(car);
    h.step();
    h.step();
    h.get_by_label("retire").click();
    h.step();
    h.step();
    assert!(
        h.query_by_label_contains("used by 1 segment(s) in 1 image(s): img0.png")
            .is_some(),
        "the refusal names the image"
    );
    assert!(h.state().project.ontology.active(car).is_some());
    // Merge asks first. The menu's "truck" is the last one (the recent row has one).
    let merge_into_truck = |h: &mut Harness<'_, LimnerApp>| {
        h.get_by_label("merge into…").click();
        h.step();
        h.step();
        let n = h.query_all_by_label("truck").count();
        assert_eq!(n, 2, "the recent row's and the menu's");
        h.query_all_by_label("truck").last().unwrap().click();
        h.step();
        h.step();
        h.step();
    };
    merge_into_truck(&mut h);
    h.step();
    h.step();
    h.step();
    h.step();
    assert!(h.query_by_label_contains("cannot be undone").is_some());
    h.get_by_label("Cancel").click();
    h.step();
    h.step();
    assert!(
        h.state().project.ontology.active(car).is_some(),
        "Cancel merges nothing"
    );
    assert_eq!(segments(&h)[0].category_id, car);
    merge_into_truck(&mut h);
    h.get_by_label("Merge").click();
    h.step();
    h.step();
    assert!(
        h.state().project.ontology.active(car).is_none(),
        "merged after the yes"
    );
    wait_for_image(&mut h);
    assert_eq!(segments(&h)[0].category_id, truck);
}

/// Item 6: leaving an image and coming back keeps its undo history.
#[test]
fn undo_history_survives_switching_images() {
    let dir = tempfile::tempdir().unwrap();
    let app = LimnerApp::new(project(dir.path(), 2, &["thing"]), None);
    let mut h = harness(app);
    draw_rect(&mut h, 20.0, 20.0, 80.0, 60.0);
    draw_rect(&mut h, 100.0, 20.0, 150.0, 60.0);
    assert_eq!(segments(&h).len(), 2);
    h.key_press(egui::Key::D);
    h.step();
    wait_for_image(&mut h);
    assert_eq!(h.state().current, 1);
    h.key_press(egui::Key::A);
    h.step();
    wait_for_image(&mut h);
    assert_eq!(segments(&h).len(), 2);
    h.key_press_modifiers(Modifiers::COMMAND, egui::Key::Z);
    h.step();
    assert_eq!(
        segments(&h).len(),
        1,
        "the second polygon undone after the switch"
    );
    h.key_press_modifiers(Modifiers::COMMAND, egui::Key::Z);
    h.step();
    assert_eq!(segments(&h).len(), 0, "and the first");
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, egui::Key::Z);
    h.step();
    assert_eq!(segments(&h).len(), 1, "redo too");
}

/// Item 7: the toolbar fits 1280 px and its first row stays put across tools; the box
/// shows while dragged; hole filling reads "off"; the eraser has no overwrite / protect;
/// hole mode ends with the hole it made.
#[test]
fn toolbar_fits_stays_put_and_shows_only_what_applies() {
    let dir = tempfile::tempdir().unwrap();
    let app = LimnerApp::new(project(dir.path(), 1, &["thing"]), None);
    let mut h = harness(app);
    let outlines = |h: &Harness<'_, LimnerApp>| h.get_by_label("outlines").rect();
    let mut seen = Vec::new();
    for tool in Tool::ALL {
        h.state_mut().canvas.tool = tool;
        h.step();
        h.step();
        let r = outlines(&h);
        assert!(
            r.right() <= SIZE.x,
            "{tool:?}: the toolbar overflows ({r:?})"
        );
        seen.push(r.left());
        let pair = h.query_by_label("overwrite").is_some();
        let wants = matches!(tool, Tool::Brush | Tool::Click | Tool::Scribble | Tool::Box);
        assert_eq!(pair, wants, "{tool:?}: overwrite / protect shown");
    }
    assert!(
        seen.iter().all(|&x| (x - seen[0]).abs() < 0.5),
        "the first row moved between tools: {seen:?}"
    );
    h.state_mut().canvas.tool = Tool::Click;
    h.step();
    assert!(
        h.query_by_value("fill holes: off").is_some(),
        "hole filling reads off, not \"< 0 px\""
    );

    // The box while dragged.
    h.state_mut().canvas.tool = Tool::Box;
    h.step();
    let a = h
        .state()
        .canvas
        .view
        .screen_from_image(Pos2::new(20.0, 20.0));
    let b = h
        .state()
        .canvas
        .view
        .screen_from_image(Pos2::new(90.0, 70.0));
    h.hover_at(a);
    h.step();
    h.drag_at(a);
    h.step();
    h.hover_at(a + egui::vec2(10.0, 10.0));
    h.step();
    h.hover_at(b);
    h.step();
    let (start, now) = h
        .state()
        .canvas
        .box_in_progress(&h.state().draft)
        .expect("a box is drawn while dragging");
    assert!(
        (start[0] - 20.0).abs() < 1.0 && (now[0] - 90.0).abs() < 1.0,
        "{start:?} {now:?}"
    );
    h.event(egui::Event::PointerButton {
        pos: b,
        button: egui::PointerButton::Primary,
        pressed: false,
        modifiers: Modifiers::NONE,
    });
    h.step();
    h.key_press(egui::Key::Escape);
    h.step();

    // Hole mode ends with the hole.
    draw_rect(&mut h, 20.0, 20.0, 120.0, 80.0);
    h.key_press(egui::Key::H);
    h.step();
    assert!(h.state().canvas.hole_mode);
    draw_rect(&mut h, 40.0, 40.0, 60.0, 60.0);
    let seg = &segments(&h)[0];
    let Geometry::Polygons { polygons } = &seg.geometry else {
        panic!("a polygon")
    };
    assert_eq!(polygons[0].holes.len(), 1, "the hole was made");
    assert!(!h.state().canvas.hole_mode, "and hole mode is off again");
}
