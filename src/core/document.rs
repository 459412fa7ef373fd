//! The per-image document: segments with stable ids, and their resolution into one
//! non-overlapping label map.
//!
//! Resolution rule: segments are painted in ascending `(z, id)` order and a later paint
//! wins, so the higher z wins and, at equal z, the higher id (the newer segment) wins.
//! The resolved [`LabelMap`] is what the app shows and what every export writes.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::geometry::{BitMask, PixelRect, PolygonWithHoles, scan_polygons};
use super::labelmap::LabelMap;
use super::ontology::Ontology;

/// Schema tag written in every annotation file.
pub const ANNOTATION_SCHEMA: &str = "limner-annotation/1";

/// Where a segment came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    #[default]
    Manual,
    Polygon,
    Brush,
    Model,
    Import,
}

/// Review state of one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    #[default]
    Unreviewed,
    Accepted,
    NeedsFix,
}

/// Work status of one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ImageStatus {
    #[default]
    Todo,
    InProgress,
    Done,
    Reviewed,
    Rejected,
}

/// A free-text comment, optionally pinned to a point of the image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Comment {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<[f64; 2]>,
    /// When it was written (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
}

/// What a recorded [`Event`] did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Shape or class edits; consecutive edits by one person are counted in one event.
    Edit { count: u32 },
    /// The image's work status changed.
    Status { status: ImageStatus },
    /// A segment's review state changed.
    Review { segment: u32, state: ReviewState },
    /// A comment was added (to the image, or to `segment`).
    Comment {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        segment: Option<u32>,
    },
    /// Slice tags changed.
    Tags,
    /// The image was marked as gold or unmarked.
    Gold { gold: bool },
    /// A pre-labeling model added segments (`limner prelabel`).
    Prelabel { model: String },
}

/// One entry of an image's audit log: who did what, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    pub who: String,
    /// RFC 3339, UTC.
    pub when: String,
    pub action: Action,
}

/// Consecutive edits by one person closer than this are one [`Action::Edit`] event, so
/// the log grows with work sessions, not with brush strokes.
const EDIT_COALESCE_SECONDS: i64 = 600;

/// The current time as RFC 3339 UTC, second precision (the format of every `when`).
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| jiff::Timestamp::now().to_string())
}

/// A segment's shape: polygons with holes, or a bitmap mask as COCO compressed RLE
/// (column-major, same size as the image).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Geometry {
    Polygons { polygons: Vec<PolygonWithHoles> },
    Rle { counts: String },
}

impl Geometry {
    /// A mask geometry from a bitmap.
    pub fn from_mask(mask: &BitMask) -> Geometry {
        Geometry::Rle {
            counts: mask.to_coco_rle(),
        }
    }

    /// Rasterizes to a mask of the image's size.
    pub fn to_mask(&self, width: u32, height: u32) -> Result<BitMask, String> {
        match self {
            Geometry::Polygons { polygons } => {
                Ok(super::geometry::rasterize_polygons(polygons, width, height))
            }
            Geometry::Rle { counts } => BitMask::from_coco_rle(counts, width, height),
        }
    }

    /// A rectangle holding every pixel this geometry paints in a `width` x `height`
    /// image (polygons: from their vertices, may be a little larger; RLE: exact). Empty
    /// for a geometry that paints nothing or does not decode.
    pub fn pixel_bounds(&self, width: u32, height: u32) -> PixelRect {
        match self {
            Geometry::Polygons { polygons } => {
                super::geometry::polygons_pixel_bounds(polygons, width, height)
            }
            Geometry::Rle { counts } => super::geometry::rle_runs(counts, width, height)
                .map_or(PixelRect::EMPTY, |r| {
                    super::geometry::runs_bounds(&r, width, height)
                }),
        }
    }
}

