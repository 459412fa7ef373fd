//! The `qa compare` HTML report: one self-contained file (inline CSS, inline SVG bar
//! charts, thumbnails as base64 PNG data URIs; no script, no network).

use std::fmt::Write as _;
use std::path::Path;

use super::compare::{CompareReport, FN_COLOR, FP_COLOR, GroupScores};
use super::metrics::Scores;
use crate::core::error::Result;

/// Most rows of the per-image table.
const MAX_IMAGE_ROWS: usize = 300;

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{:.1}", 100.0 * v))
}

fn hex(c: [u8; 3]) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

const CSS: &str = ".warn{color:#b00020;font-weight:600}body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}\
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}\
th{background:#eee}td.l,th.l{text-align:left}.note{color:#666}\
.grid{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0;background:#fff;border:1px solid #ddd;padding:6px}\
figcaption{font-size:12px;max-width:360px}.sw{display:inline-block;width:12px;height:12px;vertical-align:middle}";

/// Horizontal grouped bar chart: one group per label, one bar per series, values in
/// [0, 1] (None draws no bar).
pub fn bar_chart(
    title: &str,
    labels: &[String],
    series: &[(&str, &str, Vec<Option<f64>>)],
) -> String {
    let (label_w, bar_w, bar_h, gap, top) = (170.0, 420.0, 9.0, 6.0, 34.0);
    let group_h = bar_h * series.len() as f64 + gap;
    let height = top + group_h * labels.len() as f64 + 24.0;
    let width = label_w + bar_w + 60.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img"><title>{}</title><text x="0" y="14" font-size="13" font-weight="bold">{}</text>"#,
        escape(title),
        escape(title)
    );
    let mut lx = label_w;
    for (name, color, _) in series {
        let _ = write!(
            s,
            r#"<rect x="{lx}" y="20" width="10" height="10" fill="{color}"/><text x="{}" y="29" font-size="11">{}</text>"#,
            lx + 13.0,
            escape(name)
        );
        lx += 25.0 + 7.0 * name.len() as f64;
    }
    for t in 0..=4 {
        let x = label_w + bar_w * f64::from(t) / 4.0;
        let _ = write!(
            s,
            r##"<line x1="{x}" y1="{top}" x2="{x}" y2="{}" stroke="#ddd"/><text x="{x}" y="{}" font-size="10" text-anchor="middle">{}</text>"##,
            height - 20.0,
            height - 8.0,
            t * 25
        );
    }
    for (i, label) in labels.iter().enumerate() {
        let y0 = top + group_h * i as f64;
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" font-size="11" text-anchor="end">{}</text>"#,
            label_w - 6.0,
            y0 + bar_h * series.len() as f64 / 2.0 + 4.0,
            escape(label)
        );
        for (k, (_, color, values)) in series.iter().enumerate() {
            if let Some(v) = values.get(i).copied().flatten() {
                let _ = write!(
                    s,
                    r#"<rect x="{label_w}" y="{}" width="{:.1}" height="{}" fill="{color}"><title>{:.1}</title></rect>"#,
                    y0 + bar_h * k as f64,
                    bar_w * v.clamp(0.0, 1.0),
                    bar_h - 1.0,
                    100.0 * v
                );
            }
        }
    }
    s.push_str("</svg>");
    s
}

fn scores_header() -> &'static str {
    "<tr><th class=l>group</th><th>images</th><th>PQ</th><th>SQ</th><th>RQ</th><th>PQ things</th><th>PQ stuff</th><th>mIoU</th><th>Boundary IoU</th></tr>"
}

fn scores_row(name: &str, images: usize, s: &Scores) -> String {
    format!(
        "<tr><td class=l>{}</td><td>{images}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        escape(name),
        pct(s.all.pq),
        pct(s.all.sq),
        pct(s.all.rq),
        pct(s.things.pq),
        pct(s.stuff.pq),
        pct(s.miou),
        pct(s.boundary_iou)
    )
}

fn group_section(out: &mut String, title: &str, groups: &[GroupScores]) {
    let _ = write!(out, "<h2>{}</h2><table>{}", escape(title), scores_header());
    for g in groups {
        out.push_str(&scores_row(&g.name, g.images, &g.scores));
    }
    out.push_str("</table>");
    let labels: Vec<String> = groups.iter().map(|g| g.name.clone()).collect();
    out.push_str(&bar_chart(
        &format!("{title}: PQ, mIoU, Boundary IoU (%)"),
        &labels,
        &[
            (
                "PQ",
                "#4e79a7",
                groups.iter().map(|g| g.scores.all.pq).collect(),
            ),
            (
                "mIoU",
                "#59a14f",
                groups.iter().map(|g| g.scores.miou).collect(),
            ),
            (
                "Boundary IoU",
                "#e15759",
                groups.iter().map(|g| g.scores.boundary_iou).collect(),
            ),
        ],
    ));
}

