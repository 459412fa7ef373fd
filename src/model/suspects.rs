//! Model-assisted QA: segments whose label a confident click model disagrees with.
//!
//! For every visible segment the model gets what an annotator would give it: the box
//! of the label and a click at the label's interior-most point, then up to
//! [`SuspectOptions::corrective_clicks`] clicks at the interior-most point of the larger
//! disagreement (the standard click simulation of [`super::noc`], with the label as the
//! reference). A correct label is reached in a click or two; a wrong one is not, because
//! the model keeps to the image's edges. The segment's score is
//! `(1 - IoU) * confidence`, where IoU is the best agreement reached and confidence is
//! how sure the model is (|2p - 1|, averaged) on the pixels where it still disagrees.
//! A boundary F-score (precision / recall of boundary pixels within
//! [`SuspectOptions::boundary_tolerance`] px) is reported beside it.

use serde::Serialize;

use super::noc::{interior_most, iou, next_click};
use super::prompt::{Click, PromptKind, Prompts};
use super::{MaskPredictor, ModelError};
use crate::core::geometry::BitMask;

/// How [`check_segment`] works.
#[derive(Debug, Clone, Copy)]
pub struct SuspectOptions {
    /// Clicks after the first (box + click).
    pub corrective_clicks: usize,
    /// Boundary match tolerance for the boundary F-score, in pixels.
    pub boundary_tolerance: u32,
    /// Segments smaller than this (pixels) are not checked.
    pub min_area: u64,
}

impl Default for SuspectOptions {
    fn default() -> Self {
        SuspectOptions {
            corrective_clicks: 2,
            boundary_tolerance: 2,
            min_area: 64,
        }
    }
}

/// What the model said about one segment.
#[derive(Debug, Clone, Serialize)]
pub struct SegmentCheck {
    /// `(1 - iou) * confidence`: higher is more suspect.
    pub score: f64,
    /// Best IoU between the model's mask and the label over the prompts tried.
    pub iou: f64,
    /// Boundary F-score of that mask against the label.
    pub boundary_f: f64,
    /// Mean |2p - 1| of the model over the pixels where it disagrees (1 = sure).
    pub confidence: f64,
    /// Clicks given (box counted as none).
    pub clicks: usize,
    /// IoU from the box and the first click alone.
    pub iou_first: f64,
    /// The model's mask at its best IoU.
    #[serde(skip)]
    pub mask: BitMask,
}

/// Pixels of `m` with a 4-neighbour outside `m` (the image border counts as outside).
fn boundary(m: &BitMask) -> BitMask {
    let mut b = BitMask::new(m.width, m.height);
    for y in 0..i64::from(m.height) {
        for x in 0..i64::from(m.width) {
            if m.get(x, y)
                && !(m.get(x - 1, y) && m.get(x + 1, y) && m.get(x, y - 1) && m.get(x, y + 1))
            {
                b.set(x, y, true);
            }
        }
    }
    b
}