/// One labeled region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    /// Stable id, unique within the image, >= 1. Exports map it to format ids.
    pub id: u32,
    pub category_id: u32,
    pub geometry: Geometry,
    #[serde(default)]
    pub z: i32,
    #[serde(default)]
    pub iscrowd: bool,
    #[serde(default)]
    pub source: Source,
    #[serde(default)]
    pub review: ReviewState,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub comments: Vec<Comment>,
}

impl Segment {
    /// A new, unreviewed, non-crowd segment at z 0 with no comments.
    pub fn new(id: u32, category_id: u32, geometry: Geometry, source: Source) -> Segment {
        Segment {
            id,
            category_id,
            geometry,
            z: 0,
            iscrowd: false,
            source,
            review: ReviewState::Unreviewed,
            comments: Vec::new(),
        }
    }
}

/// Which image a document describes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageRef {
    /// Path relative to the project's images folder, '/'-separated.
    pub file_name: String,
    pub width: u32,
    pub height: u32,
    /// Id used in COCO exports; kept stable once assigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coco_id: Option<u64>,
}

/// Everything annotated on one image (one `annotations/<image>.json` file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageDocument {
    pub schema: String,
    pub image: ImageRef,
    #[serde(default)]
    pub status: ImageStatus,
    #[serde(default)]
    pub segments: Vec<Segment>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub comments: Vec<Comment>,
    /// Slice tags (`scene=indoor`, `device=phone-a`): metrics can be split by them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Part of the gold set that other labels are compared against.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gold: bool,
    /// Audit log: every edit and review action with who and when, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log: Vec<Event>,
}

impl ImageDocument {
    /// An empty document for an image.
    pub fn new(file_name: &str, width: u32, height: u32) -> Self {
        ImageDocument {
            schema: ANNOTATION_SCHEMA.into(),
            image: ImageRef {
                file_name: file_name.into(),
                width,
                height,
                coco_id: None,
            },
            status: ImageStatus::Todo,
            segments: Vec::new(),
            comments: Vec::new(),
            tags: BTreeMap::new(),
            gold: false,
            log: Vec::new(),
        }
    }

    /// Records `action` by `who` now in the audit log. Edits by the same person within
    /// ten minutes of their last edit event extend that event instead of adding one.
    pub fn record(&mut self, who: &str, action: Action) {
        self.record_at(who, action, &now_rfc3339());
    }

    /// [`Self::record`] with an explicit time (RFC 3339), for imports and tests.
    pub fn record_at(&mut self, who: &str, action: Action, when: &str) {
        if let Action::Edit { count: n } = action
            && let Some(last) = self.log.last_mut()
            && last.who == who
            && let Action::Edit { count } = &mut last.action
            && seconds_between(&last.when, when)
                .is_some_and(|d| (0..EDIT_COALESCE_SECONDS).contains(&d))
        {
            *count += n;
            last.when = when.to_string();
            return;
        }
        self.log.push(Event {
            who: who.to_string(),
            when: when.to_string(),
            action,
        });
    }

    /// Who labeled the image: the person with the most recorded edits (the earliest
    /// of them on a tie); `None` when no edit was recorded.
    pub fn annotator(&self) -> Option<&str> {
        let mut counts: Vec<(&str, u32)> = Vec::new();
        for e in &self.log {
            if let Action::Edit { count } = e.action {
                match counts.iter_mut().find(|(w, _)| *w == e.who) {
                    Some((_, c)) => *c += count,
                    None => counts.push((&e.who, count)),
                }
            }
        }
        // max_by_key returns the last maximum; reverse so the earliest wins ties.
        counts.iter().rev().max_by_key(|(_, c)| *c).map(|(w, _)| *w)
    }

    /// Date (`YYYY-MM-DD`, UTC) of the last recorded edit, for drift statistics.
    pub fn last_edit_date(&self) -> Option<&str> {
        self.log
            .iter()
            .rev()
            .find(|e| matches!(e.action, Action::Edit { .. }))
            .and_then(|e| e.when.get(..10))
    }

