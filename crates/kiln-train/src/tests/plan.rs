use std::path::PathBuf;

use super::*;
use crate::config::{Pretrained, RareClass, Sampler};
use kiln_eval::diagnostics::DiagnosticThresholds;

/// A valid Fashion-MNIST run with a monitor, extra metrics and SGD.
fn valid() -> RunConfig<()> {
    RunConfig {
        dataset: kiln_data::DatasetName::FashionMnist.into(),
        data_dir: None,
        offline: true,
        limit: Some(100),
        valid_size: None,
        architecture: "mnist-cnn".into(),
        model: (),
        training: TrainingConfig::new()
            .with_optimizer(OptimizerConfig::Sgd {
                momentum: 0.9,
                nesterov: true,
                weight_decay: 5e-4,
            })
            .with_sampler(Sampler::Shuffle),
        artifact_dir: PathBuf::from("out"),
        backend: None,
        metrics: vec!["macro_f1".into(), "recall:Shirt".into()],
        monitor: Some(MonitorConfig {
            metric: "valid_recall:Shirt".into(),
            mode: None,
            early_stopping_patience: Some(2),
            min_delta: 0.0,
            save_best: true,
        }),
        rare_class: Some(RareClass {
            class: 6,
            fraction: 0.1,
        }),
        stratify: false,
        leakage_check: true,
        dedupe: false,
        diagnostics: DiagnosticThresholds::default(),
        pretrained: None::<Pretrained>,
        keep_checkpoints: 0,
        devices: 1,
        device_list: Vec::new(),
        replica_norm: Default::default(),
        positive_class: None,
        binary_head: None,
        tensorboard: true,
        evaluation: Default::default(),
    }
}

/// The field `plan` names for `config`, which must be refused.
fn refused(config: RunConfig<()>) -> String {
    match config.plan() {
        Ok(_) => panic!("planned: {config:?}"),
        Err(e) => e.field,
    }
}

#[test]
fn a_valid_run_is_planned_with_its_names_parsed() {
    let config = valid();
    let plan = config.plan().unwrap();
    assert_eq!(plan.class_names.len(), 10);
    let names: Vec<&str> = plan.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["macro_f1", "recall:Shirt"]);
    let (monitor, settings) = plan.monitor.unwrap();
    assert_eq!(monitor.name, "valid_recall:Shirt");
    assert_eq!(settings.early_stopping_patience, Some(2));
}

