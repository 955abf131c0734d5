//! `kiln compare A B`: is run B really better than run A? Two runs' predictions on the same
//! test images, compared by McNemar's exact test and paired bootstrap intervals
//! ([`kiln_eval::compare`]).

use std::path::{Path, PathBuf};

use kiln_data::ImageDataset;
use kiln_eval::compare::{Comparison, compare};
use kiln_eval::{Bootstrap, ClassSet, LabeledPredictions, read_predictions_csv};
use kiln_train::{RunConfig, Splits, artifacts, read_run_config};

use super::error::CliError;

/// Output format of `kiln compare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompareFormat {
    /// Both runs' figures, the differences with intervals, the verdict.
    Text,
    /// The comparison as JSON.
    Json,
    /// The comparison as Markdown.
    Markdown,
}

/// Flags of `kiln compare`.
#[derive(Debug, Clone, clap::Args)]
pub struct CompareArgs {
    /// Run A: a `kiln train` artifact directory, or a predictions CSV (`label`, `prediction`,
    /// optional `path` and `score_<class>` columns).
    #[arg(value_name = "A")]
    pub a: PathBuf,
    /// Run B, the same way; the differences are B − A.
    #[arg(value_name = "B")]
    pub b: PathBuf,
    /// What to print.
    #[arg(long, value_enum, default_value = "text")]
    pub format: CompareFormat,
    /// Paired bootstrap resamples.
    #[arg(long, value_name = "N", default_value_t = kiln_eval::bootstrap::DEFAULT_RESAMPLES)]
    pub bootstrap: usize,
    /// Seed of the bootstrap.
    #[arg(long, value_name = "SEED", default_value_t = 0)]
    pub bootstrap_seed: u64,
    /// Also write the JSON here (refused if the file exists).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// What identifies the samples a side was evaluated on.
enum Samples {
    /// A hash of each of a run's test images, read again from its dataset.
    Images(Vec<u64>),
    /// The image files a predictions CSV names.
    Paths(Vec<String>),
    /// Nothing but the labels.
    Unnamed,
}

/// One side of a comparison: its predictions and what they were made on.
pub(crate) struct Side {
    name: String,
    classes: Vec<String>,
    truth: Vec<usize>,
    predicted: Vec<usize>,
    samples: Samples,
}

impl Side {
    /// A run's artifact directory (its `predictions.csv`, checked against its test split read
    /// again) or a predictions CSV.
    pub(crate) fn load(path: &Path) -> Result<Self, CliError> {
        if path.is_dir() {
            let dir = super::the_run(path)?;
            let config: RunConfig<serde_json::Value> = read_run_config(&dir)?;
            return Self::of_dir(&dir, &config);
        }
        let p = read_predictions_csv(path, &ClassSet::Infer)?;
        Ok(Self {
            name: path.display().to_string(),
            classes: p.classes,
            truth: p.y_true,
            predicted: p.y_pred,
            samples: p.paths.map_or(Samples::Unnamed, Samples::Paths),
        })
    }

    /// The run in `dir` configured by `config`: its `predictions.csv` against its test split
    /// read again.
    fn of_dir(dir: &Path, config: &RunConfig<serde_json::Value>) -> Result<Self, CliError> {
        let classes = config.class_names();
        let csv = dir.join(artifacts::PREDICTIONS);
        let p = read_predictions_csv(&csv, &ClassSet::Count(classes.len()))?;
        let test = Splits::load(config)?.test;
        Self::of_run(dir, classes, p, &test)
    }

