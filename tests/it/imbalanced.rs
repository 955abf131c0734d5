//! The accuracy-paradox workflow (`examples/imbalanced.rs`) end to end on generated files.

use crate::common;

use clap::Parser;
use kiln::cli::{EvalArgs, ParadoxArgs, accuracy_paradox};

/// `kiln eval`'s flags as a parser.
#[derive(Parser)]
struct EvalCli {
    #[command(flatten)]
    eval: EvalArgs,
}

#[test]
fn a_rare_class_run_reports_what_accuracy_hides_and_reevaluates_the_same_split() {
    let Some(run) = common::cpu_run(1_000, 400) else {
        return;
    };
    let (tmp, art) = (&run.tmp, &run.art);
    let args = ParadoxArgs::parse_from(run.args(
        &["imbalanced"],
        &[
            "--epochs",
            "2",
            "--batch-size",
            "32",
            "--rare-class",
            "3",
            "--rare-fraction",
            "0.1",
            "--paradox-gap",
            "0.25",
        ],
    ));
    let (outcome, text) = accuracy_paradox(&args).unwrap();

    // Class 3 keeps a tenth of its images in the training file and in the test file.
    let support = |r: &kiln::eval::ClassificationReport, label: usize| {
        r.labels
            .iter()
            .position(|&l| l == label)
            .map(|i| r.rows[i].support)
    };
    let rare = support(&outcome.report, 3).unwrap();
    let common_class = support(&outcome.report, 4).unwrap();
    assert!(
        rare >= 1 && rare * 5 < common_class,
        "{rare} vs {common_class}"
    );
    let [train, valid, _] = outcome.sizes;
    assert!(
        train + valid < 1_000 - 70,
        "training pool thinned: {train} + {valid}"
    );

    // The comparison prints the report's own numbers.
    let row = outcome.report.rows[outcome.report.labels.iter().position(|&l| l == 3).unwrap()];
    for (label, value) in [
        ("accuracy", outcome.report.micro.f1),
        ("3 recall", row.recall),
        ("3 precision", row.precision),
        ("macro F1", outcome.report.macro_avg.f1),
        ("weighted F1", outcome.report.weighted.f1),
    ] {
        let line = text
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no `{label}` line in\n{text}"));
        assert!(line.contains(&format!("{value:.4}")), "{line} vs {value}");
    }
    assert!(text.contains(&format!(
        "is {rare} of the {} test images",
        outcome.predictions.len()
    )));
    assert!(text.contains("(best F1)"), "{text}");
    // Lowering the threshold never loses recall.
    let recalls: Vec<f64> = text
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("t "))
        .skip(1)
        .take(9)
        .map(|l| l.split_whitespace().nth(2).unwrap().parse().unwrap())
        .collect();
    assert_eq!(recalls.len(), 9, "{text}");
    assert!(recalls.windows(2).all(|w| w[0] <= w[1]), "{recalls:?}");
    for stem in common::FIGURES_CLASS_3 {
        assert!(
            art.join("plots").join(format!("{stem}.png")).is_file(),
            "{stem}"
        );
    }

    // `kiln eval` rebuilds the same imbalanced test split from config.json.
    let out = tmp.path().join("re");
    let eval_with = |extra: &[&str]| {
        let backend = run.backend.to_string();
        let mut args = vec![
            "eval",
            "--artifact-dir",
            art.to_str().unwrap(),
            "--backend",
            &backend,
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        kiln::cli::eval(
            &kiln::train::Registry::builtin(),
            &EvalCli::parse_from(args).eval,
        )
        .unwrap()
    };
    let eval = eval_with(&["--format", "csv"]);
    assert_eq!(eval.report, outcome.report);

    // The diagnostics cover the training set and the decision boundary too, and `kiln eval`
    // recomputes them (the training curves from metrics.csv) — hence the equality above.
    let diagnostics = outcome.report.diagnostics();
    let kinds: Vec<&str> = diagnostics.iter().map(|d| d.kind).collect();
    assert!(kinds.contains(&"decision_boundary"), "{kinds:?}");
    let imbalances: Vec<&str> = diagnostics
        .iter()
        .filter(|d| d.kind == "imbalance")
        .map(|d| d.message.as_str())
        .collect();
    assert!(
        imbalances.iter().any(|m| m.starts_with("the test set")),
        "{imbalances:?}"
    );
    assert!(
        imbalances.iter().any(|m| m.starts_with("the training set")),
        "{imbalances:?}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(art.join("eval.json")).unwrap()).unwrap();
    assert_eq!(
        json["diagnostics"].as_array().unwrap().len(),
        diagnostics.len()
    );

    // A threshold given to `kiln eval` replaces the run's: a ratio of 100 silences imbalance.
    let relaxed = eval_with(&["--imbalance-ratio", "100"]);
    assert_eq!(relaxed.report.thresholds.imbalance_ratio, 100.0);
    assert_eq!(
        relaxed.report.thresholds.paradox_gap, 0.25,
        "the run's other thresholds stay"
    );
    assert!(
        relaxed
            .report
            .diagnostics()
            .iter()
            .all(|d| d.kind != "imbalance")
    );
}

#[test]
fn diagnostic_thresholds_are_flags_recorded_in_the_run_config() {
    let args = TrainCli::parse_from(["train", "--paradox-gap", "0.3", "--loss-rise", "0.1"]);
    let config = args.train.run_config().unwrap();
    assert_eq!(config.diagnostics.paradox_gap, 0.3);
    assert_eq!(config.diagnostics.loss_rise, 0.1);
    assert_eq!(
        config.diagnostics.baseline_margin, 0.05,
        "the others keep their defaults"
    );
    let bad = TrainCli::parse_from(["train", "--imbalance-ratio", "0.5"]);
    let err = bad.train.run_config().unwrap_err().to_string();
    assert_eq!(err, "--imbalance-ratio: must be a number ≥ 1, got 0.5");
}

/// `kiln train`'s flags as a parser.
#[derive(Parser)]
struct TrainCli {
    #[command(flatten)]
    train: kiln::cli::TrainArgs,
}

/// `--stratify` draws the validation split per class: a rare class gets its proportional share
/// (largest remainders). `Splits::load` is what `kiln eval` runs on the recorded config.
#[test]
fn a_stratified_validation_split_keeps_the_rare_class_share() {
    let Some(run) = common::cpu_run(1_000, 100) else {
        return;
    };
    // The run's validation split with the rare class thinned, and `extra` flags.
    let split = |extra: &[&str]| {
        let flags = [
            &[
                "--rare-class",
                "3",
                "--rare-fraction",
                "0.1",
                "--valid-size",
                "200",
            ],
            extra,
        ]
        .concat();
        let args = TrainCli::parse_from(run.args(&["train"], &flags));
        let config = args.train.run_config().unwrap().with_model(());
        assert_eq!(config.stratify, extra.contains(&"--stratify"));
        kiln::train::Splits::load(&config).unwrap()
    };
    let splits = split(&["--stratify"]);
    let pool: Vec<usize> = splits
        .train
        .class_counts()
        .iter()
        .zip(splits.valid.class_counts())
        .map(|(t, v)| t + v)
        .collect();
    let total: usize = pool.iter().sum();
    let valid = splits.valid.class_counts();
    assert_eq!(valid.iter().sum::<usize>(), 200);
    for (c, (&n, &v)) in pool.iter().zip(&valid).enumerate() {
        let share = 200.0 * n as f64 / total as f64;
        assert!(
            (v as f64 - share).abs() < 1.0,
            "class {c}: {v} of {n} in validation, proportional share {share:.2}"
        );
    }
    let plain = split(&[]);
    assert_ne!(plain.valid.labels(), splits.valid.labels());
}

#[test]
fn schedule_flags_build_the_recorded_schedule() {
    use kiln::train::LrSchedule;
    let schedule = |flags: &[&str]| {
        let mut args = vec!["train"];
        args.extend_from_slice(flags);
        TrainCli::parse_from(args)
            .train
            .run_config()
            .map(|c| c.training.schedule)
            .map_err(|e| e.to_string())
    };
    assert_eq!(
        schedule(&[]).unwrap(),
        LrSchedule::WarmupCosine {
            warmup_steps: 100,
            min_ratio: 0.0
        }
    );
    assert_eq!(schedule(&["--constant-lr"]).unwrap(), LrSchedule::Constant);
    assert_eq!(
        schedule(&["--schedule", "constant", "--warmup-steps", "50"]).unwrap(),
        LrSchedule::WarmupConstant { warmup_steps: 50 }
    );
    assert_eq!(
        schedule(&[
            "--schedule",
            "step",
            "--lr-step-epochs",
            "2",
            "--lr-gamma",
            "0.3"
        ])
        .unwrap(),
        LrSchedule::Step {
            warmup_steps: 0,
            step_epochs: 2,
            gamma: 0.3
        }
    );
    assert_eq!(
        schedule(&["--schedule", "multistep", "--lr-milestones", "3,6"]).unwrap(),
        LrSchedule::MultiStep {
            warmup_steps: 0,
            milestones: vec![3, 6],
            gamma: 0.1
        }
    );
    assert_eq!(
        schedule(&["--schedule", "onecycle"]).unwrap(),
        LrSchedule::ONE_CYCLE
    );
    let err = schedule(&["--schedule", "multistep"]).unwrap_err();
    assert!(err.starts_with("--lr-milestones:"), "{err}");
    let err = schedule(&["--lr-milestones", "30,60"]).unwrap_err();
    assert_eq!(
        err,
        "--lr-milestones: applies to --schedule [Multistep] only"
    );
    let err = schedule(&["--schedule", "onecycle", "--warmup-steps", "5"]).unwrap_err();
    assert!(err.starts_with("--warmup-steps:"), "{err}");
}