    /// Sets the image status and records it; false when it was already `status`.
    pub fn set_status(&mut self, who: &str, status: ImageStatus) -> bool {
        if self.status == status {
            return false;
        }
        self.status = status;
        self.record(who, Action::Status { status });
        true
    }

    /// Sets a segment's review state and records it; false when unchanged or unknown.
    pub fn set_review(&mut self, who: &str, segment: u32, state: ReviewState) -> bool {
        match self.segment_mut(segment) {
            Some(s) if s.review != state => s.review = state,
            _ => return false,
        }
        self.record(who, Action::Review { segment, state });
        true
    }

    /// Adds a comment to the image (`segment` None) or to a segment, pinned to `at`
    /// when given, and records it. False when the segment does not exist.
    pub fn add_comment(
        &mut self,
        who: &str,
        segment: Option<u32>,
        text: &str,
        at: Option<[f64; 2]>,
    ) -> bool {
        let comment = Comment {
            text: text.to_string(),
            author: Some(who.to_string()),
            at,
            when: Some(now_rfc3339()),
        };
        match segment {
            None => self.comments.push(comment),
            Some(id) => match self.segment_mut(id) {
                Some(s) => s.comments.push(comment),
                None => return false,
            },
        }
        self.record(who, Action::Comment { segment });
        true
    }

    /// Every comment with the segment it belongs to (None = the image), image first.
    pub fn all_comments(&self) -> impl Iterator<Item = (Option<u32>, &Comment)> {
        self.comments.iter().map(|c| (None, c)).chain(
            self.segments
                .iter()
                .flat_map(|s| s.comments.iter().map(move |c| (Some(s.id), c))),
        )
    }

    /// The id the next new segment gets (ids are never reused within a live document).
    pub fn next_segment_id(&self) -> u32 {
        self.segments.iter().map(|s| s.id).max().unwrap_or(0) + 1
    }

    /// The segment with `id`.
    pub fn segment(&self, id: u32) -> Option<&Segment> {
        self.segments.iter().find(|s| s.id == id)
    }

    /// Mutable access to the segment with `id`.
    pub fn segment_mut(&mut self, id: u32) -> Option<&mut Segment> {
        self.segments.iter_mut().find(|s| s.id == id)
    }

    /// Resolves overlaps into one label map (see the module docs for the rule).
    /// Segments whose geometry cannot be decoded are skipped; [`Self::validate`]
    /// reports them.
    pub fn resolve(&self) -> LabelMap {
        let (w, h) = (self.image.width, self.image.height);
        let mut map = LabelMap::new(w, h);
        let mut order: Vec<&Segment> = self.segments.iter().collect();
        order.sort_by_key(|s| (s.z, s.id));
        let wu = w as usize;
        for s in order {
            match &s.geometry {
                Geometry::Polygons { polygons } => scan_polygons(polygons, w, h, |r, x0, x1| {
                    let row = r as usize * wu;
                    map.ids[row + x0 as usize..row + x1 as usize].fill(s.id);
                }),
                Geometry::Rle { counts } => {
                    if let Ok(rle) = hotcoco::mask::rle_from_string(counts, h, w)
                        && super::geometry::check_rle_size(&rle.counts, w, h).is_ok()
                    {
                        paint_rle(&mut map, &rle.counts, s.id);
                    }
                }
            }
        }
        map
    }

    /// Repaints `rect` of `map` so that it equals [`Self::resolve`] there, pixel for
    /// pixel, whatever the map held in it before (pixels outside `rect` are left alone).
    /// Only segments whose bounds meet `rect` are painted, and only within it: after an
    /// edit whose pixels all lie in `rect`, this costs the rectangle, not the image.
    pub fn resolve_region(&self, map: &mut LabelMap, rect: PixelRect) {
        let (w, h) = (self.image.width, self.image.height);
        self.resolve_region_with(map, rect, |s| s.geometry.pixel_bounds(w, h));
    }

