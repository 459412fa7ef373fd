//! `limner roundtrip`: import -> export to a format (in a temporary folder) -> import,
//! then compare on the resolved label maps and report every change.
//!
//! Formats that keep instances (project, coco-panoptic, coco-instance) must give back
//! every visible segment with the same id, pixels, holes, class and iscrowd. Formats that
//! keep classes only (semantic-png) must give back the class of every pixel; their
//! documented loss (instances merged, ids and iscrowd dropped) is reported but is not a
//! failure.
//!
//! The export is read back with a named reader's fill rule (`--reader`; default: the
//! format's usual reader, [`super::default_fill_rule`]), so the check is what the
//! training code will see, not only what Limner sees. Pixels the export itself reported
//! as inexpressible under that reader are the format's documented loss there; any other
//! change fails. Changes are listed per segment and per image, worst first.

use std::collections::HashMap;
use std::path::Path;

use std::collections::HashSet;

use super::{Dataset, Format};
use crate::core::document::ImageDocument;
use crate::core::error::Result;
use crate::core::fill_rule::FillRule;
use crate::core::geometry::BitMask;
use crate::core::labelmap::LabelMap;
use crate::core::vectorize::{Vectorize, mask_to_polygons};

/// What a round trip changed.
#[derive(Debug, Default, Clone)]
pub struct RoundtripReport {
    /// Images compared.
    pub images: usize,
    /// Visible segments in the input.
    pub segments: usize,
    /// Pixels whose segment (or, for class-only formats, class) changed.
    pub changed_pixels: u64,
    /// Visible segments missing after the round trip.
    pub lost_segments: usize,
    /// Holes (of the exact vectorization of visible pixels) missing after the trip.
    pub lost_holes: usize,
    /// Segments whose class id changed.
    pub changed_classes: usize,
    /// Segments whose iscrowd flag changed.
    pub changed_iscrowd: usize,
    /// One line per change, for the user.
    pub details: Vec<String>,
    /// The format's documented loss (empty when it must be lossless).
    pub documented_loss: &'static str,
    /// The fill rule the export was read back with (`None`: no polygons to fill).
    pub reader: Option<FillRule>,
    /// Changed pixels that the export reported as inexpressible for this reader.
    pub reported_pixels: u64,
    /// (image, segment id, changed pixels), worst first.
    pub worst_segments: Vec<(String, u32, u64)>,
    /// (image, changed pixels), worst first.
    pub worst_images: Vec<(String, u64)>,
}

impl RoundtripReport {
    /// True when something changed beyond the format's documented loss.
    pub fn failed(&self) -> bool {
        self.changed_pixels > self.reported_pixels
            || self.changed_classes > 0
            || (self.documented_loss.is_empty()
                && (self.lost_segments > 0 || self.lost_holes > 0 || self.changed_iscrowd > 0))
    }
}

/// The loss a format documents; empty for lossless formats.
pub fn documented_loss(format: Format) -> &'static str {
    match format {
        Format::SemanticPng => "instances merged per class; segment ids and iscrowd dropped",
        _ => "",
    }
}

/// Holes of the exact polygons of the pixels of `id` in `map` (within its bbox).
fn holes(map: &LabelMap, id: u32, bbox: [u32; 4]) -> usize {
    let [x0, y0, w, h] = bbox;
    let mut m = BitMask::new(w, h);
    for y in 0..h {
        for x in 0..w {
            m.data[(y * w + x) as usize] = u8::from(map.at(x0 + x, y0 + y) == id);
        }
    }
    mask_to_polygons(&m, Vectorize::Exact)
        .iter()
        .map(|p| p.holes.len())
        .sum()
}

fn class_map(d: &ImageDocument, map: &LabelMap) -> LabelMap {
    let of: HashMap<u32, u32> = d.segments.iter().map(|s| (s.id, s.category_id)).collect();
    map.map_ids(|id| of.get(&id).copied().unwrap_or(0))
}

