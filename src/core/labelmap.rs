//! The resolved, non-overlapping label map of one image, and its COCO panoptic PNG
//! encoding (id = R + 256 G + 256^2 B, 0 = void).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::error::{Error, Result};
use super::geometry::PixelRect;

/// Largest id a panoptic PNG can hold (24 bits).
pub const MAX_PANOPTIC_ID: u32 = (1 << 24) - 1;

/// One segment id per pixel, row-major; 0 is void.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelMap {
    pub width: u32,
    pub height: u32,
    pub ids: Vec<u32>,
}

/// Pixel statistics of one id in a label map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentStats {
    pub area: u64,
    /// COCO bbox `[x, y, width, height]` of the pixels, in whole pixels.
    pub bbox: [u32; 4],
}

impl SegmentStats {
    /// The bbox as a pixel rectangle.
    pub fn rect(&self) -> PixelRect {
        let [x, y, w, h] = self.bbox;
        PixelRect::new(x, y, x + w, y + h)
    }

    fn from_rect(area: u64, r: PixelRect) -> SegmentStats {
        SegmentStats {
            area,
            bbox: [r.x0, r.y0, r.width(), r.height()],
        }
    }
}

impl LabelMap {
    /// An all-void map.
    pub fn new(width: u32, height: u32) -> Self {
        LabelMap {
            width,
            height,
            ids: vec![0; width as usize * height as usize],
        }
    }

    /// Id at (x, y).
    pub fn at(&self, x: u32, y: u32) -> u32 {
        self.ids[y as usize * self.width as usize + x as usize]
    }

    /// Area and bbox of every non-void id present, in id order.
    pub fn stats(&self) -> BTreeMap<u32, SegmentStats> {
        let mut acc: BTreeMap<u32, (u64, u32, u32, u32, u32)> = BTreeMap::new();
        let w = self.width as usize;
        for (y, row) in self.ids.chunks_exact(w.max(1)).enumerate() {
            let y = y as u32;
            let mut x = 0usize;
            while x < row.len() {
                let id = row[x];
                let start = x;
                while x < row.len() && row[x] == id {
                    x += 1;
                }
                if id == 0 {
                    continue;
                }
                let (x0, x1) = (start as u32, (x - 1) as u32);
                let e = acc.entry(id).or_insert((0, u32::MAX, u32::MAX, 0, 0));
                e.0 += (x - start) as u64;
                e.1 = e.1.min(x0);
                e.2 = e.2.min(y);
                e.3 = e.3.max(x1);
                e.4 = e.4.max(y);
            }
        }
        acc.into_iter()
            .map(|(id, (area, x0, y0, x1, y1))| {
                (
                    id,
                    SegmentStats {
                        area,
                        bbox: [x0, y0, x1 - x0 + 1, y1 - y0 + 1],
                    },
                )
            })
            .collect()
    }

    /// The ids of `rect` (clipped to the map), row-major.
    pub fn crop(&self, rect: PixelRect) -> Vec<u32> {
        let mut out = Vec::new();
        self.crop_into(rect, &mut out);
        out
    }

    /// [`Self::crop`] into `out` (cleared first), reusing its allocation.
    pub fn crop_into(&self, rect: PixelRect, out: &mut Vec<u32>) {
        let rect = rect.intersect(PixelRect::full(self.width, self.height));
        let w = self.width as usize;
        out.clear();
        out.reserve(rect.area() as usize);
        for y in rect.y0 as usize..rect.y1 as usize {
            out.extend_from_slice(&self.ids[y * w + rect.x0 as usize..y * w + rect.x1 as usize]);
        }
    }

    /// Bounds of the pixels of `id` within `rect`.
    pub fn bounds_of_in(&self, id: u32, rect: PixelRect) -> PixelRect {
        let rect = rect.intersect(PixelRect::full(self.width, self.height));
        let w = self.width as usize;
        let mut b = PixelRect::EMPTY;
        for y in rect.y0..rect.y1 {
            let row =
                &self.ids[y as usize * w + rect.x0 as usize..y as usize * w + rect.x1 as usize];
            if let (Some(a), Some(c)) = (
                row.iter().position(|&v| v == id),
                row.iter().rposition(|&v| v == id),
            ) {
                b = b.union(PixelRect::new(
                    rect.x0 + a as u32,
                    y,
                    rect.x0 + c as u32 + 1,
                    y + 1,
                ));
            }
        }
        b
    }

