//! Slice tags and the gold flag, written to project documents with the user recorded in
//! each document's audit log.
//!
//! **Tag CSV format** (`limner tags import PROJECT FILE.csv`): RFC 4180 CSV, UTF-8 (a
//! BOM is skipped). The header row is `file_name` followed by one column per tag key;
//! each further row names an image of the project (its file name relative to the images
//! folder) and gives that image's value for each key. An empty cell leaves that tag as it
//! is. Fields may be quoted (`"a, b"`, `""` for a quote). Example:
//!
//! ```text
//! file_name,scene,device
//! kitchen/001.jpg,indoor,phone-a
//! street/002.jpg,outdoor,
//! ```
//!
//! Every row is checked before anything is written; an error names the CSV file, the
//! line and the column.

use std::path::Path;

use crate::core::document::{Action, ImageDocument, check_tag_key, parse_tag};
use crate::core::error::{Error, Result};
use crate::core::project::Project;

/// One CSV record: the line it starts on (1-based) and its fields.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvRecord {
    /// Line where the record starts.
    pub line: usize,
    /// Field values, unquoted.
    pub fields: Vec<String>,
}

/// Parses RFC 4180 CSV (comma separator, `"` quotes, CRLF or LF). Blank lines are
/// skipped. Errors (an unterminated quote, text after a closing quote) name `origin` and
/// the line.
pub fn parse_csv(text: &str, origin: &Path) -> Result<Vec<CsvRecord>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1usize;
    while chars.peek().is_some() {
        let start = line;
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut column = 1usize;
        loop {
            match chars.next() {
                None => {
                    fields.push(std::mem::take(&mut field));
                    break;
                }
                Some('\n') => {
                    fields.push(std::mem::take(&mut field));
                    line += 1;
                    break;
                }
                Some('\r') if chars.peek() == Some(&'\n') => {}
                Some(',') => {
                    fields.push(std::mem::take(&mut field));
                    column += 1;
                }
                Some('"') if field.is_empty() => {
                    let quote_line = line;
                    loop {
                        match chars.next() {
                            None => {
                                return Err(Error::invalid(
                                    origin,
                                    format!("line {quote_line}, column {column}"),
                                    "unterminated quoted field",
                                ));
                            }
                            Some('"') if chars.peek() == Some(&'"') => {
                                chars.next();
                                field.push('"');
                            }
                            Some('"') => break,
                            Some(c) => {
                                if c == '\n' {
                                    line += 1;
                                }
                                field.push(c);
                            }
                        }
                    }
                    match chars.peek() {
                        None | Some(',') | Some('\n') | Some('\r') => {}
                        Some(_) => {
                            return Err(Error::invalid(
                                origin,
                                format!("line {line}, column {column}"),
                                "text after a closing quote (quote the whole field, and double quotes inside it)",
                            ));
                        }
                    }
                }
                Some(c) => field.push(c),
            }
        }
        if !(fields.len() == 1 && fields[0].trim().is_empty()) {
            out.push(CsvRecord {
                line: start,
                fields,
            });
        }
    }
    Ok(out)
}

/// What a tag import changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TagImport {
    /// Rows (images) read.
    pub images: usize,
    /// Documents whose tags changed (and were written).
    pub changed: usize,
}

fn at(line: usize, column: usize, name: &str) -> String {
    format!("line {line}, column {column} ({name})")
}