/// Compares `before` with `after` as `format` keeps them. `reported` holds, per image,
/// the pixels the export said it cannot express for the reader used.
pub fn compare(
    before: &Dataset,
    after: &Dataset,
    format: Format,
    reported: &HashMap<String, HashSet<[u32; 2]>>,
) -> RoundtripReport {
    let loss = documented_loss(format);
    let mut r = RoundtripReport {
        documented_loss: loss,
        ..Default::default()
    };
    let by_name: HashMap<&str, &ImageDocument> = after
        .documents
        .iter()
        .map(|d| (d.image.file_name.as_str(), d))
        .collect();
    for a in &before.documents {
        r.images += 1;
        let ma = a.resolve();
        let sa = ma.stats();
        r.segments += sa.len();
        let name = &a.image.file_name;
        let Some(b) = by_name.get(name.as_str()) else {
            r.details.push(format!("{name}: image lost"));
            r.lost_segments += sa.len();
            r.changed_pixels += ma.ids.iter().filter(|&&i| i != 0).count() as u64;
            continue;
        };
        let mb = b.resolve();
        if (ma.width, ma.height) != (mb.width, mb.height) {
            r.details.push(format!("{name}: size changed"));
            r.changed_pixels += ma.ids.len() as u64;
            continue;
        }
        if !loss.is_empty() {
            let (ca, cb) = (class_map(a, &ma), class_map(b, &mb));
            let n = ca.ids.iter().zip(&cb.ids).filter(|(x, y)| x != y).count() as u64;
            if n > 0 {
                r.details
                    .push(format!("{name}: {n} pixel(s) changed class"));
            }
            r.changed_pixels += n;
            continue;
        }
        let w = ma.width;
        let mut n = 0u64;
        let mut per_segment: HashMap<u32, u64> = HashMap::new();
        let known = reported.get(name.as_str());
        for (i, (x, y)) in ma.ids.iter().zip(&mb.ids).enumerate() {
            if x != y {
                n += 1;
                for id in [*x, *y] {
                    if id != 0 && sa.contains_key(&id) {
                        *per_segment.entry(id).or_default() += 1;
                    }
                }
                let at = [i as u32 % w, i as u32 / w];
                if known.is_some_and(|k| k.contains(&at)) {
                    r.reported_pixels += 1;
                }
            }
        }
        if n > 0 {
            r.details
                .push(format!("{name}: {n} pixel(s) changed segment"));
            r.worst_images.push((name.clone(), n));
        }
        r.worst_segments
            .extend(per_segment.into_iter().map(|(id, k)| (name.clone(), id, k)));
        r.changed_pixels += n;
        let sb = mb.stats();
        for (&id, st) in &sa {
            let (Some(s1), Some(s2)) = (
                a.segment(id),
                b.segment(id).filter(|_| sb.contains_key(&id)),
            ) else {
                r.lost_segments += 1;
                r.details.push(format!("{name}: segment {id} lost"));
                continue;
            };
            if s1.category_id != s2.category_id {
                r.changed_classes += 1;
                r.details.push(format!(
                    "{name}: segment {id} class {} -> {}",
                    s1.category_id, s2.category_id
                ));
            }
            if s1.iscrowd != s2.iscrowd {
                r.changed_iscrowd += 1;
                r.details
                    .push(format!("{name}: segment {id} iscrowd changed"));
            }
            let (h1, h2) = (holes(&ma, id, st.bbox), holes(&mb, id, sb[&id].bbox));
            if h2 < h1 {
                r.lost_holes += h1 - h2;
                r.details
                    .push(format!("{name}: segment {id} lost {} hole(s)", h1 - h2));
            }
        }
    }
    r.worst_images
        .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    r.worst_segments
        .sort_by(|a, b| b.2.cmp(&a.2).then_with(|| (&a.0, a.1).cmp(&(&b.0, b.1))));
    r
}

/// Reads `input` as `from`, writes it as `format` into a temporary folder, reads that
/// back with `reader`'s fill rule (default: the format's usual reader) and compares.
pub fn run(
    from: Format,
    input: &Path,
    images: Option<&Path>,
    format: Format,
    reader: Option<FillRule>,
) -> Result<RoundtripReport> {
    let reader = reader.or_else(|| super::default_fill_rule(format));
    let before = super::read(from, input, images)?;
    let again = super::read(from, input, images)?;
    let tmp = tempfile::tempdir().map_err(|e| crate::core::error::Error::io(input, e))?;
    let out = match format {
        Format::CocoPanoptic => tmp.path().join("roundtrip/panoptic.json"),
        Format::CocoInstance => tmp.path().join("roundtrip/instances.json"),
        _ => tmp.path().join("roundtrip"),
    };
    let written = super::write(format, again, &out)?;
    let after = super::read_with(format, &out, None, reader)?;
    // The export measures what it cannot express under the format's usual reader only.
    let mut reported: HashMap<String, HashSet<[u32; 2]>> = HashMap::new();
    if reader == super::default_fill_rule(format) {
        for x in written.inexpressible {
            reported.entry(x.image).or_default().extend(x.at);
        }
    }
    let mut r = compare(&before, &after, format, &reported);
    r.reader = reader;
    Ok(r)
}