#[test]
fn every_invalid_setting_is_refused_by_its_path_in_config_json() {
    type Edit = fn(&mut RunConfig<()>);
    fn sgd(c: &mut RunConfig<()>, momentum: f64) {
        c.training.optimizer = OptimizerConfig::Sgd {
            momentum,
            nesterov: false,
            weight_decay: 0.0,
        }
    }
    fn adam(c: &mut RunConfig<()>, beta_1: f32, epsilon: f32, weight_decay: f32) {
        c.training.optimizer = OptimizerConfig::Adam {
            beta_1,
            beta_2: 0.999,
            epsilon,
            weight_decay,
        }
    }
    let cases: Vec<(Edit, &str)> = vec![
        (|c| c.training.lr = -1.0, "training.lr"),
        (|c| c.training.lr = 0.0, "training.lr"),
        (|c| c.training.lr = f64::NAN, "training.lr"),
        (|c| c.training.lr = f64::INFINITY, "training.lr"),
        (|c| c.training.epochs = 0, "training.epochs"),
        (|c| c.training.batch_size = 0, "training.batch_size"),
        (
            |c| c.training.grad_accumulation = 0,
            "training.grad_accumulation",
        ),
        (|c| sgd(c, 1.0), "training.optimizer.momentum"),
        (|c| sgd(c, 2.0), "training.optimizer.momentum"),
        (|c| sgd(c, -0.1), "training.optimizer.momentum"),
        (
            |c| {
                c.training.optimizer = OptimizerConfig::Sgd {
                    momentum: 0.0,
                    nesterov: true,
                    weight_decay: 0.0,
                }
            },
            "training.optimizer.nesterov",
        ),
        (|c| adam(c, 7.0, 1e-5, 0.0), "training.optimizer.beta_1"),
        (|c| adam(c, 1.0, 1e-5, 0.0), "training.optimizer.beta_1"),
        (|c| adam(c, -0.5, 1e-5, 0.0), "training.optimizer.beta_1"),
        (|c| adam(c, 0.9, 0.0, 0.0), "training.optimizer.epsilon"),
        (
            |c| adam(c, 0.9, 1e-5, -0.01),
            "training.optimizer.weight_decay",
        ),
        (
            |c| c.training.grad_clipping = Some(GradClipping::Norm(0.0)),
            "training.grad_clipping.max",
        ),
        (
            |c| c.training.label_smoothing = Some(1.0),
            "training.label_smoothing",
        ),
        (
            |c| c.training.label_smoothing = Some(-0.1),
            "training.label_smoothing",
        ),
        (
            |c| c.training.class_weights = Some(ClassWeights::Values(vec![1.0; 3])),
            "training.class_weights",
        ),
        (
            |c| {
                let mut w = vec![1.0; 10];
                w[4] = 0.0;
                c.training.class_weights = Some(ClassWeights::Values(w));
            },
            "training.class_weights[4]",
        ),
        (
            |c| {
                c.training.schedule = LrSchedule::Step {
                    warmup_steps: 0,
                    step_epochs: 0,
                    gamma: 0.1,
                }
            },
            "training.schedule.step_epochs",
        ),
        (
            |c| {
                c.training.schedule = LrSchedule::MultiStep {
                    warmup_steps: 0,
                    milestones: vec![3],
                    gamma: -1.0,
                }
            },
            "training.schedule.gamma",
        ),
        (
            |c| {
                c.training.schedule = LrSchedule::MultiStep {
                    warmup_steps: 0,
                    milestones: vec![],
                    gamma: 0.1,
                }
            },
            "training.schedule.milestones",
        ),
        (|c| c.limit = Some(0), "limit"),
        (|c| c.devices = 0, "devices"),
        (
            |c| c.device_list = vec!["local".into(), "ws://gpu:3000".into()],
            "device_list",
        ),
        (|c| c.metrics.push("recall:Bird".into()), "metrics[2]"),
        (
            |c| c.monitor.as_mut().unwrap().metric = "macro_f1".into(),
            "monitor.metric",
        ),
        (
            |c| c.monitor.as_mut().unwrap().min_delta = -0.01,
            "monitor.min_delta",
        ),
        (
            |c| c.monitor.as_mut().unwrap().early_stopping_patience = Some(0),
            "monitor.early_stopping_patience",
        ),
        (
            |c| c.rare_class.as_mut().unwrap().fraction = 0.0,
            "rare_class.fraction",
        ),
        (
            |c| c.rare_class.as_mut().unwrap().class = 10,
            "rare_class.class",
        ),
        (|c| c.positive_class = Some(12), "positive_class"),
        (
            |c| {
                c.binary_head = Some(BinaryHead {
                    pos_weight: 1.0,
                    threshold: DecisionThreshold::BestF1,
                    chosen: None,
                })
            },
            "binary_head",
        ),
        (
            |c| {
                c.positive_class = Some(6);
                c.binary_head = Some(BinaryHead {
                    pos_weight: 1.0,
                    threshold: DecisionThreshold::MinRecall { recall: 1.5 },
                    chosen: None,
                })
            },
            "binary_head.threshold.recall",
        ),
        (
            |c| {
                c.positive_class = Some(6);
                c.binary_head = Some(BinaryHead {
                    pos_weight: 0.0,
                    threshold: DecisionThreshold::BestF1,
                    chosen: None,
                })
            },
            "binary_head.pos_weight",
        ),
        (
            |c| c.diagnostics.imbalance_ratio = 0.5,
            "diagnostics.imbalance_ratio",
        ),
        (|c| c.diagnostics.loss_rise = -1.0, "diagnostics.loss_rise"),
        (|c| c.data_dir = Some(PathBuf::from("d")), "__valid__"),
    ];
    for (edit, field) in cases {
        let mut config = valid();
        edit(&mut config);
        if field == "__valid__" {
            config.plan().unwrap();
            continue;
        }
        assert_eq!(refused(config), field);
    }
}

#[test]
fn the_message_names_the_setting_and_the_value() {
    let mut config = valid();
    config.training.lr = -1.0;
    let message = config.plan().unwrap_err().to_string();
    assert_eq!(message, "training.lr: must be a positive number, got -1");
    config.training.lr = 0.1;
    config.training.label_smoothing = Some(1.0);
    let message = config.plan().unwrap_err().to_string();
    assert_eq!(
        message,
        "training.label_smoothing: must be in [0, 1), got 1"
    );
}
