//! Clean-up of a predicted mask: keep only the parts the user pointed at, fill small
//! holes. Applied to the mask shown and accepted, not to the probability fed back.

use imageproc::drawing::flood_fill_mut;
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

/// Applies `opts` to `mask`. The extra memory is one byte per image pixel (the output)
/// plus, for hole filling, five bytes per pixel of the mask's bounding box: a 22 000 x
/// 22 000 prediction must not need a 4-byte label per image pixel.
pub fn apply(mask: &BitMask, prompts: &Prompts, opts: PostProcess) -> BitMask {
    let (w, h) = (mask.width, mask.height);
    let mut out = mask.clone();
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
            out = keep_components_at(out, &seeds);
        }
    }
    if opts.fill_holes_below > 0 {
        fill_holes(&mut out, opts.fill_holes_below);
    }
    out
}

/// Keeps the 4-connected components of `mask` that hold a seed: each is flood-filled
/// with a mark, then the mark becomes the mask.
fn keep_components_at(mask: BitMask, seeds: &[(u32, u32)]) -> BitMask {
    const KEPT: u8 = 2;
    let (w, h) = (mask.width, mask.height);
    let Some(mut img) = image::GrayImage::from_raw(w, h, mask.data) else {
        return BitMask::new(w, h);
    };
    for &(x, y) in seeds {
        if img.get_pixel(x, y)[0] == 1 {
            flood_fill_mut(&mut img, x, y, image::Luma([KEPT]));
        }
    }
    let mut data = img.into_raw();
    for v in &mut data {
        *v = u8::from(*v == KEPT);
    }
    BitMask {
        width: w,
        height: h,
        data,
    }
}

/// Fills holes (4-connected background components that do not touch the image border)
/// smaller than `below` pixels. Holes lie inside the mask's bounding box, so only that
/// box grown by one pixel is labelled: background touching the grown box's edge touches
/// the background around the box, which reaches the image border.
fn fill_holes(mask: &mut BitMask, below: u32) {
    let (w, h) = (mask.width, mask.height);
    let rect = mask.bounds().expand(1, w, h);
    if rect.is_empty() {
        return;
    }
    let (rw, rh) = (rect.width(), rect.height());
    let background = image::GrayImage::from_fn(rw, rh, |x, y| {
        let v = mask.data[(rect.y0 + y) as usize * w as usize + (rect.x0 + x) as usize];
        image::Luma([u8::from(v == 0) * 255])
    });
    let lab = connected_components(&background, Connectivity::Four, image::Luma([0u8]));
    // Per label: area, and whether it touches the box's edge.
    let mut area: std::collections::HashMap<u32, (u64, bool)> = Default::default();
    for (x, y, p) in lab.enumerate_pixels() {
        if p[0] == 0 {
            continue;
        }
        let edge = x == 0 || y == 0 || x + 1 == rw || y + 1 == rh;
        let e = area.entry(p[0]).or_insert((0, false));
        e.0 += 1;
        e.1 |= edge;
    }
    for (x, y, p) in lab.enumerate_pixels() {
        if let Some(&(a, edge)) = area.get(&p[0])
            && !edge
            && a < u64::from(below)
        {
            mask.data[(rect.y0 + y) as usize * w as usize + (rect.x0 + x) as usize] = 1;
        }
    }
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

    /// The first implementation: every component of the whole image labelled.
    fn reference(mask: &BitMask, seeds: &[(u32, u32)], below: u32) -> BitMask {
        fn labels(m: &BitMask, fg: bool) -> image::ImageBuffer<image::Luma<u32>, Vec<u32>> {
            let img = image::GrayImage::from_fn(m.width, m.height, |x, y| {
                image::Luma([u8::from(m.get(i64::from(x), i64::from(y)) == fg) * 255])
            });
            connected_components(&img, Connectivity::Four, image::Luma([0u8]))
        }
        let (w, h) = (mask.width, mask.height);
        let mut out = mask.clone();
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
        let lab = labels(&out, false);
        let mut area: std::collections::HashMap<u32, (u64, bool)> = Default::default();
        for (x, y, p) in lab.enumerate_pixels() {
            let e = area.entry(p[0]).or_insert((0, false));
            e.0 += 1;
            e.1 |= x == 0 || y == 0 || x + 1 == w || y + 1 == h;
        }
        for (i, p) in lab.pixels().enumerate() {
            if let Some(&(a, border)) = area.get(&p[0])
                && p[0] != 0
                && !border
                && a < u64::from(below)
            {
                out.data[i] = 1;
            }
        }
        out
    }

    #[test]
    fn equals_labelling_the_whole_image_on_random_masks() {
        let mut state = 7u64;
        let mut next = move |n: u32| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) % u64::from(n)) as u32
        };
        for case in 0..300 {
            let (w, h) = (1 + next(40), 1 + next(30));
            let mut m = BitMask::new(w, h);
            let density = 2 + next(6);
            for y in 0..h {
                for x in 0..w {
                    m.set(i64::from(x), i64::from(y), next(10) < density);
                }
            }
            let seeds: Vec<(u32, u32)> = (0..next(4)).map(|_| (next(w), next(h))).collect();
            let clicks = seeds
                .iter()
                .map(|&(x, y)| Click {
                    x: x as f32 + 0.5,
                    y: y as f32 + 0.5,
                    positive: true,
                })
                .collect();
            let prompts = Prompts {
                clicks,
                ..Default::default()
            };
            let below = next(20);
            let opts = PostProcess {
                keep_touching_positive: true,
                fill_holes_below: below,
            };
            assert_eq!(
                apply(&m, &prompts, opts),
                reference(&m, &seeds, below),
                "case {case}: {w}x{h}, seeds {seeds:?}, holes below {below}"
            );
        }
    }
}
