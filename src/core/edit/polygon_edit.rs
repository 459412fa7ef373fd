//! Vertex-level edits of polygon segments (move, insert, delete, add a hole) and the
//! snapping index, as pure functions the canvas turns into [`Edit`]s.

use rstar::RTree;
use rstar::primitives::Line;

use super::history::Edit;
use crate::core::document::{Geometry, ImageDocument, Segment};
use crate::core::geometry::{Point, PolygonWithHoles};

/// Where a vertex sits: polygon, ring (0 = outer, k = hole k-1), vertex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VertexRef {
    pub polygon: usize,
    pub ring: usize,
    pub vertex: usize,
}

fn rings_mut(p: &mut PolygonWithHoles, ring: usize) -> Option<&mut Vec<Point>> {
    if ring == 0 {
        Some(&mut p.outer)
    } else {
        p.holes.get_mut(ring - 1)
    }
}

fn polygons(seg: &Segment) -> Option<&Vec<PolygonWithHoles>> {
    match &seg.geometry {
        Geometry::Polygons { polygons } => Some(polygons),
        Geometry::Rle { .. } => None,
    }
}

fn dist2(a: Point, b: Point) -> f64 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)
}

/// The vertex of `seg` nearest to `p` within `max_dist` (image pixels).
pub fn nearest_vertex(seg: &Segment, p: Point, max_dist: f64) -> Option<VertexRef> {
    let mut best: Option<(f64, VertexRef)> = None;
    for (pi, poly) in polygons(seg)?.iter().enumerate() {
        for (ri, ring) in poly.rings().enumerate() {
            for (vi, v) in ring.iter().enumerate() {
                let d = dist2(*v, p);
                if d <= max_dist * max_dist && best.is_none_or(|b| d < b.0) {
                    best = Some((
                        d,
                        VertexRef {
                            polygon: pi,
                            ring: ri,
                            vertex: vi,
                        },
                    ));
                }
            }
        }
    }
    best.map(|b| b.1)
}

/// The edge of `seg` nearest to `p` within `max_dist`: the ref of its first vertex and
/// the closest point on it.
pub fn nearest_edge(seg: &Segment, p: Point, max_dist: f64) -> Option<(VertexRef, Point)> {
    let mut best: Option<(f64, VertexRef, Point)> = None;
    for (pi, poly) in polygons(seg)?.iter().enumerate() {
        for (ri, ring) in poly.rings().enumerate() {
            let n = ring.len();
            for vi in 0..n {
                let q = closest_on_segment(ring[vi], ring[(vi + 1) % n], p);
                let d = dist2(q, p);
                if d <= max_dist * max_dist && best.is_none_or(|b| d < b.0) {
                    best = Some((
                        d,
                        VertexRef {
                            polygon: pi,
                            ring: ri,
                            vertex: vi,
                        },
                        q,
                    ));
                }
            }
        }
    }
    best.map(|b| (b.1, b.2))
}

fn closest_on_segment(a: Point, b: Point, p: Point) -> Point {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    [a[0] + t * dx, a[1] + t * dy]
}

fn edit_polygons(
    doc: &ImageDocument,
    id: u32,
    f: impl FnOnce(&mut Vec<PolygonWithHoles>) -> bool,
) -> Option<Edit> {
    let seg = doc.segment(id)?;
    let mut after = seg.clone();
    let Geometry::Polygons { polygons } = &mut after.geometry else {
        return None;
    };
    if !f(polygons) {
        return None;
    }
    Edit::replace(doc, after)
}

/// Moves a vertex to `to`.
pub fn move_vertex(doc: &ImageDocument, id: u32, v: VertexRef, to: Point) -> Option<Edit> {
    edit_polygons(doc, id, |polys| {
        let Some(ring) = polys.get_mut(v.polygon).and_then(|p| rings_mut(p, v.ring)) else {
            return false;
        };
        match ring.get_mut(v.vertex) {
            Some(p) => {
                *p = to;
                true
            }
            None => false,
        }
    })
}

/// Inserts a vertex at `at` after vertex `after` (on the edge that starts there).
pub fn insert_vertex(doc: &ImageDocument, id: u32, after: VertexRef, at: Point) -> Option<Edit> {
    edit_polygons(doc, id, |polys| {
        let Some(ring) = polys
            .get_mut(after.polygon)
            .and_then(|p| rings_mut(p, after.ring))
        else {
            return false;
        };
        if after.vertex >= ring.len() {
            return false;
        }
        ring.insert(after.vertex + 1, at);
        true
    })
}

/// Deletes a vertex, keeping at least 3 per ring.
pub fn delete_vertex(doc: &ImageDocument, id: u32, v: VertexRef) -> Option<Edit> {
    edit_polygons(doc, id, |polys| {
        let Some(ring) = polys.get_mut(v.polygon).and_then(|p| rings_mut(p, v.ring)) else {
            return false;
        };
        if ring.len() <= 3 || v.vertex >= ring.len() {
            return false;
        }
        ring.remove(v.vertex);
        true
    })
}

