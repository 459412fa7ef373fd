//! Polygon topology checks and repair, per segment: self-intersecting rings, rings with
//! fewer than 3 distinct points, zero-area rings, duplicate consecutive vertices,
//! vertices outside the image, holes outside (or crossing) their outer ring. Detection
//! uses our own ring checks plus `geo`'s OGC rules ([`polygon_problems`]: the rules of
//! `geo::Validation`, with ring self-intersection found by `geo`'s sweep line instead of
//! its all-pairs loop, so a ring of a million vertices takes seconds, not hours).
//!
//! Repair keeps every pixel: a segment with only duplicate vertices loses them (`geo`'s
//! `RemoveRepeatedPoints`; a zero-length edge fills nothing); any other problem replaces
//! the polygons by the exact pixel-edge polygons of the pixels they fill under Limner's
//! rule ([`crate::core::vectorize`]), which are valid and fill the same pixels. A segment
//! that fills no pixel is removed. Each change is listed, with its pixel count checked.

use geo::algorithm::validation::{InvalidPolygon, RingRole};
use geo::coordinate_position::CoordPos;
use geo::dimensions::Dimensions;
use geo::{PreparedGeometry, Relate, RemoveRepeatedPoints};

use crate::core::document::{Geometry, ImageDocument};
use crate::core::geometry::{Point, PolygonWithHoles, rasterize_polygons};
use crate::core::vectorize::{Vectorize, mask_to_polygons};

/// One topology problem of one segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Segment id.
    pub segment: u32,
    /// Field path, e.g. `segments[2].geometry.polygons[0]`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

fn to_geo(p: &PolygonWithHoles) -> geo::Polygon<f64> {
    let ring = |r: &[Point]| -> geo::LineString<f64> { r.iter().map(|v| (v[0], v[1])).collect() };
    geo::Polygon::new(ring(&p.outer), p.holes.iter().map(|h| ring(h)).collect())
}

fn from_geo(p: &geo::Polygon<f64>) -> PolygonWithHoles {
    let ring = |r: &geo::LineString<f64>| -> Vec<Point> {
        let mut v: Vec<Point> = r.0.iter().map(|c| [c.x, c.y]).collect();
        if v.len() > 1 && v.first() == v.last() {
            v.pop();
        }
        v
    };
    PolygonWithHoles {
        outer: ring(p.exterior()),
        holes: p.interiors().iter().map(ring).collect(),
    }
}

/// True when two edges of the ring meet other than at the vertex they share: the rule of
/// `geo::Validation` (edges a, b intersect and neither a's start is b's end nor a's end
/// b's start), over the candidate pairs of `geo`'s sweep line.
fn ring_self_intersects(ring: &geo::LineString<f64>) -> bool {
    geo::Intersections::from_iter(ring.lines())
        .any(|(a, b, _)| a.start != b.end && a.end != b.start)
}

/// `geo::Validation`'s polygon rules except ring sizes and finite coordinates (checked
/// by our own ring checks): simple rings, holes inside the outer ring, rings touching at
/// points only, holes not overlapping.
pub fn polygon_problems(p: &geo::Polygon<f64>) -> Vec<InvalidPolygon> {
    let mut out = Vec::new();
    let rings = std::iter::once(p.exterior()).chain(p.interiors());
    for (k, ring) in rings.enumerate() {
        let role = if k == 0 {
            RingRole::Exterior
        } else {
            RingRole::Interior(k - 1)
        };
        if !ring.0.is_empty() && ring_self_intersects(ring) {
            out.push(InvalidPolygon::SelfIntersection(role));
        }
    }
    let holes: Vec<(usize, geo::Polygon<f64>)> = p
        .interiors()
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.0.is_empty())
        .map(|(i, r)| (i, geo::Polygon::new(r.clone(), vec![])))
        .collect();
    if holes.is_empty() {
        return out;
    }
    let outer = geo::Polygon::new(p.exterior().clone(), vec![]);
    let outer = PreparedGeometry::from(&outer);
    for (n, (i, hole)) in holes.iter().enumerate() {
        let prepared = PreparedGeometry::from(hole);
        let m = outer.relate(&prepared);
        if !m.is_contains() {
            out.push(InvalidPolygon::InteriorRingNotContainedInExteriorRing(
                RingRole::Interior(*i),
            ));
        }
        if m.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional {
            out.push(InvalidPolygon::IntersectingRingsOnALine(
                RingRole::Exterior,
                RingRole::Interior(*i),
            ));
        }
        for (j, other) in &holes[n + 1..] {
            let m = prepared.relate(other);
            if m.get(CoordPos::Inside, CoordPos::Inside) == Dimensions::TwoDimensional {
                out.push(InvalidPolygon::IntersectingRingsOnAnArea(
                    RingRole::Interior(*i),
                    RingRole::Interior(*j),
                ));
            }
            if m.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional {
                out.push(InvalidPolygon::IntersectingRingsOnALine(
                    RingRole::Interior(*i),
                    RingRole::Interior(*j),
                ));
            }
        }
    }
    out
}

