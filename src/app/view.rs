//! The one screen <-> image transform every tool uses.

use egui::{Pos2, Rect, Vec2};

/// `pos_on_screen = origin + scale * pos_in_image` (image pixels, y down).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ViewTransform {
    /// Screen position of image coordinate (0, 0).
    pub origin: Pos2,
    /// Screen points per image pixel.
    pub scale: f32,
}

impl Default for ViewTransform {
    fn default() -> Self {
        ViewTransform {
            origin: Pos2::ZERO,
            scale: 1.0,
        }
    }
}

/// Zoom limits (screen points per image pixel).
pub const MIN_SCALE: f32 = 0.01;
pub const MAX_SCALE: f32 = 64.0;

impl ViewTransform {
    /// Image -> screen.
    pub fn screen_from_image(&self, p: Pos2) -> Pos2 {
        self.origin + p.to_vec2() * self.scale
    }

    /// Screen -> image.
    pub fn image_from_screen(&self, p: Pos2) -> Pos2 {
        ((p - self.origin) / self.scale).to_pos2()
    }

    /// Screen rectangle covered by an image of `size` pixels.
    pub fn image_rect_on_screen(&self, size: Vec2) -> Rect {
        Rect::from_min_max(self.origin, self.screen_from_image(size.to_pos2()))
    }

    /// Fits an image of `size` pixels inside `viewport`, centred.
    pub fn fit(size: Vec2, viewport: Rect) -> Self {
        let scale = (viewport.width() / size.x)
            .min(viewport.height() / size.y)
            .clamp(MIN_SCALE, MAX_SCALE);
        let origin = viewport.center() - size * scale * 0.5;
        ViewTransform { origin, scale }
    }

    /// 1:1 with the image centred in `viewport`.
    pub fn actual_size(size: Vec2, viewport: Rect) -> Self {
        ViewTransform {
            origin: viewport.center() - size * 0.5,
            scale: 1.0,
        }
    }

    /// Zooms by `factor` keeping the image point under `anchor_on_screen` fixed.
    pub fn zoom_about(&mut self, anchor_on_screen: Pos2, factor: f32) {
        let pos_in_image = self.image_from_screen(anchor_on_screen);
        self.scale = (self.scale * factor).clamp(MIN_SCALE, MAX_SCALE);
        self.origin = anchor_on_screen - pos_in_image.to_vec2() * self.scale;
    }

    /// Moves the image by a screen-space delta.
    pub fn pan(&mut self, delta: Vec2) {
        self.origin += delta;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoom_keeps_the_point_under_the_cursor() {
        let mut t = ViewTransform {
            origin: Pos2::new(10.0, 20.0),
            scale: 2.0,
        };
        let cursor = Pos2::new(300.0, 200.0);
        let before = t.image_from_screen(cursor);
        t.zoom_about(cursor, 1.7);
        let after = t.image_from_screen(cursor);
        assert!((before - after).length() < 1e-3);
        let p = Pos2::new(12.5, 7.25);
        assert!((t.image_from_screen(t.screen_from_image(p)) - p).length() < 1e-4);
    }

    #[test]
    fn fit_shows_the_whole_image() {
        let vp = Rect::from_min_size(Pos2::ZERO, Vec2::new(800.0, 600.0));
        let t = ViewTransform::fit(Vec2::new(1600.0, 600.0), vp);
        let r = t.image_rect_on_screen(Vec2::new(1600.0, 600.0));
        assert!(vp.expand(0.01).contains_rect(r));
        assert!((r.width() - 800.0).abs() < 0.01);
    }
}
