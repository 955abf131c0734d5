//! Datasets for kiln.
//!
//! - [`augment`]: seeded training-time augmentation pipelines (torchvision's transforms and
//!   policies); [`mix`]: Mixup and CutMix of a batch, with soft targets.
//! - [`cifar`]: CIFAR-10/100 binary records, from the extracted directory or the `.tar.gz`.
//! - [`folder`]: image folders (`root/<class>/<image>`), torchvision's `ImageFolder` layout.
//! - [`idx`]: the one IDX reader (raw or `.gz`), validating magic, rank, dimensions, length and
//!   label range, with typed [`DataError`]s that name the file.
//! - [`spec`]: datasets as data — [`DatasetSpec`] tables for MNIST, Fashion-MNIST, KMNIST,
//!   CIFAR-10 and CIFAR-100.
//! - [`resolve`]: where files come from ([`Resolver`]), in a fixed order ending in a verified
//!   download (feature `download`).
//! - [`ImageDataset`]: `u8` images in memory, seeded validation split; [`Batcher`] builds one
//!   normalized `[batch, channels, height, width]` tensor per batch; [`Loader`] builds them on
//!   worker threads ahead of the model.
//! - [`leakage`]: exact and near-duplicate images across splits.
//! - [`source`]: what a run reads — a named dataset or an image folder ([`DatasetSource`]).
//!
//! [`load`] does it all for a named dataset, [`load_source`] for either kind.
//!
//! A dataset in memory (what every loader produces), its class balance and a seeded validation
//! split:
//!
//! ```
//! use kiln_data::{ImageDataset, ImageShape};
//!
//! let shape = ImageShape { channels: 1, height: 2, width: 2 };
//! let pixels = (0..6 * 4).map(|i| (i * 10) as u8).collect();
//! let labels = vec![0, 1, 0, 1, 0, 1];
//! let data = ImageDataset::new(shape, 2, pixels, labels)?;
//! assert_eq!(data.class_counts(), [3, 3]);
//! let (train, valid) = data.split_validation(2, 42)?;
//! assert_eq!((train.len(), valid.len()), (4, 2));
//! # Ok::<(), kiln_data::DataError>(())
//! ```

#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod augment;
mod batch;
mod checksum;
pub mod cifar;
#[cfg(feature = "download")]
mod download;
mod error;
pub mod folder;
pub mod idx;
mod images;
mod imbalance;
mod inspect;
pub mod leakage;
mod load;
mod loader;
pub mod mix;
mod preprocess;
pub mod resolve;
mod rng;
pub mod source;
pub mod spec;

pub use batch::{
    Batch, Batcher, HostBatch, Normalization, balanced_class_weights, epoch_batches,
    weighted_epoch_batches,
};
pub use checksum::{Checksum, sha256_file, verify_sha256};
#[cfg(feature = "download")]
pub use download::download_file;
pub use error::{CifarProblem, DataError, IdxProblem};
pub use images::{ImageDataset, ImageShape};
pub use imbalance::{keep_class_fraction, keep_class_fractions, stratified_split};
pub use inspect::{ChecksumStatus, FileCheck, check_files, class_balance_table};
pub use load::{LoadedDataset, load, load_source};
pub use loader::{Batches, Loader};
pub use preprocess::{IMAGENET_MEAN, IMAGENET_STD, Preprocess};
pub use resolve::{DatasetFiles, Resolver, Source};
pub use rng::SplitMix64;
pub use source::{DatasetSource, FolderSource};
pub use spec::{DatasetFormat, DatasetName, DatasetSpec, FileSpec, Split};
