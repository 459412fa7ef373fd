//! mIoU, Boundary IoU and PQ of `qa compare` on small hand-computed cases. Expected values
//! are derived in the comments, pixel by pixel.

use std::path::PathBuf;

use limner::core::document::{Geometry, ImageDocument, Segment, Source};
use limner::core::geometry::PolygonWithHoles;
use limner::core::ontology::{Color, Ontology};
use limner::core::qa::{LabelSet, SetKind, compare};

fn rect(id: u32, cat: u32, x0: f64, y0: f64, x1: f64, y1: f64) -> Segment {
    Segment::new(
        id,
        cat,
        Geometry::Polygons {
            polygons: vec![PolygonWithHoles {
                outer: vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]],
                holes: vec![],
            }],
        },
        Source::Polygon,
    )
}

fn ontology() -> Ontology {
    let mut o = Ontology::default();
    assert_eq!(o.add("thing", Color([200, 0, 0]), true).unwrap(), 1);
    assert_eq!(o.add("stuff", Color([0, 0, 200]), false).unwrap(), 2);
    o
}

fn set(name: &str, docs: Vec<ImageDocument>) -> LabelSet {
    LabelSet {
        origin: PathBuf::from(name),
        kind: SetKind::CocoPanoptic,
        ontology: ontology(),
        documents: docs,
        images_dir: None,
        project: None,
    }
}

fn doc(w: u32, h: u32, segments: Vec<Segment>) -> ImageDocument {
    let mut d = ImageDocument::new("a.png", w, h);
    d.segments = segments;
    d
}

fn assert_close(a: Option<f64>, b: f64, what: &str) {
    let a = a.unwrap_or_else(|| panic!("{what}: missing"));
    assert!((a - b).abs() < 1e-12, "{what}: got {a}, expected {b}");
}

/// A 4×4 square of class 1 at x 2..6, y 2..6 on a 10×10 void image; the prediction is
/// the same square shifted right by one pixel (x 3..7).
///
/// - d = max(1, round(0.02 · √200 = 0.28)) = 1.
/// - mIoU: gold has 16 pixels of class 1; the prediction covers 12 of them (x 3..6) and
///   4 gold-void pixels (x = 6), which are ignored. IoU = 12 / (16 + 12 − 12) = 0.75.
/// - PQ (panopticapi IoU, the prediction's void overlap leaves the union):
///   12 / (16 + 16 − 12 − 4) = 0.75 > 0.5, a match: PQ = SQ = 0.75, RQ = 1.
/// - Boundary: the gold band is the square's 1-pixel ring, 16 − 4 = 12 pixels: rows 2
///   and 5 at x 2..6 (8) and x = 2, 5 on rows 3, 4 (4). The predicted ring is rows 2, 5
///   at x 3..7 and x = 3, 6 on rows 3, 4. On gold-void pixels (x = 6) nothing counts.
///   Intersection: rows 2, 5 at x 3, 4, 5 = 6. Union: the gold ring 12 plus predicted
///   ring pixels on labeled gold outside it: x = 3 on rows 3, 4 = 2 → 14.
///   Boundary IoU = 6 / 14 = 3/7.
#[test]
fn shifted_square_on_void() {
    let gold = set(
        "gold",
        vec![doc(10, 10, vec![rect(1, 1, 2.0, 2.0, 6.0, 6.0)])],
    );
    let pred = set(
        "pred",
        vec![doc(10, 10, vec![rect(7, 1, 3.0, 2.0, 7.0, 6.0)])],
    );
    let r = compare::compare(&gold, &pred, &compare::CompareOptions::default()).unwrap();
    let c = &r.overall.classes[0];
    assert_close(c.iou, 0.75, "IoU");
    assert_close(r.overall.miou, 0.75, "mIoU");
    assert_close(c.pq, 0.75, "PQ");
    assert_close(c.sq, 0.75, "SQ");
    assert_close(c.rq, 1.0, "RQ");
    assert_close(c.boundary_iou, 3.0 / 7.0, "Boundary IoU");
    assert_close(r.per_image[0].boundary_error, 4.0 / 7.0, "boundary error");
    assert_eq!(r.overall.stuff.n, 0, "no stuff class seen");
    assert_eq!(r.overall.stuff.pq, None);
}

