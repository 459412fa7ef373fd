//! Image decoding on worker threads; results come back over a channel and are
//! picked up once per frame, so a frame never waits for a decode.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

/// A decoded image: the pixels (shared with the model worker) and the texture data,
/// already cut into tiles (see [`super::tiles`]).
pub struct LoadedImage {
    pub rgb: Arc<image::RgbImage>,
    pub size: [usize; 2],
    pub tiles: Vec<(usize, usize, egui::ColorImage)>,
}

/// A finished decode.
pub struct DecodedImage {
    pub path: PathBuf,
    pub image: Result<LoadedImage, String>,
}

/// Spawns one decode thread per request; stale results are dropped by the caller.
pub struct Loader {
    tx: Sender<DecodedImage>,
    rx: Receiver<DecodedImage>,
    pending: usize,
}

impl Default for Loader {
    fn default() -> Self {
        let (tx, rx) = channel();
        Loader { tx, rx, pending: 0 }
    }
}

impl Loader {
    /// Starts decoding `path` in the background.
    pub fn request(&mut self, path: PathBuf) {
        let tx = self.tx.clone();
        self.pending += 1;
        std::thread::spawn(move || {
            let image = crate::core::io::read_rgb_image(&path)
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
                .map_err(|e| e.to_string());
            let _ = tx.send(DecodedImage { path, image });
        });
    }

    /// The next finished decode, if any.
    pub fn poll(&mut self) -> Option<DecodedImage> {
        let r = self.rx.try_recv().ok();
        if r.is_some() {
            self.pending -= 1;
        }
        r
    }

    /// True while a decode is running.
    pub fn is_busy(&self) -> bool {
        self.pending > 0
    }
}
