//! Clean-up of a predicted mask: keep only the parts the user pointed at, fill small
//! holes. Applied to the mask shown and accepted, not to the probability fed back.

use imageproc::region_labelling::{Connectivity, connected_components};

use super::prompt::Prompts;
use crate::core::geometry::BitMask;

/// Post-processing options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PostProcess {
    /// Drop connected components that no positive click or scribble touches.
    pub keep_touching_positive: bool,
    /// Fill holes (background components not touching the border) smaller than this
    /// many pixels; 0 disables.
    pub fill_holes_below: u32,
}

impl Default for PostProcess {
    fn default() -> Self {
        PostProcess {
            keep_touching_positive: true,
            fill_holes_below: 0,
        }
    }
}

fn labels(mask: &BitMask, foreground: bool) -> image::ImageBuffer<image::Luma<u32>, Vec<u32>> {
    let img = image::GrayImage::from_fn(mask.width, mask.height, |x, y| {
        image::Luma([u8::from(mask.get(i64::from(x), i64::from(y)) == foreground) * 255])
    });
    connected_components(&img, Connectivity::Four, image::Luma([0u8]))
}

/// Applies `opts` to `mask`.
pub fn apply(mask: &BitMask, prompts: &Prompts, opts: PostProcess) -> BitMask {
    let mut out = mask.clone();
    let (w, h) = (mask.width, mask.height);
    if opts.keep_touching_positive {
        let seeds: Vec<(u32, u32)> = prompts
            .clicks
            .iter()
            .filter(|c| c.positive)
            .map(|c| (c.x, c.y))
            .chain(
                prompts
                    .strokes
                    .iter()
                    .filter(|s| s.positive)
                    .flat_map(|s| s.points.iter().map(|p| (p[0], p[1]))),
            )
            .filter(|&(x, y)| x >= 0.0 && y >= 0.0 && (x as u32) < w && (y as u32) < h)
            .map(|(x, y)| (x as u32, y as u32))
            .collect();
        // Nothing to anchor on (a box alone): keep everything.
        if !seeds.is_empty() {
            let lab = labels(mask, true);
            let keep: std::collections::HashSet<u32> = seeds
                .iter()
                .map(|&(x, y)| lab.get_pixel(x, y)[0])
                .filter(|&l| l != 0)
                .collect();
            for (i, p) in lab.pixels().enumerate() {
                if !keep.contains(&p[0]) {
                    out.data[i] = 0;
                }
            }
        }
    }
    if opts.fill_holes_below > 0 {
        let lab = labels(&out, false);
        let mut area: std::collections::HashMap<u32, (u64, bool)> = Default::default();
        for (x, y, p) in lab.enumerate_pixels() {
            let border = x == 0 || y == 0 || x + 1 == w || y + 1 == h;
            let e = area.entry(p[0]).or_insert((0, false));
            e.0 += 1;
            e.1 |= border;
        }
        for (i, p) in lab.pixels().enumerate() {
            if let Some(&(a, border)) = area.get(&p[0])
                && p[0] != 0
                && !border
                && a < u64::from(opts.fill_holes_below)
            {
                out.data[i] = 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::prompt::Click;

    fn two_blobs_with_hole() -> BitMask {
        let mut m = BitMask::new(40, 20);
        for y in 2..12 {
            for x in 2..12 {
                m.set(x, y, !(6..8).contains(&x) || !(6..8).contains(&y));
            }
        }
        for y in 2..6 {
            for x in 30..34 {
                m.set(x, y, true);
            }
        }
        m
    }

    #[test]
    fn keeps_the_clicked_component_and_fills_small_holes() {
        let m = two_blobs_with_hole();
        let prompts = Prompts {
            clicks: vec![Click {
                x: 3.5,
                y: 3.5,
                positive: true,
            }],
            ..Default::default()
        };
        let kept = apply(
            &m,
            &prompts,
            PostProcess {
                keep_touching_positive: true,
                fill_holes_below: 0,
            },
        );
        assert_eq!(kept.area(), 100 - 4);
        let filled = apply(
            &m,
            &prompts,
            PostProcess {
                keep_touching_positive: true,
                fill_holes_below: 10,
            },
        );
        assert_eq!(filled.area(), 100);
        let untouched = apply(&m, &Prompts::default(), PostProcess::default());
        assert_eq!(untouched, m, "no positive prompt: nothing dropped");
    }
}
