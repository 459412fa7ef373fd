//! Textures cut into tiles, so images larger than the GPU's maximum texture size
//! (e.g. 20 000 x 12 000) can be shown.

use egui::{Color32, ColorImage, Pos2, Rect, TextureHandle, TextureOptions, Vec2};

use super::view::ViewTransform;

/// Tile side in pixels: below every GPU's texture limit in practice (4096 is the
/// minimum most desktop drivers report; 2048 leaves room).
pub const TILE: usize = 2048;

/// One image as tiles; each knows its rectangle in image pixels.
pub struct TiledTexture {
    tiles: Vec<(Rect, TextureHandle)>,
    pub size: Vec2,
}

/// Cuts `image` into tiles of at most [`TILE`] x [`TILE`] pixels: (x, y, tile).
pub fn split(image: &ColorImage) -> Vec<(usize, usize, ColorImage)> {
    let [w, h] = image.size;
    if w <= TILE && h <= TILE {
        return vec![(0, 0, image.clone())];
    }
    let mut out = Vec::new();
    for y0 in (0..h).step_by(TILE) {
        for x0 in (0..w).step_by(TILE) {
            let (tw, th) = (TILE.min(w - x0), TILE.min(h - y0));
            let mut pixels = Vec::with_capacity(tw * th);
            for y in y0..y0 + th {
                pixels.extend_from_slice(&image.pixels[y * w + x0..y * w + x0 + tw]);
            }
            out.push((x0, y0, ColorImage::new([tw, th], pixels)));
        }
    }
    out
}

impl TiledTexture {
    /// Uploads already-split tiles of an image of `size` pixels.
    pub fn from_tiles(
        ctx: &egui::Context,
        name: &str,
        size: [usize; 2],
        tiles: Vec<(usize, usize, ColorImage)>,
    ) -> Self {
        let tiles = tiles
            .into_iter()
            .enumerate()
            .map(|(i, (x, y, img))| {
                let rect = Rect::from_min_size(
                    Pos2::new(x as f32, y as f32),
                    Vec2::new(img.size[0] as f32, img.size[1] as f32),
                );
                (
                    rect,
                    ctx.load_texture(format!("{name}-{i}"), img, TextureOptions::NEAREST),
                )
            })
            .collect();
        TiledTexture {
            tiles,
            size: Vec2::new(size[0] as f32, size[1] as f32),
        }
    }

    /// Each tile's rectangle in image pixels.
    pub fn tile_rects(&self) -> Vec<Rect> {
        self.tiles.iter().map(|(r, _)| *r).collect()
    }

    /// Splits and uploads `image`.
    pub fn new(ctx: &egui::Context, name: &str, image: &ColorImage) -> Self {
        Self::from_tiles(ctx, name, image.size, split(image))
    }

    /// Replaces the pixels at `(x, y)` (image pixels) with `image`, uploading only the
    /// part of each tile it covers (no full-texture re-upload).
    pub fn update(&mut self, x: usize, y: usize, image: ColorImage) {
        let [w, h] = image.size;
        for (rect, tex) in &mut self.tiles {
            let (tx, ty) = (rect.min.x as usize, rect.min.y as usize);
            let (tw, th) = (rect.width() as usize, rect.height() as usize);
            let (x0, y0) = (x.max(tx), y.max(ty));
            let (x1, y1) = ((x + w).min(tx + tw), (y + h).min(ty + th));
            if x0 >= x1 || y0 >= y1 {
                continue;
            }
            if (x0, y0, x1, y1) == (x, y, x + w, y + h) {
                // Within this one tile: no other tile needs it, hand it over as is.
                tex.set_partial([x0 - tx, y0 - ty], image, TextureOptions::NEAREST);
                return;
            }
            let mut pixels = Vec::with_capacity((x1 - x0) * (y1 - y0));
            for row in y0..y1 {
                let at = (row - y) * w + (x0 - x);
                pixels.extend_from_slice(&image.pixels[at..at + (x1 - x0)]);
            }
            let part = ColorImage::new([x1 - x0, y1 - y0], pixels);
            tex.set_partial([x0 - tx, y0 - ty], part, TextureOptions::NEAREST);
        }
    }

    /// Draws the tiles that intersect the clip rectangle.
    pub fn paint(&self, painter: &egui::Painter, view: &ViewTransform, tint: Color32) {
        let uv = Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0));
        let clip = painter.clip_rect();
        for (rect, tex) in &self.tiles {
            let on_screen = Rect::from_min_max(
                view.screen_from_image(rect.min),
                view.screen_from_image(rect.max),
            );
            if on_screen.intersects(clip) {
                painter.image(tex.id(), on_screen, uv, tint);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_covers_every_pixel_once() {
        let (w, h) = (TILE * 2 + 5, TILE + 1);
        let img = ColorImage::new(
            [w, h],
            (0..w * h)
                .map(|i| Color32::from_gray((i % 251) as u8))
                .collect(),
        );
        let tiles = split(&img);
        assert_eq!(tiles.len(), 6);
        let total: usize = tiles.iter().map(|t| t.2.size[0] * t.2.size[1]).sum();
        assert_eq!(total, w * h);
        let (x, y, t) = tiles
            .iter()
            .find(|t| t.0 == TILE * 2 && t.1 == TILE)
            .unwrap();
        assert_eq!(t.size, [5, 1]);
        assert_eq!(t.pixels[0], img.pixels[y * w + x]);
    }

    #[test]
    fn update_uploads_only_the_covered_part_of_each_tile() {
        let ctx = egui::Context::default();
        let (w, h) = (TILE + 20, 10);
        let img = ColorImage::new([w, h], vec![Color32::BLACK; w * h]);
        let mut t = TiledTexture::new(&ctx, "t", &img);
        let _ = ctx.tex_manager().write().take_delta();
        let patch = ColorImage::new([30, 4], vec![Color32::WHITE; 120]);
        t.update(TILE - 10, 3, patch);
        let inside = ColorImage::new([5, 2], vec![Color32::WHITE; 10]);
        t.update(TILE + 1, 0, inside);
        let delta = ctx.tex_manager().write().take_delta();
        let mut parts: Vec<([usize; 2], [usize; 2])> = delta
            .set
            .values()
            .flatten()
            .map(|d| (d.pos.expect("partial, not a full upload"), d.image.size()))
            .collect();
        parts.sort();
        assert_eq!(
            parts,
            vec![
                ([0, 3], [20, 4]),
                ([1, 0], [5, 2]),
                ([TILE - 10, 3], [10, 4])
            ]
        );
    }
}
