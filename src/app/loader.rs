//! Image decoding, run as a job (see [`super::jobs`]) so a frame never waits for it.

use std::sync::Arc;

/// A decoded image: the pixels (shared with the model worker) and the texture data,
/// already cut into tiles (see [`super::tiles`]).
pub struct LoadedImage {
    pub rgb: Arc<image::RgbImage>,
    pub size: [usize; 2],
    pub tiles: Vec<(usize, usize, egui::ColorImage)>,
}

/// Decodes `path` and cuts it into texture tiles (run on a worker: see [`super::jobs`]).
pub fn decode(path: &std::path::Path) -> Result<LoadedImage, String> {
    crate::core::io::read_rgb_image(path)
        .map(|img| {
            let color = egui::ColorImage::from_rgb(
                [img.width() as usize, img.height() as usize],
                img.as_raw(),
            );
            LoadedImage {
                rgb: Arc::new(img),
                size: color.size,
                tiles: super::tiles::split(&color),
            }
        })
        .map_err(|e| e.to_string())
}
