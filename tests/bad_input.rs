//! Bad input: every case gives a clear error naming the file (and field), never a panic,
//! and never destroys data.

use std::path::Path;

use limner::core::document::ImageDocument;
use limner::core::formats::coco_panoptic;
use limner::core::io;
use limner::core::project::Project;

fn png(path: &Path, w: u32, h: u32) {
    image::RgbImage::new(w, h).save(path).unwrap();
}

/// A PNG whose header claims `w` x `h` pixels but carries almost no data.
fn bomb_png(path: &Path, w: u32, h: u32) {
    let mut out = Vec::new();
    out.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    let mut chunk = |kind: &[u8], data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc_data = kind.to_vec();
        crc_data.extend_from_slice(data);
        out.extend_from_slice(&crc_data);
        out.extend_from_slice(&crc32(&crc_data).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(b"IEND", &[]);
    std::fs::write(path, out).unwrap();
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn decompression_bomb_is_refused_before_decoding() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bomb.png");
    bomb_png(&p, 100_000, 100_000);
    let e = io::image_dimensions(&p).unwrap_err().to_string();
    assert!(
        e.contains("bomb.png") && e.contains("exceeds the limit"),
        "{e}"
    );
    let e = io::read_rgb_image(&p).unwrap_err().to_string();
    assert!(e.contains("exceeds the limit"), "{e}");
    // A project refuses to open a document for it, with the file named.
    let proj = Project::open(dir.path()).unwrap();
    let e = proj.load_document("bomb.png").unwrap_err().to_string();
    assert!(e.contains("bomb.png"), "{e}");
}

#[test]
fn truncated_image_gives_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.png");
    png(&p, 64, 64);
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let e = io::read_rgb_image(&p).unwrap_err().to_string();
    assert!(e.contains("t.png"), "{e}");
    std::fs::write(&p, b"not an image at all").unwrap();
    let e = io::read_rgb_image(&p).unwrap_err().to_string();
    assert!(e.contains("t.png"), "{e}");
}

#[test]
fn malformed_annotation_json_names_file_and_field_and_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    png(&dir.path().join("a.png"), 4, 4);
    let proj = Project::open(dir.path()).unwrap();
    let ann = proj.annotation_path("a.png");
    std::fs::create_dir_all(ann.parent().unwrap()).unwrap();
    let broken =
        br#"{"schema":"limner-annotation/1","image":{"file_name":"a.png","width":4,"height":4},
        "segments":[{"id":1,"category_id":"seven","geometry":{"type":"rle","counts":"0"}}]}"#;
    std::fs::write(&ann, broken).unwrap();
    let e = proj.load_document("a.png").unwrap_err().to_string();
    assert!(
        e.contains("a.png.json") && e.contains("segments[0].category_id"),
        "{e}"
    );
    std::fs::write(&ann, b"{ truncated").unwrap();
    let e = proj.load_document("a.png").unwrap_err().to_string();
    assert!(e.contains("a.png.json"), "{e}");
    assert_eq!(
        std::fs::read(&ann).unwrap(),
        b"{ truncated",
        "a bad file is never overwritten by a load"
    );
    assert!(!proj.validate().is_empty());
}

#[test]
fn invalid_document_is_not_saved_over_a_good_one() {
    let dir = tempfile::tempdir().unwrap();
    png(&dir.path().join("a.png"), 4, 4);
    let proj = Project::open(dir.path()).unwrap();
    let good = ImageDocument::new("a.png", 4, 4);
    proj.save_document(&good).unwrap();
    let before = std::fs::read(proj.annotation_path("a.png")).unwrap();
    let mut bad = good.clone();
    bad.segments.push(limner::core::document::Segment {
        id: 1,
        category_id: 42,
        geometry: limner::core::document::Geometry::Polygons { polygons: vec![] },
        z: 0,
        iscrowd: false,
        source: Default::default(),
        review: Default::default(),
        comments: vec![],
    });
    let e = proj.save_document(&bad).unwrap_err().to_string();
    assert!(
        e.contains("segments[0].category_id") && e.contains("unknown category id 42"),
        "{e}"
    );
    assert_eq!(
        std::fs::read(proj.annotation_path("a.png")).unwrap(),
        before
    );
}

/// Writes a minimal panoptic dataset; `edit` changes the JSON before it is written.
fn panoptic_fixture(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) -> std::path::PathBuf {
    let mut map = limner::core::labelmap::LabelMap::new(4, 2);
    map.ids = vec![0, 5, 5, 0, 0, 5, 9, 9];
    std::fs::create_dir_all(dir.join("p")).unwrap();
    std::fs::write(dir.join("p/x.png"), map.to_panoptic_png().unwrap()).unwrap();
    let mut v = serde_json::json!({
        "images": [{"id": 1, "file_name": "x.jpg", "width": 4, "height": 2}],
        "annotations": [{"image_id": 1, "file_name": "x.png", "segments_info": [
            {"id": 5, "category_id": 1, "area": 3, "bbox": [1, 0, 2, 2], "iscrowd": 0},
            {"id": 9, "category_id": 2, "area": 2, "bbox": [2, 1, 2, 1], "iscrowd": 1}]}],
        "categories": [
            {"id": 1, "name": "a", "isthing": 1, "color": [1, 2, 3]},
            {"id": 2, "name": "b", "isthing": 0, "color": [4, 5, 6]}]
    });
    edit(&mut v);
    let json = dir.join("p.json");
    std::fs::write(&json, serde_json::to_vec(&v).unwrap()).unwrap();
    json
}

