//! Polygon topology: each problem is detected per segment, `limner validate --repair`
//! fixes them keeping every pixel and lists each change.

use std::process::Command;

use limner::core::document::{Geometry, ImageDocument, Segment, Source};
use limner::core::formats::topology::{check_document, repair_document};
use limner::core::geometry::PolygonWithHoles;
use limner::core::ontology::{Color, Ontology};
use limner::core::project::Project;

fn seg(id: u32, outer: Vec<[f64; 2]>, holes: Vec<Vec<[f64; 2]>>) -> Segment {
    Segment::new(
        id,
        1,
        Geometry::Polygons {
            polygons: vec![PolygonWithHoles { outer, holes }],
        },
        Source::Polygon,
    )
}

fn broken() -> ImageDocument {
    let mut d = ImageDocument::new("a.png", 20, 20);
    d.segments = vec![
        // Bow tie: self-intersecting.
        seg(
            1,
            vec![[0.0, 0.0], [6.0, 6.0], [6.0, 0.0], [0.0, 6.0]],
            vec![],
        ),
        // Two distinct points.
        seg(2, vec![[1.0, 1.0], [3.0, 3.0], [1.0, 1.0]], vec![]),
        // Zero area (collinear).
        seg(3, vec![[0.0, 10.0], [5.0, 10.0], [9.0, 10.0]], vec![]),
        // Duplicate vertices only.
        seg(
            4,
            vec![
                [10.0, 0.0],
                [14.0, 0.0],
                [14.0, 0.0],
                [14.0, 4.0],
                [10.0, 4.0],
            ],
            vec![],
        ),
        // Vertex outside the image.
        seg(
            5,
            vec![[15.0, 15.0], [25.0, 15.0], [25.0, 19.0], [15.0, 19.0]],
            vec![],
        ),
        // Hole outside its outer ring.
        seg(
            6,
            vec![[10.0, 6.0], [14.0, 6.0], [14.0, 10.0], [10.0, 10.0]],
            vec![vec![[16.0, 6.0], [18.0, 6.0], [18.0, 8.0], [16.0, 8.0]]],
        ),
        // Valid.
        seg(
            7,
            vec![[0.0, 12.0], [4.0, 12.0], [4.0, 16.0], [0.0, 16.0]],
            vec![],
        ),
    ];
    d
}

#[test]
fn every_problem_is_found_per_segment() {
    let f = check_document(&broken());
    let has = |id: u32, what: &str| {
        f.iter()
            .any(|x| x.segment == id && x.message.contains(what))
    };
    assert!(has(1, "self-intersection"), "{f:#?}");
    assert!(has(2, "fewer than 3"), "{f:#?}");
    assert!(has(3, "zero area"), "{f:#?}");
    assert!(has(4, "duplicate"), "{f:#?}");
    assert!(has(5, "outside the 20x20 image"), "{f:#?}");
    assert!(has(6, "not contained"), "{f:#?}");
    assert!(!f.iter().any(|x| x.segment == 7), "{f:#?}");
}

#[test]
fn repair_keeps_pixels_and_lists_changes() {
    let mut d = broken();
    let before = d.resolve();
    let changes = repair_document(&mut d);
    assert_eq!(d.resolve(), before, "repair keeps every pixel");
    assert!(check_document(&d).is_empty(), "{:#?}", check_document(&d));
    for id in [1, 4, 5, 6] {
        assert!(
            changes
                .iter()
                .any(|c| c.starts_with(&format!("segment {id}:"))),
            "{changes:#?}"
        );
    }
    // Segments 2 and 3 fill no pixel: removed, and said so.
    assert!(d.segment(2).is_none() && d.segment(3).is_none());
    assert_eq!(
        changes
            .iter()
            .filter(|c| c.contains("removed (fills no pixel)"))
            .count(),
        2
    );
}

#[test]
fn cli_validate_repair() {
    let tmp = tempfile::tempdir().unwrap();
    let mut o = Ontology::default();
    o.add("a", Color([1, 2, 3]), true).unwrap();
    image::RgbImage::new(20, 20)
        .save(tmp.path().join("a.png"))
        .unwrap();
    let p = Project::create(tmp.path(), "t", ".", o).unwrap();
    p.save_document(&broken()).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_limner"))
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let dir = tmp.path().to_str().unwrap();
    let (code, text) = run(&["validate", dir]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("segments[0].geometry.polygons[0]") && text.contains("self-intersection"),
        "{text}"
    );
    let (code, text) = run(&["validate", "--repair", dir]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("repaired a.png: segment 1:"), "{text}");
    let (code, text) = run(&["validate", dir]);
    assert_eq!(code, Some(0), "{text}");
}
