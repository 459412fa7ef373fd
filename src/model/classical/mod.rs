//! Classical assists: segmentation without a learned model, behind the same
//! [`MaskPredictor`](super::MaskPredictor) trait as the embedded model.
//!
//! | module | kind | prompts |
//! |---|---|---|
//! | [`threshold`] | `threshold` | Otsu or a manual level inside a box or around a click |
//! | [`region_grow`] | `region-grow` | Lab colour tolerance from positive seeds; negatives are barriers |
//! | [`watershed`] | `watershed` | markers from positive / negative prompts flood the gradient |
//! | [`grabcut`] | `grabcut` | colour GMMs + graph cut (`contest-algorithms`' Dinic max-flow) |
//! | [`superpixel`] | `superpixel` | union of SLIC superpixels under positive prompts minus negatives |
//!
//! Each backend reads its own settings from the model config (`ModelConfig::backend`);
//! every setting has a default, so `{"name": .., "kind": .., "prompts": [..]}` loads.
//! The helpers here rasterize prompts into seed maps and wrap a mask as a
//! [`Prediction`].

pub mod grabcut;
pub mod region_grow;
pub mod superpixel;
pub mod threshold;
pub mod watershed;

use rayon::prelude::*;
use serde::Deserialize;

use super::prompt::Prompts;
use super::{ModelError, Prediction};
use crate::core::geometry::{BitMask, PixelRect};

/// Seed map value: no seed.
pub const UNKNOWN: u8 = 0;
/// Seed map value: a positive prompt covers the pixel.
pub const FOREGROUND: u8 = 1;
/// Seed map value: a negative prompt covers the pixel.
pub const BACKGROUND: u8 = 2;

/// Pixel connectivity of region operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum Connectivity {
    /// Edge neighbours only.
    #[serde(rename = "4")]
    Four,
    /// Edge and corner neighbours.
    #[default]
    #[serde(rename = "8")]
    Eight,
}

impl Connectivity {
    /// Neighbour offsets `(dx, dy)`.
    pub fn offsets(self) -> &'static [(i32, i32)] {
        const FOUR: [(i32, i32); 4] = [(-1, 0), (1, 0), (0, -1), (0, 1)];
        const EIGHT: [(i32, i32); 8] = [
            (-1, 0),
            (1, 0),
            (0, -1),
            (0, 1),
            (-1, -1),
            (1, -1),
            (-1, 1),
            (1, 1),
        ];
        match self {
            Connectivity::Four => &FOUR,
            Connectivity::Eight => &EIGHT,
        }
    }
}

/// Refuses empty prompts and a previous mask of the wrong size.
pub fn check_prompts(
    backend: &str,
    image: &image::RgbImage,
    prompts: &Prompts,
) -> Result<(), ModelError> {
    let (w, h) = image.dimensions();
    if w == 0 || h == 0 {
        return Err(ModelError::Prompt(format!("{backend}: the image is empty")));
    }
    if prompts.is_empty() {
        return Err(ModelError::Prompt(format!(
            "{backend}: give at least one click, scribble or box"
        )));
    }
    if let Some(prev) = &prompts.previous
        && prev.len() != w as usize * h as usize
    {
        return Err(ModelError::Prompt(format!(
            "{backend}: previous mask has {} values, the image {w}x{h} needs {}",
            prev.len(),
            w as usize * h as usize
        )));
    }
    Ok(())
}

/// Paints prompts into a seed map (row-major, [`UNKNOWN`] / [`FOREGROUND`] /
/// [`BACKGROUND`]): clicks as disks of `click_radius`, strokes as polylines of
/// `stroke_radius`. Negatives are painted last, so they win where both overlap (a
/// negative prompt is the more specific correction).
pub fn seed_map(
    width: u32,
    height: u32,
    prompts: &Prompts,
    click_radius: f32,
    stroke_radius: f32,
) -> Vec<u8> {
    let mut seeds = vec![UNKNOWN; width as usize * height as usize];
    for positive in [true, false] {
        let v = if positive { FOREGROUND } else { BACKGROUND };
        for c in prompts.clicks.iter().filter(|c| c.positive == positive) {
            paint_segment(
                &mut seeds,
                width,
                height,
                [c.x, c.y],
                [c.x, c.y],
                click_radius,
                v,
            );
        }
        for s in prompts.strokes.iter().filter(|s| s.positive == positive) {
            let pts = &s.points;
            for i in 0..pts.len() {
                let b = pts[(i + 1).min(pts.len() - 1)];
                paint_segment(&mut seeds, width, height, pts[i], b, stroke_radius, v);
            }
        }
    }
    seeds
}

