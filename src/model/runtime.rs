//! Finding and loading the ONNX Runtime C library (`ort` with `load-dynamic`).
//!
//! Search order: `ORT_DYLIB_PATH`; `libonnxruntime.so*` next to the executable; the
//! `onnxruntime` Python package (its wheel ships `onnxruntime/capi/libonnxruntime.so.1.x`);
//! Limner's cache (`~/.cache/limner/onnxruntime/`). [`fetch`] fills the cache from the
//! PyPI wheel with `pip download`, so no manual setup is needed where Python is present.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::ModelError;

/// The onnxruntime release Limner fetches when none is installed.
pub const ORT_VERSION: &str = "1.32.0";

/// What to tell a user when the library is missing.
pub fn install_hint() -> String {
    format!(
        "ONNX Runtime not found. Install it with `python3 -m pip install onnxruntime=={ORT_VERSION}`, \
         or put libonnxruntime.so next to the limner binary, or set ORT_DYLIB_PATH to its full path."
    )
}

fn is_ort_lib(p: &Path) -> bool {
    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
        n.starts_with("libonnxruntime.so")
            || n == "onnxruntime.dll"
            || n.starts_with("libonnxruntime.") && n.ends_with(".dylib")
    }) && !p
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.contains("providers"))
}

fn find_in(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| is_ort_lib(p) && p.is_file())
        .collect();
    found.sort();
    found.pop()
}

/// Limner's own cache folder for the library.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("limner/onnxruntime")
}

fn python_package_dir() -> Option<PathBuf> {
    let out = Command::new("python3")
        .args(["-c", "import onnxruntime, os; print(os.path.join(os.path.dirname(onnxruntime.__file__), 'capi'))"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// Where the library is, without fetching anything.
pub fn locate() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from)
        && p.is_file()
    {
        return Some(p);
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
        && let Some(p) = find_in(&dir)
    {
        return Some(p);
    }
    if let Some(p) = find_in(&cache_dir()) {
        return Some(p);
    }
    python_package_dir().and_then(|d| find_in(&d))
}

/// Downloads the onnxruntime wheel from PyPI with pip and unpacks its library into
/// [`cache_dir`]. Needs `python3` with `pip`.
pub fn fetch() -> Result<PathBuf, ModelError> {
    let dir = cache_dir();
    let wheel_dir = dir.join("wheel");
    std::fs::create_dir_all(&wheel_dir)
        .map_err(|e| ModelError::RuntimeMissing(format!("{}: {e}", dir.display())))?;
    let status = Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
        ])
        .arg(format!("onnxruntime=={ORT_VERSION}"))
        .arg("-d")
        .arg(&wheel_dir)
        .status()
        .map_err(|e| {
            ModelError::RuntimeMissing(format!(
                "cannot run python3 -m pip ({e}). {}",
                install_hint()
            ))
        })?;
    if !status.success() {
        return Err(ModelError::RuntimeMissing(format!(
            "pip download failed. {}",
            install_hint()
        )));
    }
    // Unpack only the shared library, with Python's zipfile (no extra Rust dependency).
    let script = r#"
import sys, zipfile, glob, os, shutil
wheel = sorted(glob.glob(os.path.join(sys.argv[1], 'onnxruntime-*.whl')))[-1]
with zipfile.ZipFile(wheel) as z:
    for n in z.namelist():
        base = os.path.basename(n)
        if n.startswith('onnxruntime/capi/') and base.startswith('libonnxruntime.so') and 'providers' not in base:
            tmp = os.path.join(sys.argv[2], base + '.part')
            with z.open(n) as src, open(tmp, 'wb') as dst:
                shutil.copyfileobj(src, dst)
            os.replace(tmp, os.path.join(sys.argv[2], base))
"#;
    let status = Command::new("python3")
        .args(["-c", script])
        .arg(&wheel_dir)
        .arg(&dir)
        .status()
        .map_err(|e| {
            ModelError::RuntimeMissing(format!("cannot unpack the wheel ({e}). {}", install_hint()))
        })?;
    let _ = std::fs::remove_dir_all(&wheel_dir);
    match find_in(&dir) {
        Some(p) if status.success() => Ok(p),
        _ => Err(ModelError::RuntimeMissing(install_hint())),
    }
}

/// Opens an ONNX model in a session with `threads` intra-op threads (ONNX Runtime is
/// located or fetched on first use); errors name the model file.
pub fn session(
    model: &std::path::Path,
    threads: usize,
) -> Result<ort::session::Session, ModelError> {
    let env = environment(true)?;
    let inference = |e: String| ModelError::Inference(format!("{}: {e}", model.display()));
    ort::session::Session::builder(env)
        .map_err(|e| inference(e.to_string()))?
        .with_intra_threads(threads)
        .map_err(|e| inference(e.to_string()))?
        .with_inter_threads(1)
        .map_err(|e| inference(e.to_string()))?
        .commit_from_file(model)
        .map_err(|e| inference(e.to_string()))
}

static ENVIRONMENT: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();

/// The process-wide ONNX Runtime environment, loading the library on first use.
/// With `allow_fetch`, a missing library is fetched once from PyPI (see [`fetch`]).
pub fn environment(
    allow_fetch: bool,
) -> Result<&'static ort::environment::Environment, ModelError> {
    let env = ENVIRONMENT.get_or_init(|| {
        let path = match locate() {
            Some(p) => p,
            None if allow_fetch => fetch().map_err(|e| e.to_string())?,
            None => return Err(install_hint()),
        };
        ort::init_from(&path)
            .map_err(|e| format!("{}: {e}. {}", path.display(), install_hint()))?
            .with_name("limner")
            .build()
            .map_err(|e| format!("{}: {e}", path.display()))
    });
    env.as_ref()
        .map_err(|e| ModelError::RuntimeMissing(e.clone()))
}
