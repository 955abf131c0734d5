//! kiln: train image classifiers and evaluate them honestly, in one Rust binary, on Burn.
//!
//! This facade re-exports the workspace crates — [`data`], [`models`], [`train`], [`eval`] —
//! and adds [`backend`] (compile-time backends, run-time device choice) and [`cli`] (the
//! `kiln train` flags, shared by the binary and the `mnist` example).
//!
//! ```no_run
//! use clap::Parser;
//! # #[derive(Parser)] struct A { #[command(flatten)] t: kiln::cli::TrainArgs }
//! let args = A::parse();
//! kiln::cli::train(&args.t).expect("training failed");
//! ```

#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod allocator;
pub mod backend;
pub mod cli;
pub mod remote;

pub use kiln_data as data;
pub use kiln_eval as eval;
pub use kiln_models as models;
pub use kiln_train as train;

pub use backend::{Backend, Selected, select};
