//! The demo project embedded in the binary, unpacked on first use.

use std::path::PathBuf;

use crate::core::error::{Error, Result};
use crate::core::io::write_atomic;

/// (relative path, bytes) of every demo file.
const FILES: &[(&str, &[u8])] = &[
    (
        "images/chelsea.png",
        include_bytes!("../../assets/demo/images/chelsea.png"),
    ),
    (
        "images/coffee.png",
        include_bytes!("../../assets/demo/images/coffee.png"),
    ),
    (
        "limner.json",
        include_bytes!("../../assets/demo/limner.json"),
    ),
    (
        "ontology.json",
        include_bytes!("../../assets/demo/ontology.json"),
    ),
    (
        "annotations/chelsea.png.json",
        include_bytes!("../../assets/demo/annotations/chelsea.png.json"),
    ),
    ("README.md", include_bytes!("../../assets/demo/README.md")),
];

/// Where the demo lives: `$XDG_DATA_HOME/limner/demo`, `~/.local/share/limner/demo`,
/// or the temp folder.
pub fn demo_dir() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(std::env::temp_dir)
        .join("limner/demo")
}

/// Unpacks the demo project (files already there are kept, so the user's edits to the
/// demo survive) and returns its folder.
pub fn unpack() -> Result<PathBuf> {
    let dir = demo_dir();
    for (rel, bytes) in FILES {
        let p = dir.join(rel);
        if !p.exists() {
            write_atomic(&p, bytes)?;
        }
    }
    if !dir.join("limner.json").exists() {
        return Err(Error::invalid(
            &dir,
            "limner.json",
            "demo project could not be unpacked",
        ));
    }
    Ok(dir)
}
