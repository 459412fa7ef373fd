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

/// What [`sample_gold`] is asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct GoldSample {
    /// Gold images wanted: in all, or in each stratum with `per_stratum`.
    pub n: usize,
    /// Tag keys whose value combinations form the strata (`scene`, `device`).
    pub by: Vec<String>,
    /// `n` per stratum instead of `n` in all.
    pub per_stratum: bool,
    /// Seed of the random choice (the same seed and project give the same images).
    pub seed: u64,
}

/// One stratum of a [`GoldSample`]: a combination of tag values.
#[derive(Debug, Clone, PartialEq)]
pub struct Stratum {
    /// `key=value` per `by` key (`(untagged)` for a missing tag).
    pub values: Vec<String>,
    /// Images in the stratum.
    pub images: usize,
    /// Of those, gold before sampling.
    pub gold_before: usize,
    /// Images newly marked gold.
    pub chosen: Vec<String>,
}

/// Value of `key` on `doc` for slicing (`(untagged)` when missing).
pub fn slice_of(doc: &ImageDocument, key: &str) -> String {
    doc.tags
        .get(key)
        .cloned()
        .unwrap_or_else(|| super::compare::UNTAGGED.to_string())
}

/// Quota per stratum for `n` gold images in all: proportional to the stratum's size
/// (largest remainder), with at least one per stratum while `n` allows, never more
/// than the stratum holds.
fn allocate(n: usize, sizes: &[usize]) -> Vec<usize> {
    let total: usize = sizes.iter().sum();
    let n = n.min(total);
    let mut quota = vec![0usize; sizes.len()];
    if n == 0 {
        return quota;
    }
    // Every non-empty stratum gets one first (the point of stratifying: no slice
    // without gold), the smallest strata first when `n` is short.
    let mut order: Vec<usize> = (0..sizes.len()).filter(|&i| sizes[i] > 0).collect();
    order.sort_by_key(|&i| (sizes[i], i));
    let mut left = n;
    for &i in &order {
        if left == 0 {
            break;
        }
        quota[i] = 1;
        left -= 1;
    }
    // The rest in proportion to what each stratum still holds.
    while left > 0 {
        let room: usize = (0..sizes.len()).map(|i| sizes[i] - quota[i]).sum();
        if room == 0 {
            break;
        }
        let share: Vec<f64> = (0..sizes.len())
            .map(|i| left as f64 * (sizes[i] - quota[i]) as f64 / room as f64)
            .collect();
        let mut given = 0;
        for i in 0..sizes.len() {
            let k = (share[i].floor() as usize).min(sizes[i] - quota[i]);
            quota[i] += k;
            given += k;
        }
        left -= given;
        if left == 0 {
            break;
        }
        // Largest remainders get one more each.
        let mut rest: Vec<usize> = (0..sizes.len()).filter(|&i| quota[i] < sizes[i]).collect();
        rest.sort_by(|&a, &b| {
            let (ra, rb) = (share[a] - share[a].floor(), share[b] - share[b].floor());
            rb.total_cmp(&ra).then(a.cmp(&b))
        });
        for i in rest {
            if left == 0 {
                break;
            }
            quota[i] += 1;
            left -= 1;
        }
    }
    quota
}

/// Marks a stratified random gold set: the project's images are grouped by the values
/// of the `by` tags, each group gets its quota ([`GoldSample`]), images already gold
/// count towards it, and the rest is drawn at random (seeded) from the group's other
/// images. Nothing is written when nothing changes; the documents that change are
/// written together ([`Project::save_documents`]).
pub fn sample_gold(project: &Project, opts: &GoldSample, user: &str) -> Result<Vec<Stratum>> {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;

    for key in &opts.by {
        check_tag_key(key).map_err(|m| Error::invalid(&project.root, "--by", m))?;
    }
    let (names, _) = project.list_images()?;
    let mut docs = Vec::with_capacity(names.len());
    for n in &names {
        docs.push(project.load_document(n)?);
    }
    let mut groups: std::collections::BTreeMap<Vec<String>, Vec<usize>> = Default::default();
    for (i, d) in docs.iter().enumerate() {
        let key: Vec<String> = opts
            .by
            .iter()
            .map(|k| format!("{k}={}", slice_of(d, k)))
            .collect();
        groups.entry(key).or_default().push(i);
    }
    let sizes: Vec<usize> = groups.values().map(Vec::len).collect();
    let quota = if opts.per_stratum {
        sizes.iter().map(|&s| opts.n.min(s)).collect()
    } else {
        allocate(opts.n, &sizes)
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(opts.seed);
    let mut strata = Vec::new();
    let mut changed = Vec::new();
    for ((values, members), want) in groups.into_iter().zip(quota) {
        let gold_before = members.iter().filter(|&&i| docs[i].gold).count();
        let mut pool: Vec<usize> = members.iter().copied().filter(|&i| !docs[i].gold).collect();
        pool.shuffle(&mut rng);
        let take = want.saturating_sub(gold_before).min(pool.len());
        let mut chosen: Vec<usize> = pool[..take].to_vec();
        chosen.sort_unstable();
        strata.push(Stratum {
            values,
            images: members.len(),
            gold_before,
            chosen: chosen
                .iter()
                .map(|&i| docs[i].image.file_name.clone())
                .collect(),
        });
        changed.extend(chosen);
    }
    changed.sort_unstable();
    let mut out_docs = Vec::with_capacity(changed.len());
    for i in changed {
        let mut d = docs[i].clone();
        d.gold = true;
        d.record(user, Action::Gold { gold: true });
        out_docs.push(d);
    }
    project.save_documents(&out_docs)?;
    Ok(strata)
}

#[cfg(test)]
mod sample_tests {
    use super::allocate;

    #[test]
    fn allocation_is_proportional_and_covers_every_stratum() {
        assert_eq!(allocate(10, &[50, 30, 20]), vec![5, 3, 2]);
        // A small stratum still gets one.
        assert_eq!(allocate(10, &[97, 2, 1]), vec![8, 1, 1]);
        // Never more than a stratum holds; never more than there are images.
        assert_eq!(allocate(100, &[3, 2]), vec![3, 2]);
        // Short n: the smallest strata first.
        assert_eq!(allocate(2, &[10, 1, 5]), vec![0, 1, 1]);
        assert_eq!(allocate(0, &[4]), vec![0]);
        for n in 0..40 {
            let q = allocate(n, &[17, 9, 4, 1, 0]);
            assert_eq!(q.iter().sum::<usize>(), n.min(31), "{n}: {q:?}");
        }
    }
}
