//! Ontology changes across a project: retire keeps tombstones, merge remaps segments.

use limner::core::document::{Geometry, Segment, Source};
use limner::core::geometry::PolygonWithHoles;
use limner::core::ontology::{Color, Ontology};
use limner::core::project::Project;

fn seg(id: u32, cat: u32) -> Segment {
    Segment {
        id,
        category_id: cat,
        geometry: Geometry::Polygons {
            polygons: vec![PolygonWithHoles {
                outer: vec![[0.0, 0.0], [2.0, 0.0], [2.0, 2.0]],
                holes: vec![],
            }],
        },
        z: 0,
        iscrowd: false,
        source: Source::Polygon,
        review: Default::default(),
        comments: vec![],
    }
}

#[test]
fn merge_remaps_segments_and_retire_refuses_used_classes() {
    let dir = tempfile::tempdir().unwrap();
    image::RgbImage::new(4, 4)
        .save(dir.path().join("a.png"))
        .unwrap();
    image::RgbImage::new(4, 4)
        .save(dir.path().join("b.png"))
        .unwrap();
    let mut p = Project::open(dir.path()).unwrap();
    let car = p.ontology.add("car", Color([1, 1, 1]), true).unwrap();
    let auto = p
        .ontology
        .add("automobile", Color([2, 2, 2]), true)
        .unwrap();
    let tree = p.ontology.add("tree", Color([3, 3, 3]), false).unwrap();
    p.save_ontology().unwrap();
    let mut a = p.load_document("a.png").unwrap();
    a.segments = vec![seg(1, car), seg(2, auto)];
    p.save_document(&a).unwrap();
    let mut b = p.load_document("b.png").unwrap();
    b.segments = vec![seg(1, auto), seg(2, tree)];
    p.save_document(&b).unwrap();

    let e = p.retire_category(auto).unwrap_err().to_string();
    assert!(e.contains("used by 2 segment(s)"), "{e}");
    assert_eq!(p.merge_category(auto, car).unwrap(), 2);
    let usage = p.category_usage().unwrap();
    assert_eq!(usage.get(&car), Some(&3));
    assert_eq!(usage.get(&auto), None);

    // Reopen: the tombstone is kept and its id is never reused.
    let mut p = Project::open(dir.path()).unwrap();
    let c = p.ontology.get(auto).unwrap();
    assert!(c.retired && c.merged_into == Some(car));
    let new = p.ontology.add("bus", Color([4, 4, 4]), true).unwrap();
    assert_eq!(new, tree + 1);
    assert!(p.validate().is_empty(), "{:?}", p.validate());

    // A segment pointing to a retired class is reported.
    let mut a = p.load_document("a.png").unwrap();
    a.segments[0].category_id = auto;
    assert!(p.save_document(&a).is_err());
    // Retiring an unused class works and leaves a tombstone on disk.
    p.retire_category(new).unwrap();
    let reread = Ontology::load(&dir.path().join("ontology.json")).unwrap();
    assert!(reread.get(new).unwrap().retired);
}
