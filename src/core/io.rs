//! File I/O rules shared by every reader and writer: atomic writes, JSON with
//! field-naming errors, path safety, and image decoding with size limits.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::{Error, Result};

/// Largest accepted image side, in pixels.
pub const MAX_IMAGE_SIDE: u32 = 65_535;
/// Largest accepted image area, in pixels (a decompression-bomb guard: 500 MP is about
/// 2 GB as RGBA). A 20 000 x 12 000 image (240 MP) is accepted; 100 000 x 100 000 is not.
pub const MAX_IMAGE_PIXELS: u64 = 500_000_000;

/// Writes `bytes` to `path` atomically: a temporary file in the same folder is written,
/// fsynced and renamed over `path`, then the folder is fsynced. A crash leaves either
/// the old file or the new one, never a truncated one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = stage_temp(path, bytes)?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    // Make the rename itself durable. Not every platform can open a folder for fsync.
    if let Some(d) = path
        .parent()
        .and_then(|d| std::fs::File::open(folder_of(d)).ok())
    {
        let _ = d.sync_all();
    }
    Ok(())
}

fn folder_of(parent: &Path) -> &Path {
    if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    }
}

/// A fsynced temporary file with `bytes` beside `path`, with the permissions the target
/// has (or 0644 for a new file): temporaries are created owner-only, and a project on a
/// shared drive must stay readable by the team after each save.
fn stage_temp(path: &Path, bytes: &[u8]) -> Result<tempfile::NamedTempFile> {
    let dir = folder_of(path.parent().unwrap_or(Path::new(".")));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".limner-tmp-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_or(0o644, |m| m.permissions().mode() & 0o7777);
        let _ = tmp
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode));
    }
    // Errors name the target, not the temporary file.
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    Ok(tmp)
}

/// Writes several files so that a failure changes none of them: every file is first
/// written and fsynced as a temporary beside its target (a full disk or a bad folder fails
/// here, and the temporaries are removed), then all are renamed into place. A rename
/// failing midway (rare: same folder, same file system) is reported with the files that
/// were already replaced.
pub fn write_atomic_all(files: &[(PathBuf, Vec<u8>)]) -> Result<()> {
    let mut staged = Vec::with_capacity(files.len());
    for (path, bytes) in files {
        staged.push((stage_temp(path, bytes)?, path));
    }
    let mut replaced: Vec<&Path> = Vec::new();
    for (tmp, path) in staged {
        if let Err(e) = tmp.persist(path) {
            let done = if replaced.is_empty() {
                "no file was changed".to_string()
            } else {
                format!(
                    "{} of {} files were already replaced: {}",
                    replaced.len(),
                    files.len(),
                    replaced
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Err(Error::io(
                path,
                std::io::Error::new(e.error.kind(), format!("{} ({done})", e.error)),
            ));
        }
        replaced.push(path);
    }
    let mut dirs: Vec<&Path> = replaced.iter().filter_map(|p| p.parent()).collect();
    dirs.sort();
    dirs.dedup();
    for d in dirs {
        if let Ok(f) = std::fs::File::open(d) {
            let _ = f.sync_all();
        }
    }
    Ok(())
}

/// Pretty JSON, newline-terminated: the bytes every JSON file of a project holds.
pub fn json_bytes<T: Serialize>(path: &Path, value: &T) -> Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| Error::Json {
        path: path.to_path_buf(),
        field: String::new(),
        message: e.to_string(),
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Serializes `value` as pretty JSON (newline-terminated) and writes it atomically.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    write_atomic(path, &json_bytes(path, value)?)
}

/// Parses JSON bytes; a schema error names the field path (`segments[2].geometry`).
pub fn parse_json<T: DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        Error::Json {
            path: path.to_path_buf(),
            field: if field == "." { "(root)".into() } else { field },
            message: e.into_inner().to_string(),
        }
    })
}

/// Reads and parses a JSON file.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_json(path, &bytes)
}

/// Checks that `rel` (a `file_name` read from a file) is a plain relative path that
/// stays inside its root: no `..`, no absolute path, no drive prefix, not empty.
/// `origin` and `field` name where the value came from, for the error.
pub fn safe_relative_path(rel: &str, origin: &Path, field: &str) -> Result<PathBuf> {
    let bad = |why: &str| Error::invalid(origin, field, format!("unsafe path {rel:?}: {why}"));
    if rel.is_empty() {
        return Err(bad("empty"));
    }
    if rel.contains('\\') {
        return Err(bad("backslashes are not allowed; use '/'"));
    }
    let p = Path::new(rel);
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            Component::ParentDir => return Err(bad("'..' would leave the root folder")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(bad("absolute paths are not allowed"));
            }
        }
    }
    if out.as_os_str().is_empty() {
        return Err(bad("names no file"));
    }
    Ok(out)
}