    /// Brings `stats` (this map's [`Self::stats`] before the pixels of `rect` changed)
    /// up to date, given the ids `before` the change (row-major, as [`Self::crop`] gave
    /// them). Work is the rectangle, plus, for a segment that lost pixels on the edge of
    /// its bbox, a rescan of that old bbox.
    pub fn update_stats(
        &self,
        stats: &mut BTreeMap<u32, SegmentStats>,
        rect: PixelRect,
        before: &[u32],
    ) {
        let rect = rect.intersect(PixelRect::full(self.width, self.height));
        assert_eq!(before.len() as u64, rect.area(), "before is not the rect");
        #[derive(Default)]
        struct Delta {
            gained: u64,
            lost: u64,
            gained_box: PixelRect,
            lost_box: PixelRect,
        }
        let mut deltas: HashMap<u32, Delta> = HashMap::new();
        let (w, rw) = (self.width as usize, rect.width() as usize);
        for (i, y) in (rect.y0..rect.y1).enumerate() {
            let old = &before[i * rw..(i + 1) * rw];
            let start = y as usize * w + rect.x0 as usize;
            let new = &self.ids[start..start + rw];
            if old == new {
                continue;
            }
            let mut x = 0;
            while x < rw {
                let (o, n) = (old[x], new[x]);
                let s = x;
                while x < rw && old[x] == o && new[x] == n {
                    x += 1;
                }
                if o == n {
                    continue;
                }
                let run = PixelRect::new(rect.x0 + s as u32, y, rect.x0 + x as u32, y + 1);
                let len = (x - s) as u64;
                if o != 0 {
                    let d = deltas.entry(o).or_default();
                    d.lost += len;
                    d.lost_box = d.lost_box.union(run);
                }
                if n != 0 {
                    let d = deltas.entry(n).or_default();
                    d.gained += len;
                    d.gained_box = d.gained_box.union(run);
                }
            }
        }
        for (id, d) in deltas {
            let old = stats.get(&id).copied();
            let area = (old.map_or(0, |s| s.area) + d.gained).saturating_sub(d.lost);
            if area == 0 {
                stats.remove(&id);
                continue;
            }
            let old_box = old.map_or(PixelRect::EMPTY, |s| s.rect());
            let l = d.lost_box;
            // A pixel on each edge of the old bbox survived unless a lost pixel was there.
            let lost_an_edge = d.lost > 0
                && (l.x0 == old_box.x0
                    || l.y0 == old_box.y0
                    || l.x1 == old_box.x1
                    || l.y1 == old_box.y1);
            let kept = if lost_an_edge {
                self.bounds_of_in(id, old_box)
            } else {
                old_box
            };
            stats.insert(id, SegmentStats::from_rect(area, kept.union(d.gained_box)));
        }
    }

    /// Replaces ids through `f` (0 stays 0 unless `f` says otherwise).
    pub fn map_ids(&self, mut f: impl FnMut(u32) -> u32) -> LabelMap {
        let mut cache: Option<(u32, u32)> = None;
        let ids = self
            .ids
            .iter()
            .map(|&id| match cache {
                Some((k, v)) if k == id => v,
                _ => {
                    let v = f(id);
                    cache = Some((id, v));
                    v
                }
            })
            .collect();
        LabelMap {
            width: self.width,
            height: self.height,
            ids,
        }
    }

