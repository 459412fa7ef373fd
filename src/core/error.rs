//! The one error type of the core. Every variant names the file it concerns, and where
//! a field is at fault, the field (as a JSON path such as `segments[3].category_id`).

use std::path::{Path, PathBuf};

/// Result alias used across the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors of the core: always with the file, and the field when one is at fault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed at the OS level.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file is not valid JSON, or does not match the schema.
    #[error("{path}: field `{field}`: {message}")]
    Json {
        path: PathBuf,
        field: String,
        message: String,
    },
    /// A value parsed but breaks a rule (unknown id, duplicate, bad color, unsafe path, ...).
    #[error("{path}: field `{field}`: {message}")]
    Invalid {
        path: PathBuf,
        field: String,
        message: String,
    },
    /// Another writer has the project (the app, or a command that waited too long).
    #[error(
        "{path} is open for writing by {holder}; try again when it is done (in the app: close the project there)"
    )]
    Locked { path: PathBuf, holder: String },
    /// An image could not be decoded or exceeds the documented limits.
    #[error("{path}: image: {message}")]
    Image { path: PathBuf, message: String },
}

impl Error {
    /// An I/O error about `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// A rule broken by the value at `field` of `path`.
    pub fn invalid(
        path: impl AsRef<Path>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::Invalid {
            path: path.as_ref().to_path_buf(),
            field: field.into(),
            message: message.into(),
        }
    }

    /// An image problem with `path`.
    pub fn image(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        Error::Image {
            path: path.as_ref().to_path_buf(),
            message: message.into(),
        }
    }
}
