//! CVAT for images 1.1 XML: `<image>` elements with `<polygon>` and `<mask>` shapes.
//!
//! A mask is CVAT's RLE: `rle="n0, n1, ..."` alternating runs (starting with unset
//! pixels) over the box `left, top, width, height`, row by row. Export writes every
//! visible segment as a mask (exact; CVAT documents no polygon fill rule to match), with
//! attributes `iscrowd` and `limner_segment_id`; labels are class names, and
//! `<output>.classmap.json` maps them back to ontology ids. Import reads polygons (filled
//! with Limner's rule) and masks; shapes without `limner_segment_id` get ids in document
//! order (later shapes win where shapes overlap).
//!
//! Parsing uses `quick-xml` with no DTD support: a `<!DOCTYPE>` (the carrier of entity
//! expansion attacks such as the billion-laughs bomb) is refused, and only the five
//! predefined XML entities and character references are accepted.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use quick_xml::escape::escape;
use quick_xml::events::{BytesStart, Event};

use super::classmap::{self, ClassMap};
use crate::core::document::{Geometry, ImageDocument, ImageStatus, Segment, Source};
use crate::core::error::{Error, Result};
use crate::core::geometry::{BitMask, PolygonWithHoles};
use crate::core::io;
use crate::core::ontology::Ontology;

/// Writes documents as a CVAT for images 1.1 XML file at `xml`, plus its class-id map.
/// Returns the number of shapes written.
pub fn export_documents(docs: &[ImageDocument], ontology: &Ontology, xml: &Path) -> Result<usize> {
    classmap::validate_all(docs, ontology, xml)?;
    let name_of: HashMap<u32, &str> = ontology
        .categories
        .iter()
        .map(|c| (c.id, c.name.as_str()))
        .collect();
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<annotations>\n  <version>1.1</version>\n  <meta><task><labels>\n",
    );
    for c in ontology.active_categories() {
        let _ = writeln!(
            out,
            "    <label><name>{}</name><color>{}</color><type>mask</type></label>",
            escape(c.name.as_str()),
            c.color
        );
    }
    out.push_str("  </labels></task></meta>\n");
    let mut shapes = 0;
    for (i, d) in docs.iter().enumerate() {
        let map = d.resolve();
        let _ = writeln!(
            out,
            "  <image id=\"{i}\" name=\"{}\" width=\"{}\" height=\"{}\">",
            escape(d.image.file_name.as_str()),
            map.width,
            map.height
        );
        for (&id, st) in &map.stats() {
            let Some(s) = d.segment(id) else { continue };
            let [left, top, w, h] = st.bbox;
            // Row-major runs over the box, starting with unset pixels.
            let mut runs: Vec<u32> = Vec::new();
            let (mut cur, mut n) = (false, 0u32);
            for y in top..top + h {
                for x in left..left + w {
                    let v = map.at(x, y) == id;
                    if v != cur {
                        runs.push(n);
                        (cur, n) = (v, 0);
                    }
                    n += 1;
                }
            }
            runs.push(n);
            let rle: Vec<String> = runs.iter().map(u32::to_string).collect();
            let _ = writeln!(
                out,
                "    <mask label=\"{}\" source=\"manual\" occluded=\"0\" z_order=\"{}\" rle=\"{}\" left=\"{left}\" top=\"{top}\" width=\"{w}\" height=\"{h}\">\n      <attribute name=\"iscrowd\">{}</attribute>\n      <attribute name=\"limner_segment_id\">{id}</attribute>\n    </mask>",
                escape(name_of.get(&s.category_id).copied().unwrap_or_default()),
                s.z,
                rle.join(", "),
                s.iscrowd
            );
            shapes += 1;
        }
        out.push_str("  </image>\n");
    }
    out.push_str("</annotations>\n");
    let mut cm = ClassMap::identity("cvat", ontology, serde_json::json!("no shape"));
    // CVAT names classes; the map keeps name -> ontology id (format_id = ontology id).
    cm.classes
        .iter_mut()
        .for_each(|c| c.format_id = c.ontology_id);
    cm.save(&classmap::path_for(xml, false))?;
    io::write_atomic(xml, out.as_bytes())?;
    Ok(shapes)
}