fn inside_ring(ring: &[Point], p: Point) -> bool {
    let mut inside = false;
    let n = ring.len();
    for i in 0..n {
        let (a, b) = (ring[i], ring[(i + 1) % n]);
        if (a[1] <= p[1]) != (b[1] <= p[1])
            && p[0] < a[0] + (p[1] - a[1]) * (b[0] - a[0]) / (b[1] - a[1])
        {
            inside = !inside;
        }
    }
    inside
}

/// Adds `hole` to the polygon of segment `id` whose outer ring contains the hole's
/// first vertex. `None` when no polygon contains it.
pub fn add_hole(doc: &ImageDocument, id: u32, hole: Vec<Point>) -> Option<Edit> {
    let first = *hole.first()?;
    edit_polygons(doc, id, |polys| {
        match polys.iter_mut().find(|p| inside_ring(&p.outer, first)) {
            Some(p) => {
                p.holes.push(hole);
                true
            }
            None => false,
        }
    })
}

/// Vertices and edges of every polygon segment, for snapping new vertices so that
/// neighbours can share a border.
pub struct SnapIndex {
    vertices: RTree<[f64; 2]>,
    edges: RTree<Line<[f64; 2]>>,
}

impl SnapIndex {
    /// Indexes every polygon segment of `doc`.
    pub fn build(doc: &ImageDocument) -> SnapIndex {
        let mut vertices = Vec::new();
        let mut edges = Vec::new();
        for seg in &doc.segments {
            for poly in polygons(seg).into_iter().flatten() {
                for ring in poly.rings() {
                    let n = ring.len();
                    for i in 0..n {
                        vertices.push(ring[i]);
                        if n >= 2 {
                            edges.push(Line::new(ring[i], ring[(i + 1) % n]));
                        }
                    }
                }
            }
        }
        SnapIndex {
            vertices: RTree::bulk_load(vertices),
            edges: RTree::bulk_load(edges),
        }
    }

    /// `p` snapped to the nearest vertex within `max_dist`, else to the nearest edge
    /// within `max_dist`, else `p`.
    pub fn snap(&self, p: Point, max_dist: f64) -> Point {
        let r2 = max_dist * max_dist;
        if let Some(v) = self.vertices.nearest_neighbor(&p)
            && dist2(*v, p) <= r2
        {
            return *v;
        }
        if let Some(e) = self.edges.nearest_neighbor(&p) {
            let q = e.nearest_point(&p);
            if dist2(q, p) <= r2 {
                return q;
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::document::Source;

    fn doc() -> ImageDocument {
        let mut d = ImageDocument::new("a.png", 100, 100);
        let g = Geometry::Polygons {
            polygons: vec![PolygonWithHoles {
                outer: vec![[10.0, 10.0], [50.0, 10.0], [50.0, 50.0], [10.0, 50.0]],
                holes: vec![],
            }],
        };
        d.segments.push(Segment::new(1, 1, g, Source::Polygon));
        d
    }

    #[test]
    fn move_insert_delete_vertices() {
        let mut d = doc();
        let v = nearest_vertex(&d.segments[0], [49.0, 49.0], 3.0).unwrap();
        assert_eq!(
            v,
            VertexRef {
                polygon: 0,
                ring: 0,
                vertex: 2
            }
        );
        assert!(move_vertex(&d, 1, v, [60.0, 60.0]).unwrap().apply(&mut d));
        let (e, q) = nearest_edge(&d.segments[0], [30.0, 11.0], 3.0).unwrap();
        assert_eq!((e.vertex, q), (0, [30.0, 10.0]));
        assert!(insert_vertex(&d, 1, e, q).unwrap().apply(&mut d));
        let ring = &polygons(&d.segments[0]).unwrap()[0].outer;
        assert_eq!(ring.len(), 5);
        assert_eq!(ring[1], [30.0, 10.0]);
        assert!(
            delete_vertex(
                &d,
                1,
                VertexRef {
                    polygon: 0,
                    ring: 0,
                    vertex: 1
                }
            )
            .unwrap()
            .apply(&mut d)
        );
        let mut three = doc();
        assert!(delete_vertex(&three, 1, v).unwrap().apply(&mut three));
        assert!(
            delete_vertex(&three, 1, v).is_none(),
            "a ring keeps 3 vertices"
        );
    }

    #[test]
    fn hole_goes_into_the_containing_polygon() {
        let mut d = doc();
        let hole = vec![[20.0, 20.0], [30.0, 20.0], [30.0, 30.0], [20.0, 30.0]];
        assert!(add_hole(&d, 1, hole.clone()).unwrap().apply(&mut d));
        assert_eq!(d.resolve().stats()[&1].area, 1600 - 100);
        let outside = vec![[80.0, 80.0], [90.0, 80.0], [90.0, 90.0]];
        assert!(add_hole(&d, 1, outside).is_none());
    }

    #[test]
    fn snapping_prefers_vertices_then_edges() {
        let idx = SnapIndex::build(&doc());
        assert_eq!(idx.snap([51.0, 48.5], 3.0), [50.0, 50.0]);
        assert_eq!(idx.snap([30.0, 12.0], 3.0), [30.0, 10.0]);
        assert_eq!(idx.snap([30.0, 30.0], 3.0), [30.0, 30.0]);
    }
}
