//! A 20 000 x 12 000 image (240 MP, far above any GPU's texture limit) opens in the real
//! app: it is decoded off the UI thread (frames keep running meanwhile) and shown as
//! tiles of at most 2048 x 2048 that cover every pixel once.

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use limner::app::LimnerApp;
use limner::app::tiles::TILE;
use limner::core::project::Project;

#[test]
fn a_20000_by_12000_image_is_decoded_off_the_ui_thread_and_tiled() {
    let (w, h) = (20_000u32, 12_000u32);
    let dir = tempfile::tempdir().unwrap();
    {
        // Flat bands compress to little and encode fast.
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x / 1000) as u8 * 12, (y / 1000) as u8 * 20, 90])
        });
        let f = std::fs::File::create(dir.path().join("huge.png")).unwrap();
        let enc = image::codecs::png::PngEncoder::new_with_quality(
            std::io::BufWriter::new(f),
            image::codecs::png::CompressionType::Fast,
            image::codecs::png::FilterType::NoFilter,
        );
        img.write_with_encoder(enc).unwrap();
    }
    let app = LimnerApp::new(Project::open(dir.path()).unwrap(), None);
    let mut ui = Harness::builder()
        .with_size(egui::vec2(1100.0, 700.0))
        .build_eframe(|_| app);
    let start = Instant::now();
    let mut frames_while_decoding = 0;
    while !ui.state().canvas.has_image() {
        assert!(start.elapsed() < Duration::from_secs(300), "never decoded");
        std::thread::sleep(Duration::from_millis(20));
        ui.step();
        frames_while_decoding += 1;
    }
    ui.step();
    assert!(
        frames_while_decoding >= 3,
        "the UI ran only {frames_while_decoding} frames while a 240 MP decode was in flight"
    );
    let tiles = ui.state().canvas.image_tiles();
    assert_eq!(
        tiles.len(),
        10 * 6,
        "ceil(20000/2048) x ceil(12000/2048) tiles"
    );
    let mut covered = 0f64;
    for r in &tiles {
        assert!(
            r.width() <= TILE as f32 && r.height() <= TILE as f32,
            "{r:?}"
        );
        assert!(r.min.x >= 0.0 && r.min.y >= 0.0 && r.max.x <= w as f32 && r.max.y <= h as f32);
        covered += f64::from(r.width()) * f64::from(r.height());
    }
    assert_eq!(
        covered,
        f64::from(w) * f64::from(h),
        "tiles cover every pixel once"
    );
    // Fitted: the whole image is on screen.
    let view = &ui.state().canvas.view;
    let corner = view.screen_from_image(egui::Pos2::new(w as f32, h as f32));
    assert!(corner.x <= 1100.0 && corner.y <= 700.0, "fit: {corner:?}");
}