fn check_msgs(json: &Path) -> Vec<String> {
    coco_panoptic::check(json, None)
        .1
        .iter()
        .map(|e| e.to_string())
        .collect()
}

#[test]
fn panoptic_fixture_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let json = panoptic_fixture(dir.path(), |_| {});
    assert!(check_msgs(&json).is_empty(), "{:?}", check_msgs(&json));
    let d = coco_panoptic::read(&json, None).unwrap();
    assert!(d.documents[0].segments[1].iscrowd);
}

#[test]
fn panoptic_unknown_category_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let json = panoptic_fixture(dir.path(), |v| {
        v["annotations"][0]["segments_info"][1]["category_id"] = 77.into()
    });
    let m = check_msgs(&json);
    assert!(
        m.iter()
            .any(|e| e.contains("annotations[0].segments_info[1].category_id") && e.contains("77")),
        "{m:?}"
    );
    assert!(coco_panoptic::read(&json, None).is_err());
}

#[test]
fn panoptic_duplicate_segment_ids_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let json = panoptic_fixture(dir.path(), |v| {
        v["annotations"][0]["segments_info"][1]["id"] = 5.into()
    });
    let m = check_msgs(&json);
    assert!(
        m.iter()
            .any(|e| e.contains("segments_info[1].id") && e.contains("duplicate")),
        "{m:?}"
    );
    // Id 9 is then in the PNG but not listed.
    assert!(
        m.iter().any(|e| e.contains("x.png") && e.contains("id 9")),
        "{m:?}"
    );
}

#[test]
fn panoptic_wrong_area_and_missing_id_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let json = panoptic_fixture(dir.path(), |v| {
        v["annotations"][0]["segments_info"][0]["area"] = 4.into();
        v["annotations"][0]["segments_info"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"id": 11, "category_id": 1, "iscrowd": 0}));
    });
    let m = check_msgs(&json);
    assert!(
        m.iter().any(|e| e.contains("segments_info[0].area")),
        "{m:?}"
    );
    assert!(
        m.iter()
            .any(|e| e.contains("segments_info[2].id") && e.contains("does not appear")),
        "{m:?}"
    );
}

#[test]
fn panoptic_paths_cannot_escape_the_dataset() {
    for bad in ["../x.png", "/etc/x.png"] {
        let dir = tempfile::tempdir().unwrap();
        let json = panoptic_fixture(dir.path(), |v| {
            v["annotations"][0]["file_name"] = bad.into()
        });
        let m = check_msgs(&json);
        assert!(
            m.iter()
                .any(|e| e.contains("annotations[0].file_name") && e.contains("unsafe path")),
            "{m:?}"
        );
        let json = panoptic_fixture(dir.path(), |v| v["images"][0]["file_name"] = bad.into());
        let m = check_msgs(&json);
        assert!(m.iter().any(|e| e.contains("images[0].file_name")), "{m:?}");
    }
}

#[test]
fn panoptic_malformed_json_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let json = panoptic_fixture(dir.path(), |v| v["images"][0]["width"] = "wide".into());
    let m = check_msgs(&json);
    assert!(
        m.iter()
            .any(|e| e.contains("p.json") && e.contains("images[0].width")),
        "{m:?}"
    );
    std::fs::write(&json, b"{\"images\": [").unwrap();
    assert!(check_msgs(&json)[0].contains("p.json"));
}

#[cfg(unix)]
#[test]
fn non_utf8_file_names_are_skipped_with_a_warning() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    png(&dir.path().join("ok.png"), 2, 2);
    let bad = std::ffi::OsStr::from_bytes(b"bad\xff.png");
    png(&dir.path().join(bad), 2, 2);
    let p = Project::open(dir.path()).unwrap();
    let (names, warnings) = p.list_images().unwrap();
    assert_eq!(names, vec!["ok.png".to_string()]);
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].message.contains("UTF-8"));
}

#[test]
fn empty_images_folder_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"hi").unwrap();
    let e = Project::open(dir.path()).unwrap_err().to_string();
    assert!(e.contains("no images found"), "{e}");
}

#[test]
fn document_paths_cannot_escape_the_project() {
    let dir = tempfile::tempdir().unwrap();
    png(&dir.path().join("a.png"), 4, 4);
    let p = Project::open(dir.path()).unwrap();
    assert!(p.load_document("../../etc/passwd").is_err());
    let d = ImageDocument::new("/abs.png", 4, 4);
    let errs = d.validate(&p.ontology, Path::new("x.json"));
    assert!(
        errs.iter()
            .any(|e| e.to_string().contains("image.file_name"))
    );
}