/// Sets `v` on every pixel whose centre lies within `r` of segment a-b; the pixel under
/// each end point is always set, so a radius of 0 still marks the clicked pixel.
fn paint_segment(map: &mut [u8], width: u32, height: u32, a: [f32; 2], b: [f32; 2], r: f32, v: u8) {
    let (w, h) = (width as i64, height as i64);
    for p in [a, b] {
        // A point on the far edge (x = width is a valid prompt coordinate) is on the
        // last pixel.
        let (x, y) = (p[0].floor() as i64, p[1].floor() as i64);
        let (x, y) = (x.min(w - 1), y.min(h - 1));
        if (0..w).contains(&x) && (0..h).contains(&y) {
            map[(y * w + x) as usize] = v;
        }
    }
    crate::core::stroke::for_each_pixel_near_segment(
        width as usize,
        height as usize,
        a,
        b,
        r,
        |x, y| map[y * width as usize + x] = v,
    );
}

/// The box as whole pixels, clamped to the image; `None` when it covers no pixel centre.
pub fn box_pixels(bbox: [f32; 4], width: u32, height: u32) -> Option<PixelRect> {
    let clamp = |v: f32, max: u32| (v.round().max(0.0) as u32).min(max);
    let (x0, x1) = (bbox[0].min(bbox[2]), bbox[0].max(bbox[2]));
    let (y0, y1) = (bbox[1].min(bbox[3]), bbox[1].max(bbox[3]));
    let b = [
        clamp(x0, width),
        clamp(y0, height),
        clamp(x1, width),
        clamp(y1, height),
    ];
    let r = PixelRect::new(b[0], b[1], b[2], b[3]);
    (!r.is_empty()).then_some(r)
}

/// Wraps a mask as a prediction (probability 1 inside, 0 outside).
pub fn prediction(mask: BitMask) -> Prediction {
    Prediction {
        width: mask.width,
        height: mask.height,
        probability: mask.data.iter().map(|&v| f32::from(v)).collect(),
        mask,
    }
}

/// sRGB (0-255) to linear light, as a table: the Lab conversion runs per pixel.
fn srgb_to_linear_table() -> [f32; 256] {
    let mut t = [0f32; 256];
    for (i, v) in t.iter_mut().enumerate() {
        let c = i as f32 / 255.0;
        *v = if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        };
    }
    t
}

/// CIE L*a*b* (D65) of one sRGB pixel.
pub fn rgb_to_lab(p: [u8; 3]) -> [f32; 3] {
    lab_with(&srgb_to_linear_table(), p)
}

fn lab_with(lin: &[f32; 256], p: [u8; 3]) -> [f32; 3] {
    let (r, g, b) = (lin[p[0] as usize], lin[p[1] as usize], lin[p[2] as usize]);
    let x = (0.412_456_4 * r + 0.357_576_1 * g + 0.180_437_5 * b) / 0.950_47;
    let y = 0.212_672_9 * r + 0.715_152_2 * g + 0.072_175 * b;
    let z = (0.019_333_9 * r + 0.119_192 * g + 0.950_304_1 * b) / 1.088_83;
    let f = |t: f32| {
        if t > 0.008_856 {
            t.cbrt()
        } else {
            7.787 * t + 16.0 / 116.0
        }
    };
    let (fx, fy, fz) = (f(x), f(y), f(z));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

/// The whole image in L*a*b*, row-major (rows converted in parallel).
pub fn lab_image(image: &image::RgbImage) -> Vec<[f32; 3]> {
    let lin = srgb_to_linear_table();
    image
        .as_raw()
        .par_chunks_exact(3)
        .map(|p| lab_with(&lin, [p[0], p[1], p[2]]))
        .collect()
}

/// Squared Euclidean distance of two colours.
pub fn dist2(a: [f32; 3], b: [f32; 3]) -> f32 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)
}

