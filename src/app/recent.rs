//! Recently opened projects, remembered in `<data dir>/limner/recent.json`.

use std::path::{Path, PathBuf};

/// Most projects remembered.
pub const MAX_RECENT: usize = 10;

fn file() -> PathBuf {
    super::demo::demo_dir().with_file_name("recent.json")
}

/// The remembered projects, newest first (missing folders dropped).
pub fn load() -> Vec<PathBuf> {
    load_from(&file())
}

fn load_from(path: &Path) -> Vec<PathBuf> {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Vec<PathBuf>>(&b).ok())
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.is_dir())
        .collect()
}

/// Puts `dir` first in the list and saves it (best effort: a failure only loses the list).
pub fn remember(dir: &Path) {
    remember_in(&file(), dir);
}

fn remember_in(path: &Path, dir: &Path) {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mut list = load_from(path);
    list.retain(|p| p != &dir);
    list.insert(0, dir);
    list.truncate(MAX_RECENT);
    if let Err(e) = crate::core::io::write_json_atomic(path, &list) {
        log::warn!("cannot save recent projects: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_first_without_duplicates() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("recent.json");
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        remember_in(&f, &a);
        remember_in(&f, &b);
        remember_in(&f, &a);
        let list = load_from(&f);
        assert_eq!(list.len(), 2);
        assert!(list[0].ends_with("a"));
        std::fs::remove_dir(&b).unwrap();
        assert_eq!(load_from(&f).len(), 1, "missing folders are dropped");
    }
}