    /// [`Self::resolve_region`] with the segments' pixel bounds from `bounds` (a cache);
    /// each must hold every pixel its segment paints.
    pub fn resolve_region_with(
        &self,
        map: &mut LabelMap,
        rect: PixelRect,
        mut bounds: impl FnMut(&Segment) -> PixelRect,
    ) {
        let (w, h) = (self.image.width, self.image.height);
        assert_eq!((map.width, map.height), (w, h), "map of another size");
        let rect = rect.intersect(PixelRect::full(w, h));
        if rect.is_empty() {
            return;
        }
        let wu = w as usize;
        for y in rect.y0 as usize..rect.y1 as usize {
            map.ids[y * wu + rect.x0 as usize..y * wu + rect.x1 as usize].fill(0);
        }
        // A stable sort of the segments in list order, as in `resolve`.
        let mut order: Vec<&Segment> = self
            .segments
            .iter()
            .filter(|s| bounds(s).intersects(rect))
            .collect();
        order.sort_by_key(|s| (s.z, s.id));
        for s in order {
            match &s.geometry {
                Geometry::Polygons { polygons } => {
                    super::geometry::scan_polygons_in(polygons, w, h, rect, |r, x0, x1| {
                        let row = r as usize * wu;
                        map.ids[row + x0 as usize..row + x1 as usize].fill(s.id);
                    })
                }
                Geometry::Rle { counts } => {
                    if let Some(runs) = super::geometry::rle_runs(counts, w, h) {
                        super::geometry::runs_in(&runs, w, h, rect, |x, y0, y1| {
                            for y in y0 as usize..y1 as usize {
                                map.ids[y * wu + x as usize] = s.id;
                            }
                        });
                    }
                }
            }
        }
    }

    /// Checks the document against the rules and the ontology; returns every problem
    /// found (empty = valid). `origin` names the file in messages.
    pub fn validate(&self, ontology: &Ontology, origin: &Path) -> Vec<Error> {
        let mut out = Vec::new();
        if self.schema != ANNOTATION_SCHEMA {
            out.push(Error::invalid(
                origin,
                "schema",
                format!(
                    "unsupported schema {:?}, expected {ANNOTATION_SCHEMA:?}",
                    self.schema
                ),
            ));
        }
        if let Err(e) =
            super::io::safe_relative_path(&self.image.file_name, origin, "image.file_name")
        {
            out.push(e);
        }
        if self.image.width == 0 || self.image.height == 0 {
            out.push(Error::invalid(
                origin,
                "image.width",
                "image size must be positive",
            ));
        } else if let Err(e) = super::io::check_declared_size(
            origin,
            "image.width,height",
            self.image.width,
            self.image.height,
        ) {
            out.push(e);
        }
        for key in self.tags.keys() {
            if let Err(why) = check_tag_key(key) {
                out.push(Error::invalid(origin, format!("tags.{key}"), why));
            }
        }
        for (i, e) in self.log.iter().enumerate() {
            if e.when.parse::<jiff::Timestamp>().is_err() {
                out.push(Error::invalid(
                    origin,
                    format!("log[{i}].when"),
                    format!("{:?} is not an RFC 3339 time", e.when),
                ));
            }
        }
        let mut ids = HashSet::new();
        for (i, s) in self.segments.iter().enumerate() {
            let f = |name: &str| format!("segments[{i}].{name}");
            if s.id == 0 {
                out.push(Error::invalid(
                    origin,
                    f("id"),
                    "segment id 0 is reserved for void",
                ));
            }
            if !ids.insert(s.id) {
                out.push(Error::invalid(
                    origin,
                    f("id"),
                    format!("duplicate segment id {}", s.id),
                ));
            }
            match ontology.get(s.category_id) {
                None => out.push(Error::invalid(
                    origin,
                    f("category_id"),
                    format!("unknown category id {}", s.category_id),
                )),
                Some(c) if c.retired => out.push(Error::invalid(
                    origin,
                    f("category_id"),
                    format!("category {} ({:?}) is retired", c.id, c.name),
                )),
                Some(_) => {}
            }
            match &s.geometry {
                Geometry::Polygons { polygons } => {
                    for (j, p) in polygons.iter().enumerate() {
                        for (k, ring) in p.rings().enumerate() {
                            if ring.iter().any(|v| !v[0].is_finite() || !v[1].is_finite()) {
                                out.push(Error::invalid(
                                    origin,
                                    format!("segments[{i}].geometry.polygons[{j}]"),
                                    format!("ring {k} has a non-finite vertex"),
                                ));
                            }
                        }
                    }
                }
                Geometry::Rle { counts } => {
                    // Runs only: no full-size mask (autosave validates after every edit).
                    if let Err(e) =
                        super::geometry::check_coco_rle(counts, self.image.width, self.image.height)
                    {
                        out.push(Error::invalid(
                            origin,
                            format!("segments[{i}].geometry.counts"),
                            e,
                        ));
                    }
                }
            }
        }
        out
    }
}

