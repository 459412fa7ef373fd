//! Limner: pixel-accurate image segmentation labeling.
//!
//! Data flows one way: image + prompts -> predictor -> mask -> segment -> document ->
//! resolved label map -> view / export.
//!
//! | module | what lives there |
//! |---|---|
//! | [`core`] | document, geometry, ontology, project I/O, formats (no GUI types) |
//! | [`model`] | the `MaskPredictor` trait, ONNX runtime, backends, NoC benchmark |
//! | [`cli`] | subcommands mapped to core calls |
//! | [`app`] | the egui desktop app |

pub mod app;
pub mod cli;
pub mod core;
pub mod model;