    /// The run in `dir` with these `classes`, predictions `p` (its `predictions.csv`) and test
    /// split `test`, checked to be the images the predictions were made on.
    pub(crate) fn of_run(
        dir: &Path,
        classes: Vec<String>,
        p: LabeledPredictions,
        test: &ImageDataset,
    ) -> Result<Self, CliError> {
        check_test_split(dir, &p.y_true, test)?;
        let hash = |i: usize| {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            test.image(i).hash(&mut h);
            h.finish()
        };
        let images = (0..test.len()).map(hash).collect();
        Ok(Self {
            name: dir.display().to_string(),
            classes,
            truth: p.y_true,
            predicted: p.y_pred,
            samples: Samples::Images(images),
        })
    }
}

/// Refuses predictions whose labels are not, in order, those of the run's `test` split read now
/// (the data changed since the run).
pub(crate) fn check_test_split(
    dir: &Path,
    truth: &[usize],
    test: &ImageDataset,
) -> Result<(), CliError> {
    let same = truth.len() == test.len()
        && (truth.iter().zip(test.labels())).all(|(&y, &l)| y == usize::from(l));
    match same {
        true => Ok(()),
        false => Err(refused(
            "--artifact-dir",
            format!(
                "{}: its {} rows do not match the {} test images read now (their labels \
                 differ): the data changed since the run",
                dir.join(artifacts::PREDICTIONS).display(),
                truth.len(),
                test.len()
            ),
        )),
    }
}

fn refused(flag: &'static str, message: String) -> CliError {
    CliError::Flag { flag, message }
}

/// Compares `a` and `b` after checking that they hold the same samples: the same classes, the
/// same labels in the same order, and — when both say what they were made on — the same images;
/// a refusal names `flag` (`kiln compare`, `--compare`) and both sides.
pub(crate) fn compare_sides(
    a: Side,
    b: Side,
    bootstrap: Bootstrap,
    flag: &'static str,
) -> Result<Comparison, CliError> {
    let refused = |why: String| refused(flag, format!("A = {}, B = {}: {why}", a.name, b.name));
    if a.classes != b.classes {
        return Err(refused(format!(
            "A has the classes [{}], B [{}]: not the same task",
            a.classes.join(", "),
            b.classes.join(", ")
        )));
    }
    if a.truth.len() != b.truth.len() {
        return Err(refused(format!(
            "A holds {} samples, B {}: not the same test set",
            a.truth.len(),
            b.truth.len()
        )));
    }
    if let Some(i) = (0..a.truth.len()).find(|&i| a.truth[i] != b.truth[i]) {
        return Err(refused(format!(
            "sample {i} is labelled `{}` in A and `{}` in B: not the same test set in the same \
             order",
            a.classes[a.truth[i]], b.classes[b.truth[i]]
        )));
    }
    let differ = match (&a.samples, &b.samples) {
        (Samples::Images(x), Samples::Images(y)) => (0..x.len())
            .find(|&i| x[i] != y[i])
            .map(|i| format!("test image {i} differs")),
        (Samples::Paths(x), Samples::Paths(y)) => (0..x.len())
            .find(|&i| x[i] != y[i])
            .map(|i| format!("row {i} is `{}` in A and `{}` in B", x[i], y[i])),
        _ => {
            eprintln!(
                "note: compared by labels only (the same {} labels in the same order): a \
                 predictions CSV without a `path` column does not say which images it holds",
                a.truth.len()
            );
            None
        }
    };
    if let Some(why) = differ {
        return Err(refused(format!("not the same test images: {why}")));
    }
    Ok(compare(
        [a.name, b.name],
        &a.truth,
        &a.predicted,
        &b.predicted,
        &a.classes,
        bootstrap,
    )?)
}

/// Loads both sides, compares them, prints the result and writes `--json`.
pub fn compare_runs(args: &CompareArgs) -> Result<Comparison, CliError> {
    let bootstrap =
        Bootstrap::new(args.bootstrap, args.bootstrap_seed).map_err(|e| CliError::Flag {
            flag: "--bootstrap",
            message: e.to_string(),
        })?;
    if let Some(path) = args.json.as_ref().filter(|p| p.exists()) {
        return Err(CliError::Flag {
            flag: "--json",
            message: format!(
                "{} exists; kiln compare does not replace files",
                path.display()
            ),
        });
    }
    let (a, b) = (Side::load(&args.a)?, Side::load(&args.b)?);
    let comparison = compare_sides(a, b, bootstrap, "kiln compare")?;
    let json = format!("{:#}", comparison.to_json());
    if let Some(path) = &args.json {
        std::fs::write(path, format!("{json}\n")).map_err(|source| kiln_eval::EvalError::Io {
            path: path.clone(),
            source,
        })?;
    }
    match args.format {
        CompareFormat::Text => print!("{}", comparison.to_text()),
        CompareFormat::Json => println!("{json}"),
        CompareFormat::Markdown => print!("{}", comparison.to_markdown()),
    }
    Ok(comparison)
}