/// An 8×8 image split into class 1 (thing, x < 4) and class 2 (stuff, x ≥ 4); the
/// prediction moves the border right by one (class 1 at x < 5). No void; d = 1
/// (0.02 · √128 = 0.23). The image border counts as outside.
///
/// - IoU 1: gold 32, predicted 40, agree 32 → 32/40 = 0.8. IoU 2: gold 32, predicted
///   24, agree 24 → 24/32 = 0.75. mIoU = 0.775. PQ: the same IoUs match (> 0.5), so
///   PQ things = 0.8, PQ stuff = 0.75, PQ all = 0.775.
/// - Class 1 bands: gold interior x 1..3 × y 1..7 = 12 → band 20; predicted interior
///   x 1..4 × y 1..7 = 18 → band 22. Both contain column x = 0 (8) and rows 0, 7 at
///   x 1..4 (6): intersection 14, union 20 + 22 − 14 = 28 → 0.5.
/// - Class 2 bands: gold interior x 5..7 × y 1..7 = 12 → band 20; predicted (x 5..8)
///   interior x 6..7 × y 1..7 = 6 → band 18. Both contain column x = 7 (8), and rows
///   0, 7 at x = 5, 6 (4): intersection 12, union 20 + 18 − 12 = 26 → 6/13.
#[test]
fn moved_border_between_two_classes() {
    let g = doc(
        8,
        8,
        vec![
            rect(1, 1, 0.0, 0.0, 4.0, 8.0),
            rect(2, 2, 4.0, 0.0, 8.0, 8.0),
        ],
    );
    let p = doc(
        8,
        8,
        vec![
            rect(1, 1, 0.0, 0.0, 5.0, 8.0),
            rect(2, 2, 5.0, 0.0, 8.0, 8.0),
        ],
    );
    let r = compare::compare(
        &set("gold", vec![g]),
        &set("pred", vec![p]),
        &compare::CompareOptions::default(),
    )
    .unwrap();
    let (c1, c2) = (&r.overall.classes[0], &r.overall.classes[1]);
    assert_close(c1.iou, 0.8, "IoU 1");
    assert_close(c2.iou, 0.75, "IoU 2");
    assert_close(r.overall.miou, 0.775, "mIoU");
    assert_close(r.overall.things.pq, 0.8, "PQ things");
    assert_close(r.overall.stuff.pq, 0.75, "PQ stuff");
    assert_close(r.overall.all.pq, 0.775, "PQ all");
    assert_close(c1.boundary_iou, 0.5, "Boundary IoU 1");
    assert_close(c2.boundary_iou, 6.0 / 13.0, "Boundary IoU 2");
    assert_close(
        r.overall.boundary_iou,
        (0.5 + 6.0 / 13.0) / 2.0,
        "mean Boundary IoU",
    );
}

/// Slices and annotators split the same figures: two images, one perfect (scene=a),
/// one with the class-1 square deleted (scene=b, by "bo").
///
/// - Image 1 (perfect): every figure 1.
/// - Image 2: the gold square (16 px) is predicted void: IoU 0, FN 1 → PQ 0.
/// - Overall class 1: TP 1 (IoU 1), FN 1 → PQ = 1 / (1 + 0.5) = 2/3; IoU = 16/32 = 0.5.
#[test]
fn slices_and_annotators_group_images() {
    let square = || rect(1, 1, 2.0, 2.0, 6.0, 6.0);
    let mut g1 = doc(10, 10, vec![square()]);
    g1.image.file_name = "one.png".into();
    g1.tags.insert("scene".into(), "a".into());
    let mut g2 = g1.clone();
    g2.image.file_name = "two.png".into();
    g2.tags.insert("scene".into(), "b".into());
    let mut p1 = g1.clone();
    p1.tags.clear();
    p1.record_at(
        "ana",
        limner::core::document::Action::Edit { count: 1 },
        "2026-11-01T10:00:00Z",
    );
    let mut p2 = doc(10, 10, vec![]);
    p2.image.file_name = "two.png".into();
    p2.record_at(
        "bo",
        limner::core::document::Action::Edit { count: 1 },
        "2026-11-01T10:00:00Z",
    );
    let r = compare::compare(
        &set("gold", vec![g1, g2]),
        &set("pred", vec![p1, p2]),
        &compare::CompareOptions {
            by: vec!["scene".into()],
            thumbnails: 2,
        },
    )
    .unwrap();
    assert_close(r.overall.all.pq, 2.0 / 3.0, "PQ");
    assert_close(r.overall.miou, 0.5, "mIoU");
    let scene = &r.slices[0];
    assert_eq!(scene.groups[0].name, "a");
    assert_close(scene.groups[0].scores.all.pq, 1.0, "PQ a");
    assert_close(scene.groups[1].scores.all.pq, 0.0, "PQ b");
    let names: Vec<&str> = r.annotators.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["ana", "bo"]);
    assert_close(r.annotators[1].scores.miou, 0.0, "mIoU bo");
    assert_eq!(r.per_image[0].file_name, "two.png", "worst first");
    assert_eq!(r.thumbnails.len(), 2);
    assert!(!r.thumbnails[0].over_image);
}
