//! The prompt file of `limner predict` (kept stable for outside evaluation harnesses):
//!
//! ```json
//! {"points": [{"x": 10.0, "y": 20.0, "positive": true}],
//!  "scribbles": [{"points": [[x, y], ...], "positive": false, "radius": 3.0}],
//!  "box": [x0, y0, x1, y1] or null,
//!  "previous_mask": "path.png" or null}
//! ```
//! x is the column and y the row in image pixels; all fields are optional. `radius` is
//! accepted for backends that draw scribbles at a chosen width; `limner-click` draws them
//! at its contract radius. A relative `previous_mask` is resolved against the prompt file.

use std::path::Path;

use serde::Deserialize;

use super::prompt::{Click, Prompts, Stroke};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Point {
    x: f32,
    y: f32,
    #[serde(default = "yes")]
    positive: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Scribble {
    points: Vec<[f32; 2]>,
    #[serde(default = "yes")]
    positive: bool,
    #[serde(default)]
    #[allow(dead_code)]
    radius: Option<f32>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PromptFile {
    #[serde(default)]
    points: Vec<Point>,
    #[serde(default)]
    scribbles: Vec<Scribble>,
    #[serde(default, rename = "box")]
    bbox: Option<[f32; 4]>,
    #[serde(default)]
    previous_mask: Option<String>,
}

/// Reads a prompt file for an image of `width` x `height`; every error names the file
/// and the field.
pub fn read_prompt_file(path: &Path, width: u32, height: u32) -> Result<Prompts, String> {
    let f: PromptFile = crate::core::io::read_json(path).map_err(|e| e.to_string())?;
    let (w, h) = (width as f32, height as f32);
    let inside = |x: f32, y: f32| {
        x.is_finite() && y.is_finite() && (0.0..=w).contains(&x) && (0.0..=h).contains(&y)
    };
    let bad = |field: String, msg: String| format!("{}: field `{field}`: {msg}", path.display());
    let mut p = Prompts::default();
    for (i, pt) in f.points.iter().enumerate() {
        if !inside(pt.x, pt.y) {
            return Err(bad(
                format!("points[{i}]"),
                format!("({}, {}) is outside the {width}x{height} image", pt.x, pt.y),
            ));
        }
        p.clicks.push(Click {
            x: pt.x,
            y: pt.y,
            positive: pt.positive,
        });
    }
    for (i, s) in f.scribbles.iter().enumerate() {
        if s.points.is_empty() {
            return Err(bad(format!("scribbles[{i}].points"), "empty".into()));
        }
        if let Some((j, q)) = s
            .points
            .iter()
            .enumerate()
            .find(|(_, q)| !inside(q[0], q[1]))
        {
            return Err(bad(
                format!("scribbles[{i}].points[{j}]"),
                format!("({}, {}) is outside the {width}x{height} image", q[0], q[1]),
            ));
        }
        p.strokes.push(Stroke {
            points: s.points.clone(),
            positive: s.positive,
        });
    }
    if let Some(b) = f.bbox {
        if !(inside(b[0], b[1]) && inside(b[2], b[3]) && b[2] > b[0] && b[3] > b[1]) {
            return Err(bad(
                "box".into(),
                format!("{b:?} must be [x0, y0, x1, y1] inside the image with x1 > x0, y1 > y0"),
            ));
        }
        p.bbox = Some(b);
    }
    if let Some(m) = &f.previous_mask {
        let mp = path.parent().unwrap_or(Path::new(".")).join(m);
        let mask = super::noc::read_mask(&mp).map_err(|e| bad("previous_mask".into(), e))?;
        if (mask.width, mask.height) != (width, height) {
            return Err(bad(
                "previous_mask".into(),
                format!(
                    "{} is {}x{}, the image is {width}x{height}",
                    mp.display(),
                    mask.width,
                    mask.height
                ),
            ));
        }
        p.previous = Some(mask.data.iter().map(|&v| f32::from(v)).collect());
    }
    if p.is_empty() {
        return Err(format!("{}: no points, scribbles or box", path.display()));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Prompts, String> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.json");
        std::fs::write(&p, json).unwrap();
        read_prompt_file(&p, 100, 50)
    }

    #[test]
    fn reads_every_prompt_kind() {
        let p = parse(r#"{"points":[{"x":10,"y":20,"positive":true},{"x":5,"y":5,"positive":false}],
            "scribbles":[{"points":[[1,1],[9,9]],"positive":false,"radius":3.0}],"box":[2,3,40,45]}"#)
        .unwrap();
        assert_eq!(p.clicks.len(), 2);
        assert!(!p.clicks[1].positive);
        assert_eq!(p.strokes[0].points.len(), 2);
        assert_eq!(p.bbox, Some([2.0, 3.0, 40.0, 45.0]));
    }

    #[test]
    fn bad_prompts_name_the_field() {
        let e = parse(r#"{"points":[{"x":150,"y":20}]}"#).unwrap_err();
        assert!(e.contains("points[0]") && e.contains("outside"), "{e}");
        let e = parse(r#"{"points":[{"x":"a","y":20}]}"#).unwrap_err();
        assert!(e.contains("points[0].x"), "{e}");
        let e = parse(r#"{"pointz":[]}"#).unwrap_err();
        assert!(e.contains("pointz"), "{e}");
        let e = parse(r#"{"box":[40,3,2,45]}"#).unwrap_err();
        assert!(e.contains("`box`"), "{e}");
        assert!(parse("{}").is_err());
    }
}