    /// Encodes as an 8-bit RGB PNG with the panoptic id encoding.
    pub fn to_panoptic_png(&self) -> Result<Vec<u8>, String> {
        let mut rgb = Vec::with_capacity(self.ids.len() * 3);
        for &id in &self.ids {
            if id > MAX_PANOPTIC_ID {
                return Err(format!("segment id {id} does not fit in 24 bits"));
            }
            rgb.extend_from_slice(&[id as u8, (id >> 8) as u8, (id >> 16) as u8]);
        }
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, self.width, self.height);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            enc.set_compression(png::Compression::Fast);
            let mut wr = enc.write_header().map_err(|e| e.to_string())?;
            wr.write_image_data(&rgb).map_err(|e| e.to_string())?;
            wr.finish().map_err(|e| e.to_string())?;
        }
        Ok(out)
    }

    /// Reads a panoptic PNG (RGB or RGBA, 8-bit) into a label map.
    pub fn read_panoptic_png(path: &Path) -> Result<LabelMap> {
        super::io::image_dimensions(path)?;
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
            .map_err(|e| Error::image(path, e.to_string()))?;
        let rgb = match img {
            image::DynamicImage::ImageRgb8(i) => i,
            image::DynamicImage::ImageRgba8(_) => img.to_rgb8(),
            other => {
                return Err(Error::image(
                    path,
                    format!("panoptic PNG must be 8-bit RGB, found {:?}", other.color()),
                ));
            }
        };
        let ids = rgb
            .pixels()
            .map(|p| u32::from(p[0]) | u32::from(p[1]) << 8 | u32::from(p[2]) << 16)
            .collect();
        Ok(LabelMap {
            width: rgb.width(),
            height: rgb.height(),
            ids,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_give_area_and_bbox() {
        let mut m = LabelMap::new(5, 4);
        for (x, y) in [(1, 1), (3, 1), (2, 2)] {
            m.ids[y * 5 + x] = 7;
        }
        let s = m.stats();
        assert_eq!(
            s[&7],
            SegmentStats {
                area: 3,
                bbox: [1, 1, 3, 2]
            }
        );
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn incremental_stats_equal_a_full_recount() {
        // xorshift64*: deterministic, no dependency.
        let mut state = 0x0DDB_1A5E_5BAD_5EEDu64;
        let mut below = |n: u32| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_F491_4F6C_DD1D) % u64::from(n.max(1))) as u32
        };
        for case in 0..500 {
            let (w, h) = (1 + below(20), 1 + below(15));
            let mut m = LabelMap::new(w, h);
            for _ in 0..below(6) {
                let (x0, y0) = (below(w), below(h));
                let (x1, y1) = (x0 + below(w - x0 + 1), y0 + below(h - y0 + 1));
                let id = below(5);
                for y in y0..y1 {
                    for x in x0..x1 {
                        m.ids[(y * w + x) as usize] = id;
                    }
                }
            }
            let mut stats = m.stats();
            for _ in 0..3 {
                let (x0, y0) = (below(w + 1), below(h + 1));
                let rect = PixelRect::new(x0, y0, x0 + below(w - x0 + 1), y0 + below(h - y0 + 1));
                let before = m.crop(rect);
                for y in rect.y0..rect.y1 {
                    for x in rect.x0..rect.x1 {
                        if below(3) != 0 {
                            m.ids[(y * w + x) as usize] = below(6);
                        }
                    }
                }
                m.update_stats(&mut stats, rect, &before);
                assert_eq!(stats, m.stats(), "case {case}, {rect:?}");
            }
        }
    }

    #[test]
    fn png_roundtrip_uses_rgb_encoding() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = LabelMap::new(3, 2);
        m.ids = vec![0, 1, 256, 65536, 0x00ABCDEF, MAX_PANOPTIC_ID];
        let p = dir.path().join("m.png");
        std::fs::write(&p, m.to_panoptic_png().unwrap()).unwrap();
        let img = image::open(&p).unwrap().to_rgb8();
        assert_eq!(img.get_pixel(2, 0).0, [0, 1, 0], "256 = G 1");
        assert_eq!(LabelMap::read_panoptic_png(&p).unwrap(), m);
        m.ids[0] = MAX_PANOPTIC_ID + 1;
        assert!(m.to_panoptic_png().is_err());
    }
}
