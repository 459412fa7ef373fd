//! The one stroke rasterizer: pixels whose centre lies within a radius of a line
//! segment (a capsule; a disk when both ends are the same point). The brush, the
//! classical assists' seed maps and the click model's guide channels all use it, so a
//! stroke covers the same pixels wherever it is drawn.

/// Calls `visit(x, y)` for every pixel of a `width` x `height` grid whose centre
/// `(x + 0.5, y + 0.5)` is within `radius` of segment a-b.
pub fn for_each_pixel_near_segment(
    width: usize,
    height: usize,
    a: [f32; 2],
    b: [f32; 2],
    radius: f32,
    mut visit: impl FnMut(usize, usize),
) {
    // `as` saturates (NaN -> 0), so wild coordinates clamp instead of wrapping.
    let x0 = (a[0].min(b[0]) - radius).floor().max(0.0) as usize;
    let x1 = ((a[0].max(b[0]) + radius).ceil().max(0.0) as usize).min(width);
    let y0 = (a[1].min(b[1]) - radius).floor().max(0.0) as usize;
    let y1 = ((a[1].max(b[1]) + radius).ceil().max(0.0) as usize).min(height);
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    for y in y0..y1 {
        for x in x0..x1 {
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            let t = if len2 > 0.0 {
                (((px - a[0]) * dx + (py - a[1]) * dy) / len2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let (qx, qy) = (a[0] + t * dx - px, a[1] + t * dy - py);
            if qx * qx + qy * qy <= radius * radius {
                visit(x, y);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covered(w: usize, h: usize, a: [f32; 2], b: [f32; 2], r: f32) -> Vec<(usize, usize)> {
        let mut v = Vec::new();
        for_each_pixel_near_segment(w, h, a, b, r, |x, y| v.push((x, y)));
        v
    }

    #[test]
    fn a_disk_covers_the_pixel_centres_within_the_radius() {
        // Radius 1 about a pixel centre: that pixel and its four edge neighbours.
        let mut v = covered(10, 10, [4.5, 4.5], [4.5, 4.5], 1.0);
        v.sort();
        assert_eq!(v, vec![(3, 4), (4, 3), (4, 4), (4, 5), (5, 4)]);
    }

    #[test]
    fn a_segment_is_a_capsule_clipped_to_the_grid() {
        let v = covered(6, 3, [-5.0, 1.5], [20.0, 1.5], 0.5);
        assert_eq!(v, (0..6).map(|x| (x, 1)).collect::<Vec<_>>());
        assert!(covered(4, 4, [-10.0, -10.0], [-9.0, -9.0], 1.0).is_empty());
        // Not a number must not panic or wrap around.
        let _ = covered(4, 4, [f32::NAN, 1.0], [2.0, f32::NAN], 1.0);
    }
}