/// Seconds from `a` to `b` (RFC 3339 times); None when either does not parse.
fn seconds_between(a: &str, b: &str) -> Option<i64> {
    let (a, b) = (
        a.parse::<jiff::Timestamp>().ok()?,
        b.parse::<jiff::Timestamp>().ok()?,
    );
    Some(b.as_second() - a.as_second())
}

/// Checks a slice tag key: non-empty, no `=`, `,` or surrounding whitespace (so
/// `key=value` text and CSV round-trip).
pub fn check_tag_key(key: &str) -> std::result::Result<(), String> {
    if key.is_empty() {
        return Err("tag key is empty".into());
    }
    if key.contains(['=', ',', '\n']) || key.trim() != key {
        return Err(format!(
            "tag key {key:?} must not contain '=', ',' or newlines, nor start or end with spaces"
        ));
    }
    Ok(())
}

/// Parses `key=value` (the form used on the command line and in the app).
pub fn parse_tag(text: &str) -> std::result::Result<(String, String), String> {
    let (k, v) = text
        .split_once('=')
        .ok_or_else(|| format!("tag {text:?} is not key=value"))?;
    let (k, v) = (k.trim(), v.trim());
    check_tag_key(k)?;
    Ok((k.to_string(), v.to_string()))
}

/// Paints a column-major RLE (runs alternate 0/1, starting with 0) into a row-major map.
fn paint_rle(map: &mut LabelMap, counts: &[u32], id: u32) {
    let (w, h) = (map.width as usize, map.height as usize);
    let mut pos = 0usize;
    for (k, &n) in counts.iter().enumerate() {
        let n = n as usize;
        if k % 2 == 1 {
            for p in pos..pos + n {
                let (x, y) = (p / h, p % h);
                map.ids[y * w + x] = id;
            }
        }
        pos += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::geometry::PolygonWithHoles;
    use crate::core::ontology::Color;

    fn square(id: u32, z: i32, x: f64) -> Segment {
        Segment {
            id,
            category_id: 1,
            geometry: Geometry::Polygons {
                polygons: vec![PolygonWithHoles {
                    outer: vec![[x, 0.0], [x + 4.0, 0.0], [x + 4.0, 4.0], [x, 4.0]],
                    holes: vec![],
                }],
            },
            z,
            iscrowd: false,
            source: Source::Polygon,
            review: ReviewState::Unreviewed,
            comments: vec![],
        }
    }

    #[test]
    fn edits_coalesce_per_person_and_annotator_is_the_main_editor() {
        let mut d = ImageDocument::new("a.png", 8, 4);
        d.record_at("ana", Action::Edit { count: 1 }, "2026-11-01T10:00:00Z");
        d.record_at("ana", Action::Edit { count: 1 }, "2026-11-01T10:05:00Z");
        d.record_at("bo", Action::Edit { count: 1 }, "2026-11-01T10:06:00Z");
        d.record_at("ana", Action::Edit { count: 1 }, "2026-11-02T09:00:00Z");
        assert_eq!(d.log.len(), 3, "{:?}", d.log);
        assert_eq!(d.log[0].action, Action::Edit { count: 2 });
        assert_eq!(d.annotator(), Some("ana"));
        assert_eq!(d.last_edit_date(), Some("2026-11-02"));
        assert!(
            d.validate(&Ontology::default(), Path::new("x.json"))
                .is_empty()
        );
    }

    #[test]
    fn review_and_comments_are_logged_and_survive_json() {
        let mut d = ImageDocument::new("a.png", 8, 4);
        d.segments = vec![square(1, 0, 0.0)];
        assert!(d.set_review("qa", 1, ReviewState::NeedsFix));
        assert!(!d.set_review("qa", 1, ReviewState::NeedsFix), "no-op");
        assert!(!d.set_review("qa", 9, ReviewState::Accepted), "unknown id");
        assert!(d.add_comment("qa", Some(1), "edge too loose", Some([2.0, 1.0])));
        assert!(d.set_status("qa", ImageStatus::Rejected));
        d.tags.insert("scene".into(), "indoor".into());
        d.gold = true;
        let back: ImageDocument =
            serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        assert_eq!(back, d);
        assert_eq!(back.log.len(), 3);
        assert_eq!(back.all_comments().count(), 1);
    }

    #[test]
    fn bad_tags_and_times_are_named() {
        let mut d = ImageDocument::new("a.png", 8, 4);
        d.tags.insert("a=b".into(), "x".into());
        d.log.push(Event {
            who: "x".into(),
            when: "yesterday".into(),
            action: Action::Tags,
        });
        let errs: Vec<String> = d
            .validate(&Ontology::default(), Path::new("x.json"))
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert!(errs.iter().any(|e| e.contains("tags.a=b")), "{errs:?}");
        assert!(errs.iter().any(|e| e.contains("log[0].when")), "{errs:?}");
        assert_eq!(
            parse_tag(" scene = indoor ").unwrap(),
            ("scene".into(), "indoor".into())
        );
        assert!(parse_tag("noequals").is_err());
    }

    #[test]
    fn higher_z_wins_then_higher_id() {
        let mut d = ImageDocument::new("a.png", 8, 4);
        d.segments = vec![square(1, 5, 0.0), square(2, 0, 2.0)];
        let m = d.resolve();
        assert_eq!(m.ids[2], 1, "z=5 beats z=0 where they overlap");
        assert_eq!(m.ids[5], 2);
        d.segments[0].z = 0;
        assert_eq!(d.resolve().ids[2], 2, "equal z: the higher id wins");
    }

    #[test]
    fn rle_and_polygon_resolve_identically() {
        let mut d = ImageDocument::new("a.png", 8, 4);
        d.segments = vec![square(1, 0, 1.0)];
        let poly_map = d.resolve();
        let mask = d.segments[0].geometry.to_mask(8, 4).unwrap();
        d.segments[0].geometry = Geometry::from_mask(&mask);
        assert_eq!(d.resolve(), poly_map);
    }

    /// xorshift64*: deterministic, no dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: u32) -> u32 {
            (self.next() % u64::from(n.max(1))) as u32
        }
    }

    /// A random segment: a polygon (maybe with a hole, maybe reaching past the image) or
    /// a bitmap, at a random z.
    fn random_segment(rng: &mut Rng, id: u32, w: u32, h: u32) -> Segment {
        let ring = |rng: &mut Rng| -> Vec<[f64; 2]> {
            let (cx, cy) = (f64::from(rng.below(w)), f64::from(rng.below(h)));
            let r = 1.0 + f64::from(rng.below(w / 2 + 2));
            (0..3 + rng.below(7))
                .map(|_| {
                    let t = f64::from(rng.below(1000)) / 1000.0 * std::f64::consts::TAU;
                    let k = f64::from(rng.below(100)) / 100.0;
                    [cx + r * k * t.cos(), cy + r * k * t.sin()]
                })
                .collect()
        };
        let geometry = if rng.below(3) == 0 {
            let mut m = BitMask::new(w, h);
            let (x0, y0) = (rng.below(w), rng.below(h));
            let (x1, y1) = (x0 + rng.below(w - x0 + 1), y0 + rng.below(h - y0 + 1));
            for y in y0..y1 {
                for x in x0..x1 {
                    m.set(i64::from(x), i64::from(y), rng.below(4) != 0);
                }
            }
            Geometry::from_mask(&m)
        } else {
            let outer = ring(rng);
            let holes = (0..rng.below(2)).map(|_| ring(rng)).collect();
            Geometry::Polygons {
                polygons: vec![PolygonWithHoles { outer, holes }],
            }
        };
        let mut s = Segment::new(id, 1, geometry, Source::Polygon);
        s.z = rng.below(3) as i32 - 1;
        s
    }

    #[test]
    fn region_resolve_after_random_edits_equals_full_resolve() {
        let mut rng = Rng(0x5EED_1234_ABCD_0001);
        for case in 0..300 {
            let (w, h) = (4 + rng.below(40), 4 + rng.below(30));
            let mut d = ImageDocument::new("a.png", w, h);
            for id in 1..=rng.below(8) {
                d.segments.push(random_segment(&mut rng, id, w, h));
            }
            let mut map = d.resolve();
            for _ in 0..4 {
                // One edit: add, remove, reshape or restack a segment; the region to
                // repaint is the union of the bounds before and after.
                let (w, h) = (d.image.width, d.image.height);
                let mut dirty = PixelRect::EMPTY;
                let n = d.segments.len() as u32;
                match rng.below(4) {
                    0 | 1 if n > 0 => {
                        let i = rng.below(n) as usize;
                        dirty = d.segments[i].geometry.pixel_bounds(w, h);
                        if rng.below(2) == 0 {
                            let id = d.segments[i].id;
                            d.segments[i] = random_segment(&mut rng, id, w, h);
                        } else {
                            d.segments[i].z += 1;
                        }
                        dirty = dirty.union(d.segments[i].geometry.pixel_bounds(w, h));
                    }
                    2 if n > 0 => {
                        let s = d.segments.remove(rng.below(n) as usize);
                        dirty = s.geometry.pixel_bounds(w, h);
                    }
                    _ => {
                        let s = random_segment(&mut rng, d.next_segment_id(), w, h);
                        dirty = dirty.union(s.geometry.pixel_bounds(w, h));
                        d.segments.insert(rng.below(n + 1) as usize, s);
                    }
                }
                let full = d.resolve();
                // The rest of the map is the old one; only `dirty` is repainted.
                d.resolve_region(&mut map, dirty);
                assert_eq!(map, full, "case {case}, dirty {dirty:?}");
            }
            // Any rect of a garbled map is repaired exactly.
            let rect = PixelRect::new(rng.below(w), rng.below(h), rng.below(w + 1), h);
            for y in rect.y0..rect.y1 {
                for x in rect.x0..rect.x1 {
                    map.ids[(y * w + x) as usize] = 999;
                }
            }
            d.resolve_region(&mut map, rect);
            assert_eq!(map, d.resolve(), "case {case}");
        }
    }

    #[test]
    fn validation_reports_duplicates_and_unknown_classes() {
        let mut o = Ontology::default();
        o.add("a", Color([0, 0, 0]), true).unwrap();
        let mut d = ImageDocument::new("a.png", 8, 4);
        let mut s3 = square(1, 0, 0.0);
        s3.category_id = 9;
        d.segments = vec![square(1, 0, 0.0), s3];
        let errs: Vec<String> = d
            .validate(&o, Path::new("x.json"))
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert!(
            errs.iter()
                .any(|e| e.contains("segments[1].id") && e.contains("duplicate")),
            "{errs:?}"
        );
        assert!(
            errs.iter()
                .any(|e| e.contains("segments[1].category_id") && e.contains("unknown")),
            "{errs:?}"
        );
    }
}
