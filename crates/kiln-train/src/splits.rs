//! A run's data policy: its dataset loaded and split the same way every time — for training,
//! for `kiln eval`, for a replay.

use std::path::PathBuf;

use kiln_data::leakage::{LeakageOptions, Overlap, check_splits, find_duplicates};
use kiln_data::{
    DatasetFiles, DatasetSource, ImageDataset, Normalization, Resolver, keep_class_fraction,
};

use crate::config::RunConfig;
use crate::error::TrainError;
use crate::eval_split::EvalSplit;
use crate::plan::ConfigError;

/// A run's dataset, loaded and split.
#[derive(Debug, Clone)]
pub struct Splits {
    /// The dataset, resolved (an image folder's class names and normalization filled in).
    pub dataset: DatasetSource,
    /// Class names, indexed by label.
    pub class_names: Vec<String>,
    /// The normalization constants.
    pub normalization: Normalization,
    /// Image files left out as unreadable, with why.
    pub skipped: Vec<(PathBuf, String)>,
    /// Validation and test images duplicating training images, and test images duplicating
    /// validation images, before `dedupe` (empty unless asked for).
    pub leakage: Vec<Overlap>,
    /// Training images dropped by `dedupe`.
    pub deduped: usize,
    /// The files read.
    pub files: DatasetFiles,
    /// Training images.
    pub train: ImageDataset,
    /// Validation images.
    pub valid: ImageDataset,
    /// Test images.
    pub test: ImageDataset,
    /// The validation size used.
    pub valid_len: usize,
}

impl Splits {
    /// Loads the dataset of `config` and splits it as [`crate::run`] does: the first `limit`
    /// images of each file (of an image folder, which is stored class by class, a seeded
    /// stratified sample of `limit`), thinned to the rare-class fraction if asked, then a
    /// validation set drawn from the training file by a shuffle seeded with the training seed
    /// (per class, in proportion to the class sizes, with `stratify`); with `dedupe`, the
    /// training images that duplicate a validation or test image are dropped.
    pub fn load<A>(config: &RunConfig<A>) -> Result<Self, TrainError> {
        Self::load_checked(config, false)
    }

    /// [`Self::load`], with the leakage report of the splits before any `dedupe` when
    /// `report` is set (and always with `dedupe`).
    pub fn load_checked<A>(config: &RunConfig<A>, report: bool) -> Result<Self, TrainError> {
        let resolver = Resolver::from_env(config.data_dir.clone(), config.offline);
        let data = kiln_data::load_source(&config.dataset, &resolver)?;
        let seed = config.training.seed;
        let limit = |d: ImageDataset| -> Result<ImageDataset, TrainError> {
            Ok(match (config.limit, &config.dataset) {
                (Some(n), DatasetSource::Folder(_)) if n < d.len() => {
                    kiln_data::stratified_split(&d, n, seed)?.1
                }
                (Some(n), _) => d.truncate(n),
                (None, _) => d,
            })
        };
        let (mut pool, mut test) = (limit(data.train)?, limit(data.test)?);
        if let Some(rare) = config.rare_class {
            pool = keep_class_fraction(&pool, rare.class, rare.fraction, seed)?;
            test = keep_class_fraction(&test, rare.class, rare.fraction, seed.wrapping_add(1))?;
        }
        if let Some(c) = config.positive_class {
            if c >= pool.num_classes() {
                return Err(ConfigError::rule(
                    "positive_class",
                    format!(
                        "class {c} is not a class of {} ({} classes)",
                        config.dataset.name(),
                        pool.num_classes()
                    ),
                )
                .into());
            }
            (pool, test) = (pool.one_vs_rest(c), test.one_vs_rest(c));
        }
        if config.binary_head.is_some() && pool.num_classes() != 2 {
            return Err(ConfigError::rule(
                "binary_head",
                format!(
                    "needs a two-class task: {} has {} classes (set positive_class)",
                    config.dataset.name(),
                    pool.num_classes()
                ),
            )
            .into());
        }
        let valid_len = config.valid_len(pool.len());
        let (mut train, valid) = match config.stratify {
            true => kiln_data::stratified_split(&pool, valid_len, config.training.seed)?,
            false => pool.split_validation(valid_len, config.training.seed)?,
        };
        let options = LeakageOptions::default();
        let leakage = match report || config.dedupe {
            true => check_splits(&train, &valid, &test, &options),
            false => Vec::new(),
        };
        let mut deduped = 0;
        if config.dedupe {
            let mut drop = vec![false; train.len()];
            for other in [("valid", &valid), ("test", &test)] {
                for i in find_duplicates(("train", &train), other, &options).query_indices() {
                    drop[i] = true;
                }
            }
            let keep: Vec<usize> = (0..train.len()).filter(|&i| !drop[i]).collect();
            deduped = train.len() - keep.len();
            train = train.select(&keep);
        }
        Ok(Self {
            leakage,
            deduped,
            dataset: data.source,
            class_names: config.class_names(),
            normalization: data.normalization,
            skipped: data.skipped,
            files: data.files,
            train,
            valid,
            test,
            valid_len,
        })
    }

    /// The images of `split`.
    pub fn get(&self, split: EvalSplit) -> &ImageDataset {
        match split {
            EvalSplit::Train => &self.train,
            EvalSplit::Valid => &self.valid,
            EvalSplit::Test => &self.test,
        }
    }
}
