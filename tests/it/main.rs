//! kiln's integration tests, as one test binary.
//!
//! Each file of this folder was once its own test crate; every integration test binary links
//! Burn and its backends anew (hundreds of megabytes each), so they are modules of one crate,
//! the usual layout of large Rust workspaces. Shared helpers live in [`common`]. Run one area
//! with a filter: `cargo test --release --features ndarray,wgpu --test it resume::`.

mod common;

mod architectures;
mod backend_matrix;
mod backends;
mod binary;
mod cifar;
mod custom_model;
mod data_resolution;
mod download;
mod end_to_end;
mod export;
mod html_report;
mod image_folder;
mod imbalanced;
mod leakage;
mod pretrained;
mod recipe;
mod remote;
mod resume;
mod runs;
mod settings;
mod uncertainty;
