//! The core: no GUI types. The CLI, the tests and the app all use it.
//!
//! | module | what lives there |
//! |---|---|
//! | [`error`] | the one error type: file + field + message |
//! | [`io`] | atomic writes, JSON with field paths, path safety, image limits |
//! | [`geometry`] | pixel convention, polygon fill rule, bit masks, COCO RLE |
//! | [`fill_rule`] | how the readers people train with fill a polygon (OpenCV, PIL, pycocotools) |
//! | [`contour`] | mask -> one pixel-centre walk that OpenCV fills back exactly (YOLO-seg) |
//! | [`document`] | per-image segments and overlap resolution |
//! | [`edit`] | the editing model: invertible edits, undo history, brush, polygon edits, the open image |
//! | [`disagreement`] | current vs gold labels of one image: pixel errors, worst segments |
//! | [`labelmap`] | the resolved label map and its panoptic PNG encoding |
//! | [`lock`] | one writer per project (OS file lock), shared by the app and the CLI |
//! | [`ontology`] | the lean ontology file: stable ids, retire, merge |
//! | [`project`] | the project folder on disk |
//! | [`formats`] | COCO panoptic import / export |
//! | [`vectorize`] | raster -> polygons with holes (exact, simplified) |
//! | [`stroke`] | the one stroke rasterizer (brush, prompt seeds, model guide channels) |
//! | [`qa`] | gold-set comparison (PQ, mIoU, Boundary IoU), agreement, drift, re-review, tags |

pub mod contour;
pub mod disagreement;
pub mod document;
pub mod edit;
pub mod error;
pub mod fill_rule;
pub mod formats;
pub mod geometry;
pub mod io;
pub mod labelmap;
pub mod lock;
pub mod ontology;
pub mod project;
pub mod qa;
pub mod stroke;
pub mod vectorize;
