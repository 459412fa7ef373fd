//! Exports that complete or change nothing, and never write over what they should not.
//!
//! [`export`] writes the whole output into a staging folder beside its destination, then
//! checks every file it is about to place and only then moves them into place (deeper
//! files first, so a COCO JSON or a project's `limner.json` arrives after what it names):
//! - nothing is written over the command's own input (the input file, its PNG folder, the
//!   input project or dataset folder);
//! - nothing is written inside a Limner project (an export there would make the project
//!   list label PNGs as images or fail to validate), except a new project of its own;
//! - an existing file is replaced only when an earlier Limner export wrote it (it is listed
//!   in the folder's [`MANIFEST`]) or when `overwrite` is set; a folder is never replaced by
//!   a file.
//!
//! A failure while staging (a full disk, a bad document) leaves the destination as it
//! was; a failure while moving (rare: same file system) says which files were placed.
//! The manifest names the files before they move, so an export killed while moving can
//! be run again in place.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Dataset, Format, WriteReport, coco_panoptic};
use crate::core::error::{Error, Result};
use crate::core::io;
use crate::core::project::SETTINGS_FILE;

/// The list of files Limner exports wrote into a folder (relative, '/'-separated).
pub const MANIFEST: &str = ".limner-export.json";
const MANIFEST_SCHEMA: &str = "limner-export/1";

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    schema: String,
    files: BTreeSet<String>,
}

/// What the export may replace.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Replace existing files that no Limner export wrote (never the input, never a folder).
    pub overwrite: bool,
    /// Paths the export must not write over or into: the input file or folder (and a COCO
    /// panoptic input's PNG folder).
    pub inputs: Vec<PathBuf>,
}

impl ExportOptions {
    /// The paths a dataset read as `format` from `input` was read from.
    pub fn input_paths(format: Format, input: &Path) -> Vec<PathBuf> {
        let mut v = vec![input.to_path_buf()];
        if format == Format::CocoPanoptic {
            v.push(coco_panoptic::png_folder(input));
        }
        v
    }
}

/// Writes `data` as `format` at `output` (a file for COCO and CVAT, a folder otherwise)
/// through a staging folder; see the module docs for what it refuses.
pub fn export(
    format: Format,
    data: Dataset,
    output: &Path,
    opts: &ExportOptions,
) -> Result<WriteReport> {
    // `.`, `..`, symlinks: work on where the output really is.
    let shown = output;
    let resolved = resolve(output);
    let output = resolved.as_path();
    let inputs: Vec<PathBuf> = opts.inputs.iter().map(|p| resolve(p)).collect();
    if let Some(input) = inputs
        .iter()
        .find(|i| output == i.as_path() || output.starts_with(i))
    {
        return Err(Error::invalid(
            shown,
            "--output",
            format!(
                "is the input {} or inside it; choose an output outside it",
                input.display()
            ),
        ));
    }
    let single_file = matches!(
        format,
        Format::CocoPanoptic | Format::CocoInstance | Format::Cvat
    );
    if single_file && output.is_dir() {
        return Err(Error::invalid(
            output,
            "--output",
            format!(
                "is a folder; {} writes one file, e.g. {}",
                format.name(),
                format.output_in(output).display()
            ),
        ));
    }
    if output.file_name().is_none() {
        return Err(Error::invalid(
            output,
            "--output",
            "names no file or folder",
        ));
    }
    // Files land in `dest` (the folder of a single-file output, the output folder
    // itself otherwise); they are staged in a sibling of what they replace, so relative
    // paths written into the files (a project's images folder) are the same in both.
    let dest = if single_file {
        parent_or_dot(output).to_path_buf()
    } else {
        output.to_path_buf()
    };
    refuse_inside_project(format, output)?;
    let stage_parent = if single_file {
        dest.clone()
    } else {
        parent_or_dot(output).to_path_buf()
    };
    std::fs::create_dir_all(&stage_parent).map_err(|e| Error::io(&stage_parent, e))?;
    let stage = tempfile::Builder::new()
        .prefix(".limner-stage-")
        .tempdir_in(&stage_parent)
        .map_err(|e| Error::io(&stage_parent, e))?;
    let staged_output = if single_file {
        stage
            .path()
            .join(output.file_name().expect("checked above"))
    } else {
        stage.path().to_path_buf()
    };
    let report = super::write(format, data, &staged_output)?;

    let mut files = Vec::new();
    collect_files(stage.path(), stage.path(), &mut files)?;
    let manifest_path = dest.join(MANIFEST);
    let mut manifest = read_manifest(&manifest_path)?;
    for rel in &files {
        let target = dest.join(rel);
        let resolved = resolve(&target);
        if let Some(input) = inputs
            .iter()
            .find(|i| resolved == **i || resolved.starts_with(i))
        {
            return Err(Error::invalid(
                &target,
                "--output",
                format!(
                    "would write over the input {}; choose an output outside it",
                    input.display()
                ),
            ));
        }
        check_target(&dest, rel, &target, &manifest, opts.overwrite)?;
    }
    // Deeper files first: a JSON or limner.json arrives after the files it names.
    files.sort_by_key(|rel| std::cmp::Reverse(rel.components().count()));
    // The manifest lists the files before they move (write-ahead): killed while moving,
    // the export leaves only files it has claimed, so running it again replaces them
    // instead of refusing them as a user's files.
    let before = manifest.files.clone();
    manifest.files.extend(files.iter().map(|r| slash(r)));
    write_manifest(&manifest_path, &manifest)?;
    let mut placed: Vec<PathBuf> = Vec::new();
    for rel in &files {
        let target = dest.join(rel);
        let moved = target
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::rename(stage.path().join(rel), &target));
        if let Err(e) = moved {
            manifest.files = before;
            manifest.files.extend(placed.iter().map(|r| slash(r)));
            let _ = write_manifest(&manifest_path, &manifest);
            return Err(Error::io(
                &target,
                std::io::Error::new(
                    e.kind(),
                    format!(
                        "{e} ({} of {} files were placed in {} before this one)",
                        placed.len(),
                        files.len(),
                        dest.display()
                    ),
                ),
            ));
        }
        placed.push(rel.clone());
    }
    if let Ok(d) = std::fs::File::open(&dest) {
        let _ = d.sync_all();
    }
    Ok(report)
}