/// Problems of one ring (`k` = 0 outer, then holes).
fn ring_findings(ring: &[Point], k: usize, w: u32, h: u32, out: &mut Vec<String>) {
    let name = if k == 0 {
        "outer ring".to_string()
    } else {
        format!("hole {k}")
    };
    let n = ring.len();
    let dups = (0..n)
        .filter(|&i| n > 1 && ring[i] == ring[(i + 1) % n])
        .count();
    if dups > 0 {
        out.push(format!(
            "{name} has {dups} duplicate consecutive vertex(es)"
        ));
    }
    let mut distinct: Vec<Point> = ring.to_vec();
    distinct.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    distinct.dedup();
    if distinct.len() < 3 {
        out.push(format!(
            "{name} has {} distinct point(s), fewer than 3",
            distinct.len()
        ));
        return;
    }
    let area2: f64 = (0..n)
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            a[0] * b[1] - b[0] * a[1]
        })
        .sum();
    if area2 == 0.0 {
        out.push(format!("{name} has zero area"));
    }
    let outside = ring
        .iter()
        .filter(|v| v[0] < 0.0 || v[1] < 0.0 || v[0] > f64::from(w) || v[1] > f64::from(h))
        .count();
    if outside > 0 {
        out.push(format!(
            "{name} has {outside} vertex(es) outside the {w}x{h} image"
        ));
    }
}

/// Every topology problem of the polygon segments of `doc`.
pub fn check_document(doc: &ImageDocument) -> Vec<Finding> {
    let (w, h) = (doc.image.width, doc.image.height);
    let mut out = Vec::new();
    for (i, s) in doc.segments.iter().enumerate() {
        let Geometry::Polygons { polygons } = &s.geometry else {
            continue;
        };
        for (j, p) in polygons.iter().enumerate() {
            let mut msgs = Vec::new();
            for (k, r) in p.rings().enumerate() {
                ring_findings(r, k, w, h, &mut msgs);
            }
            if p.rings()
                .all(|r| r.iter().all(|v| v[0].is_finite() && v[1].is_finite()))
            {
                // Ring sizes and finiteness are reported above / by `validate`.
                msgs.extend(polygon_problems(&to_geo(p)).iter().map(|e| e.to_string()));
            }
            out.extend(msgs.into_iter().map(|message| Finding {
                segment: s.id,
                field: format!("segments[{i}].geometry.polygons[{j}]"),
                message,
            }));
        }
    }
    out
}

