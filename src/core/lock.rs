//! One writer at a time per project: an OS file lock on `<project>/.limner.lock`.
//!
//! The app holds it for as long as a project is open; a command-line writer (`tags`,
//! `gold`, `qa relabel`, `validate --repair`) holds it for the length of its
//! read-modify-write, so two writers never interleave and no update is lost. The OS drops
//! the lock when the process dies, so a stale lock (after a crash or kill -9) never blocks
//! the next writer; the file's text only says who holds it.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use super::error::{Error, Result};

/// Lock file name inside the project.
pub const LOCK_FILE: &str = ".limner.lock";

/// Who takes the lock: the app keeps it for a whole session, a command for one write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    App,
    Command,
}

/// Held for as long as the holder may write the project.
#[derive(Debug)]
pub struct ProjectLock {
    _file: File,
}

impl ProjectLock {
    /// Takes the lock now, or says who holds it.
    pub fn acquire(root: &Path, writer: Writer, what: &str) -> Result<ProjectLock> {
        Self::acquire_within(root, writer, what, Duration::ZERO)
    }

    /// Takes the lock, waiting up to `wait` while another command holds it (commands are
    /// short); held by the app, it is refused at once, since the app holds it until closed.
    pub fn acquire_within(
        root: &Path,
        writer: Writer,
        what: &str,
        wait: Duration,
    ) -> Result<ProjectLock> {
        let path = root.join(LOCK_FILE);
        let opened = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path);
        // A lock file made by a teammate may be read-only to us: lock it all the same
        // (an OS lock needs no write access), only without our name in it.
        let (mut file, writable) = match opened {
            Ok(f) => (f, true),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => (
                std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?,
                false,
            ),
            Err(e) => return Err(Error::io(&path, e)),
        };
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {
                    let holder = std::fs::read_to_string(&path).unwrap_or_default();
                    let holder = holder.trim();
                    let by_app = holder.starts_with(APP_TAG);
                    if by_app || start.elapsed() >= wait {
                        return Err(Error::Locked {
                            path: root.to_path_buf(),
                            holder: if holder.is_empty() {
                                "another Limner process".into()
                            } else {
                                holder.to_string()
                            },
                        });
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&path, e)),
            }
        }
        if !writable {
            return Ok(ProjectLock { _file: file });
        }
        let _ = file.set_len(0);
        let tag = match writer {
            Writer::App => APP_TAG,
            Writer::Command => "command",
        };
        let _ = writeln!(
            file,
            "{tag} {what} (pid {}, user {}, since {})",
            std::process::id(),
            super::qa::user_name(None),
            jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M:%S UTC"),
        );
        let _ = file.sync_data();
        Ok(ProjectLock { _file: file })
    }
}

const APP_TAG: &str = "the Limner app";

/// How long a command waits for another command's write: `$LIMNER_LOCK_WAIT` seconds,
/// 30 by default.
pub fn command_wait() -> Duration {
    let secs = std::env::var("LIMNER_LOCK_WAIT")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(30.0);
    Duration::from_secs_f64(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_with_the_holder_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let a = ProjectLock::acquire(dir.path(), Writer::App, "(editing)").unwrap();
        let e = ProjectLock::acquire_within(
            dir.path(),
            Writer::Command,
            "tags set",
            Duration::from_secs(5),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("the Limner app"), "{e}");
        assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
        drop(a);
        assert!(
            ProjectLock::acquire(dir.path(), Writer::App, "(editing)").is_ok(),
            "a stale lock file does not block"
        );
    }

    #[test]
    fn a_command_waits_for_another_command() {
        let dir = tempfile::tempdir().unwrap();
        let a = ProjectLock::acquire(dir.path(), Writer::Command, "gold").unwrap();
        let root = dir.path().to_path_buf();
        let t = std::thread::spawn(move || {
            let start = Instant::now();
            let l = ProjectLock::acquire_within(
                &root,
                Writer::Command,
                "tags set",
                Duration::from_secs(10),
            );
            (l.is_ok(), start.elapsed())
        });
        std::thread::sleep(Duration::from_millis(300));
        drop(a);
        let (ok, waited) = t.join().unwrap();
        assert!(ok, "the second command got the lock once the first let go");
        assert!(
            waited >= Duration::from_millis(250),
            "it waited: {waited:?}"
        );
    }
}