/// Renders the report as one HTML document.
pub fn render(r: &CompareReport) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>Limner QA: {}</title><style>{CSS}</style></head><body>",
        escape(&r.pred)
    );
    let _ = write!(
        o,
        "<h1>Gold-set comparison</h1><p>gold <b>{}</b> ({})<br>prediction <b>{}</b><br>{} images compared; Boundary IoU band {}% of the diagonal</p>",
        escape(&r.gold),
        escape(&r.gold_set),
        escape(&r.pred),
        r.images,
        100.0 * r.boundary_dilation_ratio
    );
    if !r.missing_in_pred.is_empty() {
        let _ = write!(
            o,
            "<p class=note>{} gold images have no prediction and were skipped: {}</p>",
            r.missing_in_pred.len(),
            escape(&r.missing_in_pred.join(", "))
        );
    }
    let _ = write!(
        o,
        "<h2>Overall</h2><table>{}{}</table>",
        scores_header(),
        scores_row("all images", r.images, &r.overall)
    );

    let classes = &r.overall.classes;
    let labels: Vec<String> = classes.iter().map(|c| c.name.clone()).collect();
    o.push_str("<h2>Per class</h2>");
    o.push_str(&bar_chart(
        "Per class (%)",
        &labels,
        &[
            ("PQ", "#4e79a7", classes.iter().map(|c| c.pq).collect()),
            ("IoU", "#59a14f", classes.iter().map(|c| c.iou).collect()),
            (
                "Boundary IoU",
                "#e15759",
                classes.iter().map(|c| c.boundary_iou).collect(),
            ),
        ],
    ));
    o.push_str("<table><tr><th class=l>class</th><th class=l>kind</th><th>PQ</th><th>SQ</th><th>RQ</th><th>TP</th><th>FP</th><th>FN</th><th>IoU</th><th>Boundary IoU</th></tr>");
    for c in classes {
        let color = r.colors.get(&c.id).copied().unwrap_or([128, 128, 128]);
        let _ = write!(
            o,
            "<tr><td class=l><span class=sw style=\"background:{}\"></span> {}</td><td class=l>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            hex(color),
            escape(&c.name),
            if c.isthing { "thing" } else { "stuff" },
            pct(c.pq),
            pct(c.sq),
            pct(c.rq),
            c.tp,
            c.fp,
            c.fn_,
            pct(c.iou),
            pct(c.boundary_iou)
        );
    }
    o.push_str("</table>");

    for t in &r.slices {
        group_section(&mut o, &format!("By slice: {}", t.tag), &t.groups);
    }
    group_section(&mut o, "By annotator", &r.annotators);

    for t in &r.gold_coverage {
        let _ = write!(
            o,
            "<h2>Gold coverage: {}</h2><table><tr><th class=l>value</th><th>images</th><th>gold</th></tr>",
            escape(&t.tag)
        );
        for row in &t.rows {
            let _ = write!(
                o,
                "<tr><td class=l>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&row.value),
                row.images,
                row.gold
            );
        }
        o.push_str("</table>");
    }
    for w in &r.gold_warnings {
        let _ = write!(o, "<p class=warn>warning: {}</p>", escape(w));
    }

    if !r.thumbnails.is_empty() {
        let _ = write!(
            o,
            "<h2>Worst images</h2><p><span class=sw style=\"background:{}\"></span> false positive (the prediction gives a class the gold does not: void or another class) &nbsp; <span class=sw style=\"background:{}\"></span> false negative (gold labeled, prediction void)</p><div class=grid>",
            hex(FP_COLOR),
            hex(FN_COLOR)
        );
        for t in &r.thumbnails {
            let s = r.per_image.iter().find(|s| s.file_name == t.file_name);
            let caption = s.map_or_else(String::new, |s| {
                format!(
                    "PQ {} · mIoU {} · Boundary IoU {}{}",
                    pct(s.pq),
                    pct(s.miou),
                    pct(s.boundary_iou),
                    s.worst_class
                        .as_ref()
                        .map(|(n, v)| format!(" · worst class {} ({:.1})", escape(n), 100.0 * v))
                        .unwrap_or_default()
                )
            });
            let _ = write!(
                o,
                "<figure><img alt=\"{}\" src=\"data:image/png;base64,{}\"><figcaption><b>{}</b>{}<br>{caption}</figcaption></figure>",
                escape(&t.file_name),
                t.png_base64,
                escape(&t.file_name),
                if t.over_image {
                    ""
                } else {
                    " (over the gold label map)"
                }
            );
        }
        o.push_str("</div>");
    }

    o.push_str("<h2>Per image, worst first</h2><table><tr><th class=l>image</th><th class=l>annotator</th><th>PQ</th><th>SQ</th><th>RQ</th><th>mIoU</th><th>Boundary IoU</th><th class=l>worst class</th></tr>");
    for s in r.per_image.iter().take(MAX_IMAGE_ROWS) {
        let _ = write!(
            o,
            "<tr><td class=l>{}</td><td class=l>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=l>{}</td></tr>",
            escape(&s.file_name),
            escape(s.annotator.as_deref().unwrap_or("")),
            pct(s.pq),
            pct(s.sq),
            pct(s.rq),
            pct(s.miou),
            pct(s.boundary_iou),
            s.worst_class
                .as_ref()
                .map(|(n, v)| format!("{} ({:.1})", escape(n), 100.0 * v))
                .unwrap_or_default()
        );
    }
    o.push_str("</table>");
    if r.per_image.len() > MAX_IMAGE_ROWS {
        let _ = write!(
            o,
            "<p class=note>{} more images in the JSON report.</p>",
            r.per_image.len() - MAX_IMAGE_ROWS
        );
    }
    o.push_str("</body></html>\n");
    o
}

/// Writes the report atomically.
pub fn write(r: &CompareReport, path: &Path) -> Result<()> {
    crate::core::io::write_atomic(path, render(r).as_bytes())
}