/// A shape being read.
struct Shape {
    label: String,
    geometry: Result<Geometry, String>,
    z: i32,
    attrs: HashMap<String, String>,
}

/// Attributes of an element, unescaped (custom entities are an error).
fn attrs(e: &BytesStart, xml: &Path, at: &str) -> Result<HashMap<String, String>> {
    let mut m = HashMap::new();
    for a in e.attributes() {
        let a = a.map_err(|err| Error::invalid(xml, at, err.to_string()))?;
        let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
        let v = a
            .normalized_value(quick_xml::XmlVersion::default())
            .map_err(|err| Error::invalid(xml, format!("{at}@{key}"), err.to_string()))?;
        m.insert(key, v.into_owned());
    }
    Ok(m)
}

fn num<T: std::str::FromStr>(
    m: &HashMap<String, String>,
    k: &str,
    xml: &Path,
    at: &str,
) -> Result<T> {
    m.get(k)
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| Error::invalid(xml, format!("{at}@{k}"), "missing or not a number"))
}

fn polygon(points: &str) -> Result<Geometry, String> {
    let mut ring = Vec::new();
    for p in points.split(';').filter(|p| !p.trim().is_empty()) {
        let (x, y) = p
            .split_once(',')
            .ok_or_else(|| format!("point {p:?} is not x,y"))?;
        let (x, y): (f64, f64) = (
            x.trim()
                .parse()
                .map_err(|_| format!("x {x:?} is not a number"))?,
            y.trim()
                .parse()
                .map_err(|_| format!("y {y:?} is not a number"))?,
        );
        if !x.is_finite() || !y.is_finite() {
            return Err(format!("point {p:?} is not finite"));
        }
        ring.push([x, y]);
    }
    if ring.len() < 3 {
        return Err(format!("a polygon needs 3 points, found {}", ring.len()));
    }
    Ok(Geometry::Polygons {
        polygons: vec![PolygonWithHoles {
            outer: ring,
            holes: vec![],
        }],
    })
}

fn mask(
    m: &HashMap<String, String>,
    iw: u32,
    ih: u32,
    xml: &Path,
    at: &str,
) -> Result<Result<Geometry, String>> {
    let (left, top, w, h): (u32, u32, u32, u32) = (
        num(m, "left", xml, at)?,
        num(m, "top", xml, at)?,
        num(m, "width", xml, at)?,
        num(m, "height", xml, at)?,
    );
    if u64::from(left) + u64::from(w) > u64::from(iw)
        || u64::from(top) + u64::from(h) > u64::from(ih)
    {
        return Ok(Err(format!(
            "mask box {left},{top} {w}x{h} leaves the {iw}x{ih} image"
        )));
    }
    let runs: Vec<u64> = match m.get("rle").map(|r| {
        r.split(',')
            .map(|n| n.trim().parse::<u64>())
            .collect::<std::result::Result<Vec<_>, _>>()
    }) {
        Some(Ok(v)) => v,
        _ => return Ok(Err("rle must be comma-separated run lengths".into())),
    };
    let total: u64 = runs.iter().sum();
    if total != u64::from(w) * u64::from(h) {
        return Ok(Err(format!(
            "rle covers {total} pixels, but the box {w}x{h} has {}",
            u64::from(w) * u64::from(h)
        )));
    }
    let mut bm = BitMask::new(iw, ih);
    let mut pos = 0u64;
    for (k, &n) in runs.iter().enumerate() {
        if k % 2 == 1 {
            for p in pos..pos + n {
                let (x, y) = ((p % u64::from(w)) as i64, (p / u64::from(w)) as i64);
                bm.set(i64::from(left) + x, i64::from(top) + y, true);
            }
        }
        pos += n;
    }
    Ok(Ok(Geometry::from_mask(&bm)))
}