/// Boundary F-score: the share of each mask's boundary pixels within `tol` px (Chebyshev)
/// of the other's, combined as F1 (1.0 when both boundaries are empty).
pub fn boundary_f(a: &BitMask, b: &BitMask, tol: u32) -> f64 {
    let (ba, bb) = (boundary(a), boundary(b));
    let near = |from: &BitMask, to: &BitMask| {
        let t = i64::from(tol);
        let (mut hit, mut all) = (0u64, 0u64);
        for y in 0..i64::from(from.height) {
            for x in 0..i64::from(from.width) {
                if !from.get(x, y) {
                    continue;
                }
                all += 1;
                let found = (-t..=t).any(|dy| (-t..=t).any(|dx| to.get(x + dx, y + dy)));
                hit += u64::from(found);
            }
        }
        if all == 0 {
            1.0
        } else {
            hit as f64 / all as f64
        }
    };
    let (p, r) = (near(&ba, &bb), near(&bb, &ba));
    if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

/// Runs the model on one segment's label mask (image size) and scores the disagreement.
/// `None` when the segment is too small or the model takes neither clicks nor boxes.
pub fn check_segment(
    predictor: &mut dyn MaskPredictor,
    image: &image::RgbImage,
    label: &BitMask,
    opts: &SuspectOptions,
) -> Result<Option<SegmentCheck>, ModelError> {
    if label.area() < opts.min_area {
        return Ok(None);
    }
    let supports = predictor.supports().to_vec();
    let b = label.bounds();
    let Some((x, y, _)) = interior_most(label) else {
        return Ok(None);
    };
    let mut prompts = Prompts::default();
    if supports.contains(&PromptKind::Box) {
        prompts.bbox = Some([b.x0 as f32, b.y0 as f32, b.x1 as f32, b.y1 as f32]);
    }
    if supports.contains(&PromptKind::Click) {
        prompts.clicks.push(Click {
            x: x as f32 + 0.5,
            y: y as f32 + 0.5,
            positive: true,
        });
    }
    if prompts.is_empty() {
        return Ok(None);
    }
    let mut iou_first = 0.0;
    let mut best: Option<(f64, super::Prediction)> = None;
    for k in 0..=opts.corrective_clicks {
        if k > 0 {
            let Some(mask) = best.as_ref().map(|b| &b.1.mask) else {
                break;
            };
            let Some(c) = next_click(label, mask) else {
                break;
            };
            if !supports.contains(&PromptKind::Click) {
                break;
            }
            prompts.clicks.push(c);
        }
        let p = predictor.predict(image, &prompts)?;
        let v = iou(label, &p.mask);
        if k == 0 {
            iou_first = v;
        }
        prompts.previous = Some(p.probability.clone());
        if best.as_ref().is_none_or(|b| v > b.0) {
            best = Some((v, p));
        }
        if v >= 0.97 {
            break;
        }
    }
    let Some((v, p)) = best else { return Ok(None) };
    let (mut sure, mut n) = (0.0f64, 0u64);
    for i in 0..label.data.len() {
        if (label.data[i] != 0) != (p.mask.data[i] != 0) {
            sure += f64::from((2.0 * p.probability[i] - 1.0).abs());
            n += 1;
        }
    }
    let confidence = if n == 0 { 0.0 } else { sure / n as f64 };
    Ok(Some(SegmentCheck {
        score: (1.0 - v) * confidence,
        iou: v,
        boundary_f: boundary_f(label, &p.mask, opts.boundary_tolerance),
        confidence,
        clicks: prompts.clicks.len(),
        iou_first,
        mask: p.mask,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_f_is_one_for_equal_masks_and_drops_with_a_shift() {
        let mut a = BitMask::new(40, 40);
        for y in 10..30 {
            for x in 10..30 {
                a.set(x, y, true);
            }
        }
        assert_eq!(boundary_f(&a, &a, 2), 1.0);
        let mut b = BitMask::new(40, 40);
        for y in 10..30 {
            for x in 16..36 {
                b.set(x, y, true);
            }
        }
        let f = boundary_f(&a, &b, 2);
        assert!(f < 0.7, "{f}");
        assert!(boundary_f(&a, &b, 6) > 0.99);
    }
}

/// One checked segment of a label set.
#[derive(Debug, Clone, Serialize)]
pub struct Suspect {
    /// Image file name.
    pub image: String,
    /// Segment id in that image.
    pub segment_id: u32,
    /// Its class id.
    pub category_id: u32,
    /// Its class name.
    pub category: String,
    /// Visible pixels.
    pub area: u64,
    /// What the model said.
    #[serde(flatten)]
    pub check: SegmentCheck,
    /// The label's visible pixels (image size), for thumbnails.
    #[serde(skip)]
    pub label: BitMask,
}

/// Every segment of `set` checked with the model, most suspect first, and one message
/// per image that could not be checked (its image file missing or unreadable).
/// `images_dir` is where the set's file names point. `progress(done, total)` is called
/// after each image.
pub fn find_suspects(
    set: &crate::core::qa::LabelSet,
    images_dir: &std::path::Path,
    predictor: &mut dyn MaskPredictor,
    opts: &SuspectOptions,
    mut progress: impl FnMut(usize, usize),
) -> Result<(Vec<Suspect>, Vec<String>), ModelError> {
    let names: std::collections::HashMap<u32, &str> = set
        .ontology
        .categories
        .iter()
        .map(|c| (c.id, c.name.as_str()))
        .collect();
    let mut docs: Vec<&crate::core::document::ImageDocument> = set.documents.iter().collect();
    docs.sort_by(|a, b| a.image.file_name.cmp(&b.image.file_name));
    let (mut out, mut skipped) = (Vec::new(), Vec::new());
    for (k, d) in docs.iter().enumerate() {
        let path = images_dir.join(&d.image.file_name);
        let image = match crate::core::io::read_rgb_image(&path) {
            Ok(im) if im.dimensions() == (d.image.width, d.image.height) => im,
            Ok(im) => {
                skipped.push(format!(
                    "{}: image is {}x{}, labels are {}x{}",
                    path.display(),
                    im.width(),
                    im.height(),
                    d.image.width,
                    d.image.height
                ));
                continue;
            }
            Err(e) => {
                skipped.push(e.to_string());
                continue;
            }
        };
        predictor.prepare(&image)?;
        let map = d.resolve();
        let mut stats: Vec<(u32, u64)> = map
            .stats()
            .into_iter()
            .map(|(id, s)| (id, s.area))
            .collect();
        stats.sort_unstable();
        for (id, area) in stats {
            let Some(seg) = d.segment(id) else { continue };
            let mut label = BitMask::new(map.width, map.height);
            for (v, &i) in label.data.iter_mut().zip(&map.ids) {
                *v = u8::from(i == id);
            }
            if let Some(check) = check_segment(predictor, &image, &label, opts)? {
                out.push(Suspect {
                    image: d.image.file_name.clone(),
                    segment_id: id,
                    category_id: seg.category_id,
                    category: names
                        .get(&seg.category_id)
                        .copied()
                        .unwrap_or("?")
                        .to_string(),
                    area,
                    check,
                    label,
                });
            }
        }
        progress(k + 1, docs.len());
    }
    out.sort_by(|a, b| {
        b.check
            .score
            .total_cmp(&a.check.score)
            .then_with(|| (&a.image, a.segment_id).cmp(&(&b.image, b.segment_id)))
    });
    Ok((out, skipped))
}

/// A crop around a suspect with the label's boundary in blue and the model's in
/// orange, at most `side` px, as PNG bytes.
pub fn suspect_thumbnail(image: &image::RgbImage, s: &Suspect, side: u32) -> Vec<u8> {
    let b = s.label.bounds().union(s.check.mask.bounds());
    let (w, h) = image.dimensions();
    let pad = (b.width().max(b.height()) / 5).max(8);
    let r = b.expand(pad, w, h);
    let (cw, ch) = (r.width().max(1), r.height().max(1));
    let mut crop = image::imageops::crop_imm(image, r.x0, r.y0, cw, ch).to_image();
    let (lb, mb) = (boundary(&s.label), boundary(&s.check.mask));
    for y in 0..ch {
        for x in 0..cw {
            let (ix, iy) = (i64::from(r.x0 + x), i64::from(r.y0 + y));
            if mb.get(ix, iy) {
                crop.put_pixel(x, y, image::Rgb([255, 140, 0]));
            }
            if lb.get(ix, iy) {
                crop.put_pixel(x, y, image::Rgb([0, 120, 255]));
            }
        }
    }
    let scale = (f64::from(side) / f64::from(cw.max(ch))).min(4.0);
    let (tw, th) = (
        ((f64::from(cw) * scale) as u32).max(1),
        ((f64::from(ch) * scale) as u32).max(1),
    );
    let small = image::imageops::resize(&crop, tw, th, image::imageops::FilterType::Nearest);
    let mut png = Vec::new();
    let _ = image::DynamicImage::ImageRgb8(small)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png);
    png
}

/// A self-contained HTML page of the top suspects: one card per segment with its
/// thumbnail (`thumbs[i]` PNG bytes, empty when the image was not at hand).
pub fn write_html(
    suspects: &[Suspect],
    thumbs: &[Vec<u8>],
    path: &std::path::Path,
) -> crate::core::error::Result<()> {
    use base64::Engine as _;
    use std::fmt::Write as _;
    let esc = crate::core::qa::html::escape;
    let mut o = String::from(
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>Limner: label suspects</title><style>body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}.grid{display:flex;flex-wrap:wrap;gap:16px}figure{margin:0;background:#fff;padding:8px;border:1px solid #ddd}img{display:block;image-rendering:pixelated}.k{display:inline-block;width:12px;height:12px;vertical-align:middle}</style></head><body><h1>Label suspects</h1><p>Segments a click model (box + click at the label's interior-most point, then corrective clicks) disagrees with, most suspect first. <span class=k style=\"background:#0078ff\"></span> label boundary, <span class=k style=\"background:#ff8c00\"></span> model boundary. Score = (1 - IoU) x model confidence where they disagree.</p><div class=grid>",
    );
    for (i, s) in suspects.iter().enumerate() {
        let img = thumbs
            .get(i)
            .filter(|t| !t.is_empty())
            .map(|t| {
                format!(
                    "<img alt=\"{}\" src=\"data:image/png;base64,{}\">",
                    esc(&s.image),
                    base64::engine::general_purpose::STANDARD.encode(t)
                )
            })
            .unwrap_or_default();
        let _ = write!(
            o,
            "<figure>{img}<figcaption><b>#{} {}</b> segment {} ({})<br>score {:.3} · IoU {:.3} · boundary F {:.3} · confidence {:.2} · {} px</figcaption></figure>",
            i + 1,
            esc(&s.image),
            s.segment_id,
            esc(&s.category),
            s.check.score,
            s.check.iou,
            s.check.boundary_f,
            s.check.confidence,
            s.area
        );
    }
    o.push_str("</div></body></html>\n");
    crate::core::io::write_atomic(path, o.as_bytes())
}
