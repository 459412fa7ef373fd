//! Classical assist: flood fill ("magic wand") by colour tolerance.

use std::collections::VecDeque;

use crate::core::geometry::BitMask;

/// The 4-connected region around (`x`, `y`) whose colours lie within `tolerance`
/// (Euclidean distance in RGB, 0–441) of the seed pixel's colour.
pub fn flood_fill(image: &image::RgbImage, x: u32, y: u32, tolerance: f32) -> BitMask {
    let (w, h) = image.dimensions();
    let mut mask = BitMask::new(w, h);
    if x >= w || y >= h {
        return mask;
    }
    let seed = image.get_pixel(x, y).0;
    let close = |p: [u8; 3]| {
        let d: f32 = (0..3)
            .map(|c| (f32::from(p[c]) - f32::from(seed[c])).powi(2))
            .sum();
        d <= tolerance * tolerance
    };
    let mut queue = VecDeque::from([(x, y)]);
    mask.set(i64::from(x), i64::from(y), true);
    while let Some((cx, cy)) = queue.pop_front() {
        let neighbours = [
            (cx.wrapping_sub(1), cy),
            (cx + 1, cy),
            (cx, cy.wrapping_sub(1)),
            (cx, cy + 1),
        ];
        for (nx, ny) in neighbours {
            if nx < w
                && ny < h
                && !mask.get(i64::from(nx), i64::from(ny))
                && close(image.get_pixel(nx, ny).0)
            {
                mask.set(i64::from(nx), i64::from(ny), true);
                queue.push_back((nx, ny));
            }
        }
    }
    mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_the_connected_similar_region_only() {
        let img = image::RgbImage::from_fn(20, 10, |x, y| {
            if (5..10).contains(&x) && (2..8).contains(&y) || x >= 15 {
                image::Rgb([200, 10, 10])
            } else {
                image::Rgb([10, 10, 200 + (x % 3) as u8])
            }
        });
        let m = flood_fill(&img, 6, 4, 30.0);
        assert_eq!(
            m.area(),
            30,
            "the 5x6 red block, not the disconnected red band"
        );
        let bg = flood_fill(&img, 0, 0, 30.0);
        assert_eq!(bg.area(), 15 * 10 - 30);
        assert!(flood_fill(&img, 0, 0, 0.0).area() < bg.area());
        assert_eq!(flood_fill(&img, 99, 0, 30.0).area(), 0);
    }
}
