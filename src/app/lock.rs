//! One app instance per project: an OS file lock on `<project>/.limner.lock`.
//! The OS drops the lock when the process dies, so a stale lock (after a crash or
//! kill -9) never blocks the next start; the file only says who holds it.

use std::fs::File;
use std::io::Write;
use std::path::Path;

/// Lock file name inside the project.
pub const LOCK_FILE: &str = ".limner.lock";

/// Held for as long as the app has the project open.
#[derive(Debug)]
pub struct ProjectLock {
    _file: File,
}

impl ProjectLock {
    /// Takes the lock, or explains who holds it.
    pub fn acquire(root: &Path) -> Result<ProjectLock, String> {
        let path = root.join(LOCK_FILE);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(_) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                return Err(format!(
                    "{} is open in another Limner instance ({}). Close it there first; \
                     opening it twice would let one overwrite the other's work.",
                    root.display(),
                    holder.trim()
                ));
            }
        }
        let _ = file.set_len(0);
        let _ = writeln!(file, "pid {}", std::process::id());
        Ok(ProjectLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let a = ProjectLock::acquire(dir.path()).unwrap();
        let e = ProjectLock::acquire(dir.path()).unwrap_err();
        assert!(e.contains("another Limner instance"), "{e}");
        drop(a);
        assert!(
            ProjectLock::acquire(dir.path()).is_ok(),
            "a stale lock file does not block"
        );
    }
}