/// Test scenes shared by the backends' unit tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use crate::core::geometry::BitMask;
    use crate::model::prompt::{Click, Prompts, Stroke};

    /// A textured dark background with a bright ellipse (the object) and, touching
    /// its right end, a bright square "appendage" that is not part of the object.
    /// Returns the image, the ellipse mask and the appendage mask.
    pub fn scene() -> (image::RgbImage, BitMask, BitMask) {
        let (w, h) = (320u32, 240u32);
        let mut gt = BitMask::new(w, h);
        let mut extra = BitMask::new(w, h);
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            let (dx, dy) = ((x as f32 - 140.0) / 80.0, (y as f32 - 120.0) / 55.0);
            let inside = dx * dx + dy * dy <= 1.0;
            let square = !inside && (215..265).contains(&x) && (100..140).contains(&y);
            gt.set(i64::from(x), i64::from(y), inside);
            extra.set(i64::from(x), i64::from(y), square);
            let noise = ((x * 7 + y * 13) % 17) as u8;
            if inside {
                image::Rgb([230 - noise, 190 - noise, 40 + noise])
            } else if square {
                image::Rgb([225 - noise, 195 - noise, 50 + noise])
            } else {
                image::Rgb([40 + noise, 60 + noise, 90 + (x / 8 % 3) as u8 * 10])
            }
        });
        (img, gt, extra)
    }

    /// One positive click in the ellipse.
    pub fn click_in_object() -> Prompts {
        Prompts {
            clicks: vec![Click {
                x: 140.5,
                y: 120.5,
                positive: true,
            }],
            ..Default::default()
        }
    }

    /// A negative stroke across the appendage.
    pub fn negative_stroke_on_appendage() -> Stroke {
        Stroke {
            points: vec![[240.0, 102.0], [240.0, 138.0]],
            positive: false,
        }
    }

    /// A negative click in the appendage.
    pub fn negative_click_on_appendage() -> Click {
        Click {
            x: 245.5,
            y: 120.5,
            positive: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::prompt::{Click, Stroke};

    #[test]
    fn seed_map_paints_disks_strokes_and_negatives_last() {
        let p = Prompts {
            clicks: vec![Click {
                x: 10.0,
                y: 10.0,
                positive: true,
            }],
            strokes: vec![Stroke {
                points: vec![[10.0, 10.0], [30.0, 10.0]],
                positive: false,
            }],
            ..Default::default()
        };
        let s = seed_map(40, 20, &p, 5.0, 1.0);
        let count = |v| s.iter().filter(|&&x| x == v).count();
        // Disk of radius 5 about a pixel corner covers 80 centres; the stroke (radius 1,
        // 20 px long) paints 2 rows of about 20 pixels, partly over the disk.
        assert!(
            (40..=46).contains(&count(BACKGROUND)),
            "{}",
            count(BACKGROUND)
        );
        assert!(
            (60..80).contains(&count(FOREGROUND)),
            "{}",
            count(FOREGROUND)
        );
        assert_eq!(s[10 * 40 + 20], BACKGROUND);
        assert_eq!(s[6 * 40 + 10], FOREGROUND);
    }

    #[test]
    fn lab_of_white_and_red() {
        let w = rgb_to_lab([255, 255, 255]);
        assert!((w[0] - 100.0).abs() < 0.1 && w[1].abs() < 0.1 && w[2].abs() < 0.1);
        let r = rgb_to_lab([255, 0, 0]);
        assert!(
            (r[0] - 53.2).abs() < 0.5 && (r[1] - 80.1).abs() < 0.5 && (r[2] - 67.2).abs() < 0.5
        );
    }

    #[test]
    fn box_pixels_clamps_and_refuses_empty() {
        assert_eq!(
            box_pixels([-5.0, 2.0, 50.0, 8.0], 40, 20),
            Some(PixelRect::new(0, 2, 40, 8))
        );
        assert_eq!(box_pixels([5.0, 2.0, 5.2, 8.0], 40, 20), None);
    }
}
