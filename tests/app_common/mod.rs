//! Helpers of the app tests (egui_kittest): clicks and waiting for the image to decode.
//! Included with `mod app_common;`.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use egui::{Modifiers, Pos2};
use egui_kittest::Harness;
use limner::app::LimnerApp;

/// A primary click at a screen position: hover, press, release, a frame each.
pub fn click_at(h: &mut Harness<'_, LimnerApp>, pos: Pos2) {
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

/// A primary click at an image position.
pub fn click_image(h: &mut Harness<'_, LimnerApp>, x: f32, y: f32) {
    let pos = h.state().canvas.view.screen_from_image(Pos2::new(x, y));
    click_at(h, pos);
}

/// Steps frames until the open image is on the canvas (20 s at most).
pub fn wait_for_image(h: &mut Harness<'_, LimnerApp>) {
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
}