/// A read CVAT file.
pub struct ImportedCvat {
    /// From the class-id map beside the file when present, else one class per label
    /// name in `<labels>` order then first use (ids 1..).
    pub ontology: Ontology,
    /// One document per `<image>`.
    pub documents: Vec<ImageDocument>,
}

/// Reads a CVAT for images 1.1 XML file (see the module docs).
pub fn read(xml: &Path) -> Result<ImportedCvat> {
    let text = std::fs::read_to_string(xml).map_err(|e| Error::io(xml, e))?;
    let mut rd = quick_xml::Reader::from_str(&text);
    let mut labels: Vec<String> = Vec::new();
    let mut images: Vec<(ImageDocument, Vec<Shape>)> = Vec::new();
    let mut shape: Option<Shape> = None;
    let mut in_label_name = false;
    let mut attr_name: Option<String> = None;
    let mut text_buf = String::new();
    // Open elements: a file cut short ends with some still open, and must not import as
    // if it were whole.
    let mut open: Vec<String> = Vec::new();
    loop {
        let ev = rd.read_event().map_err(|e| {
            Error::invalid(xml, format!("byte {}", rd.buffer_position()), e.to_string())
        })?;
        match &ev {
            Event::Start(e) => open.push(String::from_utf8_lossy(e.name().as_ref()).into_owned()),
            Event::End(_) => {
                open.pop();
            }
            Event::Eof if !open.is_empty() => {
                return Err(Error::invalid(
                    xml,
                    format!("byte {}", rd.buffer_position()),
                    format!(
                        "the file ends inside <{}>: it is truncated or incomplete",
                        open.join("> <")
                    ),
                ));
            }
            _ => {}
        }
        let at = || format!("images[{}]", images.len().saturating_sub(1));
        let empty = matches!(ev, Event::Empty(_));
        match ev {
            Event::DocType(_) => {
                return Err(Error::invalid(
                    xml,
                    "DOCTYPE",
                    "DTDs and entity declarations are not accepted",
                ));
            }
            Event::Start(e) | Event::Empty(e) => {
                let name = e.name().as_ref().to_vec();
                match name.as_slice() {
                    b"image" => {
                        let m = attrs(&e, xml, "image")?;
                        let field = format!("images[{}]", images.len());
                        let file = m.get("name").cloned().unwrap_or_default();
                        io::safe_relative_path(&file, xml, &format!("{field}@name"))?;
                        let (w, h) = (
                            num(&m, "width", xml, &field)?,
                            num(&m, "height", xml, &field)?,
                        );
                        io::check_declared_size(xml, &format!("{field}@width,height"), w, h)?;
                        let mut d = ImageDocument::new(&file, w, h);
                        d.status = ImageStatus::Done;
                        images.push((d, Vec::new()));
                    }
                    b"polygon" | b"mask" => {
                        let Some((d, _)) = images.last() else {
                            return Err(Error::invalid(xml, "polygon", "shape outside <image>"));
                        };
                        let m = attrs(&e, xml, &at())?;
                        let geometry = if name == b"polygon" {
                            polygon(m.get("points").map(String::as_str).unwrap_or(""))
                        } else {
                            mask(&m, d.image.width, d.image.height, xml, &at())?
                        };
                        let s = Shape {
                            label: m.get("label").cloned().unwrap_or_default(),
                            geometry,
                            z: m.get("z_order").and_then(|z| z.parse().ok()).unwrap_or(0),
                            attrs: HashMap::new(),
                        };
                        if empty {
                            if let Some(img) = images.last_mut() {
                                img.1.push(s);
                            }
                        } else {
                            shape = Some(s);
                        }
                    }
                    b"attribute" => {
                        attr_name = attrs(&e, xml, "attribute")?.get("name").cloned();
                        text_buf.clear();
                    }
                    b"name" => {
                        in_label_name = shape.is_none();
                        text_buf.clear();
                    }
                    _ => {}
                }
            }
            Event::Text(t) => {
                text_buf.push_str(
                    &t.decode()
                        .map_err(|e| Error::invalid(xml, "text", e.to_string()))?,
                );
            }
            Event::GeneralRef(r) => {
                let name = r
                    .decode()
                    .map_err(|e| Error::invalid(xml, "text", e.to_string()))?;
                let ch = match name.as_ref() {
                    "amp" => '&',
                    "lt" => '<',
                    "gt" => '>',
                    "quot" => '"',
                    "apos" => '\'',
                    _ => match r.resolve_char_ref() {
                        Ok(Some(c)) => c,
                        _ => {
                            return Err(Error::invalid(
                                xml,
                                "text",
                                format!("entity &{name}; is not accepted"),
                            ));
                        }
                    },
                };
                text_buf.push(ch);
            }
            Event::End(e) => match e.name().as_ref() {
                b"name" if in_label_name => {
                    labels.push(text_buf.trim().to_string());
                    in_label_name = false;
                }
                b"attribute" => {
                    if let (Some(s), Some(n)) = (shape.as_mut(), attr_name.take()) {
                        s.attrs.insert(n, text_buf.trim().to_string());
                    }
                }
                b"polygon" | b"mask" => {
                    if let (Some(s), Some(img)) = (shape.take(), images.last_mut()) {
                        img.1.push(s);
                    }
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    let cm_path = classmap::path_for(xml, false);
    let cm = cm_path
        .exists()
        .then(|| ClassMap::load(&cm_path))
        .transpose()?;
    let mut class_of: HashMap<String, u32> = HashMap::new();
    let mut cats = Vec::new();
    match &cm {
        Some(m) => {
            for c in &m.classes {
                class_of.insert(c.name.clone(), c.ontology_id);
                cats.push(classmap::category(c.ontology_id, c.name.clone(), c.isthing));
            }
        }
        None => {
            let used = images
                .iter()
                .flat_map(|(_, s)| s.iter().map(|s| s.label.clone()));
            for name in labels.into_iter().chain(used) {
                if !class_of.contains_key(&name) {
                    let id = class_of.len() as u32 + 1;
                    class_of.insert(name.clone(), id);
                    cats.push(classmap::category(id, name, true));
                }
            }
        }
    }
    let mut documents = Vec::new();
    for (i, (mut d, shapes)) in images.into_iter().enumerate() {
        let mut used: Vec<u32> = shapes
            .iter()
            .filter_map(|s| s.attrs.get("limner_segment_id")?.parse().ok())
            .collect();
        let mut next = 0u32;
        for (k, s) in shapes.into_iter().enumerate() {
            let field = format!("images[{i}].shapes[{k}]");
            let g = s.geometry.map_err(|m| Error::invalid(xml, &field, m))?;
            let class = *class_of.get(&s.label).ok_or_else(|| {
                Error::invalid(
                    xml,
                    format!("{field}@label"),
                    format!("label {:?} has no class", s.label),
                )
            })?;
            let id = match s
                .attrs
                .get("limner_segment_id")
                .and_then(|v| v.parse::<u32>().ok())
            {
                Some(id) if id >= 1 => id,
                _ => {
                    next += 1;
                    while used.contains(&next) {
                        next += 1;
                    }
                    used.push(next);
                    next
                }
            };
            let mut seg = Segment::new(id, class, g, Source::Import);
            seg.z = s.z;
            seg.iscrowd = s
                .attrs
                .get("iscrowd")
                .is_some_and(|v| v == "true" || v == "1");
            d.segments.push(seg);
        }
        documents.push(d);
    }
    Ok(ImportedCvat {
        ontology: Ontology::from_coco(&cats, &cm_path)?,
        documents,
    })
}