/// Repairs every polygon segment with findings (see the module docs); returns one line
/// per change. Pixels are unchanged by construction and checked.
pub fn repair_document(doc: &mut ImageDocument) -> Vec<String> {
    let findings = check_document(doc);
    let (w, h) = (doc.image.width, doc.image.height);
    let mut changes = Vec::new();
    let mut remove = Vec::new();
    for s in doc.segments.iter_mut() {
        let mine: Vec<&Finding> = findings.iter().filter(|f| f.segment == s.id).collect();
        let Geometry::Polygons { polygons } = &mut s.geometry else {
            continue;
        };
        if mine.is_empty() {
            continue;
        }
        let before = rasterize_polygons(polygons, w, h);
        let only_dups = mine.iter().all(|f| f.message.contains("duplicate"));
        let (new, how): (Vec<PolygonWithHoles>, &str) = if only_dups {
            (
                polygons
                    .iter()
                    .map(|p| from_geo(&to_geo(p).remove_repeated_points()))
                    .collect(),
                "removed duplicate vertices",
            )
        } else {
            (
                mask_to_polygons(&before, Vectorize::Exact),
                "replaced by the exact polygons of its pixels",
            )
        };
        let after = rasterize_polygons(&new, w, h);
        if after != before {
            changes.push(format!(
                "segment {}: repair would change pixels; left as is",
                s.id
            ));
            continue;
        }
        if before.area() == 0 {
            remove.push(s.id);
            changes.push(format!(
                "segment {}: removed (fills no pixel): {}",
                s.id, mine[0].message
            ));
            continue;
        }
        let problems: Vec<&str> = mine.iter().map(|f| f.message.as_str()).collect();
        changes.push(format!(
            "segment {}: {how} ({}); {} pixel(s) unchanged",
            s.id,
            problems.join("; "),
            before.area()
        ));
        *polygons = new;
    }
    doc.segments.retain(|s| !remove.contains(&s.id));
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Validation;

    fn geo_rules(p: &geo::Polygon<f64>) -> Vec<InvalidPolygon> {
        p.validation_errors()
            .into_iter()
            .filter(|e| {
                !matches!(
                    e,
                    InvalidPolygon::TooFewPointsInRing(_) | InvalidPolygon::NonFiniteCoord(..)
                )
            })
            .collect()
    }

    fn ring(v: &[(f64, f64)]) -> geo::LineString<f64> {
        v.iter().copied().collect()
    }

    #[test]
    fn the_sweep_line_rules_equal_geo_validation() {
        let square = ring(&[(0., 0.), (10., 0.), (10., 10.), (0., 10.)]);
        let mut cases = vec![
            geo::Polygon::new(square.clone(), vec![]),
            // bow tie
            geo::Polygon::new(ring(&[(0., 0.), (10., 10.), (10., 0.), (0., 10.)]), vec![]),
            // a spike back along an edge
            geo::Polygon::new(ring(&[(0., 0.), (10., 0.), (5., 0.), (5., 5.)]), vec![]),
            // a hole inside, one outside, one on the edge, two overlapping
            geo::Polygon::new(
                square.clone(),
                vec![ring(&[(2., 2.), (4., 2.), (4., 4.), (2., 4.)])],
            ),
            geo::Polygon::new(
                square.clone(),
                vec![ring(&[(20., 2.), (24., 2.), (24., 4.)])],
            ),
            geo::Polygon::new(
                square.clone(),
                vec![ring(&[(0., 2.), (4., 2.), (4., 4.), (0., 4.)])],
            ),
            geo::Polygon::new(
                square,
                vec![
                    ring(&[(2., 2.), (6., 2.), (6., 6.), (2., 6.)]),
                    ring(&[(4., 4.), (8., 4.), (8., 8.), (4., 8.)]),
                ],
            ),
        ];
        // Random rings: most of them cross themselves.
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) % 16) as f64
        };
        for n in 3..40 {
            let v: Vec<(f64, f64)> = (0..n % 9 + 3).map(|_| (next(), next())).collect();
            cases.push(geo::Polygon::new(ring(&v), vec![]));
        }
        let mut crossing = 0;
        for p in &cases {
            let (mine, theirs) = (polygon_problems(p), geo_rules(p));
            assert_eq!(mine, theirs, "{p:?}");
            crossing += usize::from(!mine.is_empty());
        }
        assert!(crossing > 10, "the cases exercise the rules: {crossing}");
    }
}