/// A decoded RGB image.
pub type RgbImage = image::RgbImage;

/// Reads an image's size from its header without decoding it, refusing images over
/// [`MAX_IMAGE_SIDE`] or [`MAX_IMAGE_PIXELS`].
pub fn image_dimensions(path: &Path) -> Result<(u32, u32)> {
    let reader = image::ImageReader::open(path)
        .map_err(|e| Error::io(path, e))?
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?;
    let (w, h) = reader
        .into_dimensions()
        .map_err(|e| Error::image(path, e.to_string()))?;
    check_image_size(path, w, h)?;
    Ok((w, h))
}

/// Refuses an image size a dataset file declares (`field` of `origin`) when it is empty or
/// over the limits, before anything of that size is allocated.
pub fn check_declared_size(origin: &Path, field: &str, w: u32, h: u32) -> Result<()> {
    if w == 0 || h == 0 {
        return Err(Error::invalid(
            origin,
            field,
            format!("empty image size {w} x {h}"),
        ));
    }
    if w > MAX_IMAGE_SIDE || h > MAX_IMAGE_SIDE || u64::from(w) * u64::from(h) > MAX_IMAGE_PIXELS {
        return Err(Error::invalid(
            origin,
            field,
            format!(
                "{w} x {h} px exceeds the limit ({MAX_IMAGE_SIDE} px per side, {MAX_IMAGE_PIXELS} px in all)"
            ),
        ));
    }
    Ok(())
}

fn check_image_size(path: &Path, w: u32, h: u32) -> Result<()> {
    if w == 0 || h == 0 {
        return Err(Error::image(path, format!("empty image ({w} x {h})")));
    }
    if w > MAX_IMAGE_SIDE || h > MAX_IMAGE_SIDE || u64::from(w) * u64::from(h) > MAX_IMAGE_PIXELS {
        return Err(Error::image(
            path,
            format!(
                "{w} x {h} px exceeds the limit ({MAX_IMAGE_SIDE} px per side, {MAX_IMAGE_PIXELS} px in all)"
            ),
        ));
    }
    Ok(())
}

/// Decodes an image as 8-bit RGB, with the size limits checked before any pixel
/// memory is allocated.
pub fn read_rgb_image(path: &Path) -> Result<RgbImage> {
    image_dimensions(path)?;
    let mut reader = image::ImageReader::open(path)
        .map_err(|e| Error::io(path, e))?
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_IMAGE_PIXELS * 4);
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|e| Error::image(path, e.to_string()))?;
    // `into_rgb8` reuses an RGB decode instead of copying it (3 bytes a pixel saved).
    Ok(img.into_rgb8())
}

/// Image file extensions Limner lists when it scans a folder.
pub const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "bmp", "tif", "tiff", "webp"];

/// True when `path` has one of [`IMAGE_EXTENSIONS`] (case-insensitive).
pub fn is_image_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn atomic_writes_keep_the_files_permissions_for_a_team() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
        write_atomic(&a, b"1").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode(&a),
            0o644,
            "a new file is readable by others, not owner-only"
        );
        std::fs::set_permissions(&a, std::fs::Permissions::from_mode(0o664)).unwrap();
        write_atomic(&a, b"2").unwrap();
        write_atomic_all(&[(a.clone(), b"3".to_vec()), (b.clone(), b"4".to_vec())]).unwrap();
        assert_eq!(mode(&a), 0o664, "a group-writable file stays so");
        assert_eq!(mode(&b), 0o644);
        assert_eq!(std::fs::read(&a).unwrap(), b"3");
    }

    #[test]
    fn atomic_write_replaces_whole_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        write_atomic(&p, b"first version, long").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "temp files must not be left behind");
    }

    #[test]
    fn unsafe_paths_are_refused() {
        let o = Path::new("x.json");
        for bad in [
            "../a.png",
            "a/../../b.png",
            "/etc/passwd",
            "",
            "a\\..\\b",
            ".",
        ] {
            assert!(safe_relative_path(bad, o, "file_name").is_err(), "{bad}");
        }
        assert_eq!(
            safe_relative_path("./sub/a.png", o, "f").unwrap(),
            PathBuf::from("sub/a.png")
        );
    }

    #[test]
    fn json_errors_name_the_field() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Inner {
            id: u32,
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Outer {
            items: Vec<Inner>,
        }
        let err = parse_json::<Outer>(Path::new("f.json"), br#"{"items":[{"id":1},{"id":"x"}]}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("f.json") && err.contains("items[1].id"),
            "{err}"
        );
    }
}