fn parent_or_dot(p: &Path) -> &Path {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

fn slash(rel: &Path) -> String {
    rel.to_string_lossy().replace('\\', "/")
}

/// An absolute path with symlinks resolved as far as it exists and `..` folded after.
fn resolve(p: &Path) -> PathBuf {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut existing = abs.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(c) = existing.canonicalize() {
            let mut out = c;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return normalize(&out);
        }
        match (existing.parent(), existing.components().next_back()) {
            (Some(parent), Some(last)) => {
                rest.push(last.as_os_str().to_os_string());
                existing = parent;
            }
            _ => return normalize(&abs),
        }
    }
}

fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

/// Refuses an output inside an existing Limner project (other than a new project's own
/// folder being created at `output`).
fn refuse_inside_project(format: Format, output: &Path) -> Result<()> {
    let out = resolve(output);
    let mut dir = if format == Format::Project {
        out.parent()
    } else {
        Some(out.as_path())
    };
    if format == Format::Project && out.join(SETTINGS_FILE).exists() {
        return Err(Error::invalid(
            output,
            "--output",
            "a Limner project already exists here; choose a new folder",
        ));
    }
    while let Some(d) = dir {
        if d.join(SETTINGS_FILE).is_file() {
            return Err(Error::invalid(
                output,
                "--output",
                format!(
                    "is inside the Limner project {}; export outside it (the project would list \
                     the exported files or stop validating)",
                    d.display()
                ),
            ));
        }
        dir = d.parent();
    }
    Ok(())
}

fn check_target(
    dest: &Path,
    rel: &Path,
    target: &Path,
    manifest: &Manifest,
    overwrite: bool,
) -> Result<()> {
    // Every folder on the way must be a folder (or not exist yet).
    let mut on_the_way = dest.to_path_buf();
    let parts: Vec<_> = rel.components().collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        on_the_way.push(part);
        if on_the_way.exists() && !on_the_way.is_dir() {
            return Err(Error::invalid(
                &on_the_way,
                "--output",
                format!(
                    "is a file where the export needs a folder (for {})",
                    target.display()
                ),
            ));
        }
    }
    let Ok(meta) = std::fs::symlink_metadata(target) else {
        return Ok(());
    };
    if meta.is_dir() {
        return Err(Error::invalid(
            target,
            "--output",
            "is a folder where the export writes a file; nothing was written",
        ));
    }
    if overwrite || manifest.files.contains(&slash(rel)) {
        return Ok(());
    }
    Err(Error::invalid(
        target,
        "--output",
        "exists and was not written by a Limner export; nothing was written \
         (choose an empty folder, or pass --overwrite to replace it)",
    ))
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        if path.is_dir() {
            collect_files(root, &path, out)?;
        } else {
            out.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
        }
    }
    Ok(())
}

fn read_manifest(path: &Path) -> Result<Manifest> {
    if !path.exists() {
        return Ok(Manifest {
            schema: MANIFEST_SCHEMA.into(),
            files: BTreeSet::new(),
        });
    }
    let m: Manifest = io::read_json(path)?;
    if m.schema != MANIFEST_SCHEMA {
        return Err(Error::invalid(
            path,
            "schema",
            format!("expected {MANIFEST_SCHEMA:?}, found {:?}", m.schema),
        ));
    }
    Ok(m)
}

fn write_manifest(path: &Path, m: &Manifest) -> Result<()> {
    io::write_json_atomic(path, m)
}
