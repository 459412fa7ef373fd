//! Prompts: positive / negative clicks and scribbles, a box, the previous prediction.

/// Kinds of prompt a backend may support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptKind {
    Click,
    Scribble,
    Box,
}

/// A click at image coordinates (pixel centres are at +0.5).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Click {
    pub x: f32,
    pub y: f32,
    pub positive: bool,
}

/// A scribble: a polyline in image coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct Stroke {
    pub points: Vec<[f32; 2]>,
    pub positive: bool,
}

/// Everything a predictor gets besides the image.
#[derive(Debug, Clone, Default)]
pub struct Prompts {
    pub clicks: Vec<Click>,
    pub strokes: Vec<Stroke>,
    /// `[x0, y0, x1, y1]` in image coordinates.
    pub bbox: Option<[f32; 4]>,
    /// The previous prediction's probabilities (row-major, image size), if any.
    pub previous: Option<Vec<f32>>,
}

impl Prompts {
    /// True when there is nothing to predict from.
    pub fn is_empty(&self) -> bool {
        self.clicks.is_empty() && self.strokes.is_empty() && self.bbox.is_none()
    }

    /// Image-space bounds of all prompt geometry, `[x0, y0, x1, y1]`.
    pub fn bounds(&self) -> Option<[f32; 4]> {
        let pts = self
            .clicks
            .iter()
            .map(|c| [c.x, c.y])
            .chain(self.strokes.iter().flat_map(|s| s.points.iter().copied()))
            .chain(
                self.bbox
                    .into_iter()
                    .flat_map(|b| [[b[0], b[1]], [b[2], b[3]]]),
            );
        pts.fold(None, |acc: Option<[f32; 4]>, p| {
            Some(match acc {
                None => [p[0], p[1], p[0], p[1]],
                Some(b) => [
                    b[0].min(p[0]),
                    b[1].min(p[1]),
                    b[2].max(p[0]),
                    b[3].max(p[1]),
                ],
            })
        })
    }
}
