//! The editing model, shared by the app, the CLI and the tests (no GUI types).
//!
//! | module | what lives there |
//! |---|---|
//! | [`accept`] | a model mask becomes a new segment or the refined one's shape |
//! | [`history`] | edits as invertible commands with dirty rectangles; undo / redo stacks |
//! | [`paint`] | brush and eraser strokes as edits |
//! | [`polygon_edit`] | vertex edits, holes, snapping index (rstar) |
//! | [`session`] | an open image: document, history, resolved map kept in step, autosave |

pub mod accept;
pub mod history;
pub mod paint;
pub mod polygon_edit;
pub mod session;
