//! Standard output that survives a closed pipe (`limner qa stats P | head`): once the
//! reader is gone, the rest of the output is dropped quietly and the command still
//! finishes its work and exits with its own status, as ripgrep does. Rust's `print!`
//! would panic there, exit 101 and hide a write that had already succeeded.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static CLOSED: AtomicBool = AtomicBool::new(false);
/// A write failed for another reason than a closed pipe (a full disk under `> file`).
static FAILED: AtomicBool = AtomicBool::new(false);

/// Flushes stdout and tells whether any output was lost to an error other than a closed
/// pipe: then the command must not report success.
pub fn failed() -> bool {
    if !CLOSED.load(Ordering::Relaxed)
        && let Err(e) = std::io::stdout().flush()
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("error: stdout: {e}");
        FAILED.store(true, Ordering::Relaxed);
    }
    FAILED.load(Ordering::Relaxed)
}

/// Writes to stdout unless it has been closed; any write error closes it for good.
pub fn write(args: std::fmt::Arguments, newline: bool) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    let r = out.write_fmt(args).and_then(|()| {
        if newline {
            out.write_all(b"\n")
        } else {
            Ok(())
        }
    });
    if let Err(e) = r {
        CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: stdout: {e}");
            FAILED.store(true, Ordering::Relaxed);
        }
    }
}

/// `println!` for the command line, quiet on a closed pipe.
macro_rules! outln {
    () => { $crate::cli::output::write(format_args!(""), true) };
    ($($t:tt)*) => { $crate::cli::output::write(format_args!($($t)*), true) };
}

/// `print!` for the command line, quiet on a closed pipe.
macro_rules! out {
    ($($t:tt)*) => { $crate::cli::output::write(format_args!($($t)*), false) };
}