/// Imports slice tags from a CSV file (format in the module docs) into the project.
pub fn import_csv(project: &Project, csv: &Path, user: &str) -> Result<TagImport> {
    let bytes = std::fs::read(csv).map_err(|e| Error::io(csv, e))?;
    let text = String::from_utf8(bytes)
        .map_err(|e| Error::invalid(csv, "(encoding)", format!("not UTF-8: {e}")))?;
    let records = parse_csv(&text, csv)?;
    let Some((header, rows)) = records.split_first() else {
        return Err(Error::invalid(
            csv,
            "line 1",
            "empty file: expected a header row `file_name,KEY,...`",
        ));
    };
    let hl = header.line;
    if header.fields.first().map(|s| s.trim()) != Some("file_name") {
        return Err(Error::invalid(
            csv,
            format!("line {hl}, column 1"),
            format!(
                "the first header cell must be `file_name`, found {:?}",
                header.fields.first().map(String::as_str).unwrap_or("")
            ),
        ));
    }
    let keys: Vec<String> = header.fields[1..]
        .iter()
        .map(|k| k.trim().to_string())
        .collect();
    if keys.is_empty() {
        return Err(Error::invalid(
            csv,
            format!("line {hl}"),
            "no tag columns after file_name",
        ));
    }
    for (i, k) in keys.iter().enumerate() {
        check_tag_key(k)
            .map_err(|why| Error::invalid(csv, format!("line {hl}, column {}", i + 2), why))?;
        if keys[..i].contains(k) {
            return Err(Error::invalid(
                csv,
                format!("line {hl}, column {}", i + 2),
                format!("tag key {k:?} appears twice"),
            ));
        }
    }
    let mut seen = std::collections::HashMap::new();
    let mut docs: Vec<ImageDocument> = Vec::new();
    for r in rows {
        if r.fields.len() != keys.len() + 1 {
            return Err(Error::invalid(
                csv,
                format!("line {}", r.line),
                format!(
                    "expected {} fields (file_name + {} tags), found {}",
                    keys.len() + 1,
                    keys.len(),
                    r.fields.len()
                ),
            ));
        }
        let name = r.fields[0].trim();
        if name.is_empty() {
            return Err(Error::invalid(
                csv,
                at(r.line, 1, "file_name"),
                "empty file name",
            ));
        }
        if let Some(first) = seen.insert(name.to_string(), r.line) {
            return Err(Error::invalid(
                csv,
                at(r.line, 1, "file_name"),
                format!("{name:?} is already listed on line {first}"),
            ));
        }
        let mut doc = project.load_document(name).map_err(|e| {
            Error::invalid(
                csv,
                at(r.line, 1, "file_name"),
                format!("image {name:?} is not in the project: {e}"),
            )
        })?;
        let mut changed = false;
        for (i, (k, v)) in keys.iter().zip(&r.fields[1..]).enumerate() {
            let v = v.trim();
            if v.is_empty() {
                continue;
            }
            if v.contains(['\n', '\r']) {
                return Err(Error::invalid(
                    csv,
                    at(r.line, i + 2, k),
                    "a tag value must be one line",
                ));
            }
            if doc.tags.get(k).map(String::as_str) != Some(v) {
                doc.tags.insert(k.clone(), v.to_string());
                changed = true;
            }
        }
        if changed {
            doc.record(user, Action::Tags);
            docs.push(doc);
        }
    }
    project.save_documents(&docs)?;
    Ok(TagImport {
        images: rows.len(),
        changed: docs.len(),
    })
}

/// Sets tags on one image from `key=value` arguments (`key=` removes the tag). Returns
/// whether anything changed.
pub fn set_tags(project: &Project, file_name: &str, args: &[String], user: &str) -> Result<bool> {
    let origin = project.annotation_path(file_name);
    let mut doc = project.load_document(file_name)?;
    let mut changed = false;
    for (i, a) in args.iter().enumerate() {
        let (k, v) = parse_tag(a)
            .map_err(|why| Error::invalid(&origin, format!("tags (argument {})", i + 1), why))?;
        if v.is_empty() {
            changed |= doc.tags.remove(&k).is_some();
        } else if doc.tags.get(&k) != Some(&v) {
            doc.tags.insert(k, v);
            changed = true;
        }
    }
    if changed {
        doc.record(user, Action::Tags);
        project.save_document(&doc)?;
    }
    Ok(changed)
}

/// Marks (`gold` true) or unmarks images as gold. Every image is checked before any is
/// written. Returns, per image, whether it changed.
pub fn set_gold(
    project: &Project,
    files: &[String],
    gold: bool,
    user: &str,
) -> Result<Vec<(String, bool)>> {
    let mut docs = Vec::new();
    for f in files {
        docs.push(project.load_document(f)?);
    }
    let mut out = Vec::new();
    let mut changed_docs = Vec::new();
    for mut d in docs {
        let changed = d.gold != gold;
        out.push((d.image.file_name.clone(), changed));
        if changed {
            d.gold = gold;
            d.record(user, Action::Gold { gold });
            changed_docs.push(d);
        }
    }
    project.save_documents(&changed_docs)?;
    Ok(out)
}
