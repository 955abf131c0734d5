use super::*;

#[test]
fn run_config_round_trips_through_json() {
    let config = RunConfig {
        dataset: kiln_data::DatasetName::FashionMnist.into(),
        data_dir: Some(PathBuf::from("/data/fm")),
        offline: true,
        limit: Some(1000),
        valid_size: None,
        architecture: "resnet20".into(),
        model: ModelConfig::from_name("resnet20", &kiln_models::ModelSpec::new(10, 1, 28)).unwrap(),
        training: TrainingConfig::new()
            .with_epochs(3)
            .with_schedule(LrSchedule::Constant),
        artifact_dir: PathBuf::from("out"),
        backend: Some("flex".into()),
        metrics: vec!["recall:Shirt".into()],
        monitor: Some(MonitorConfig {
            metric: "valid_macro_f1".into(),
            mode: None,
            early_stopping_patience: Some(2),
            min_delta: 1e-3,
            save_best: true,
        }),
        rare_class: Some(RareClass {
            class: 6,
            fraction: 0.01,
        }),
        stratify: true,
        leakage_check: false,
        dedupe: true,
        diagnostics: kiln_eval::diagnostics::DiagnosticThresholds {
            paradox_gap: 0.3,
            ..Default::default()
        },
        pretrained: Some(Pretrained {
            weights: PathBuf::from("resnet.pth"),
            freeze_backbone: true,
        }),
        keep_checkpoints: 3,
        devices: 2,
        device_list: Vec::new(),
        replica_norm: kiln_models::replicas::ReplicaNorm::PerReplica,
        positive_class: Some(6),
        binary_head: Some(crate::config::BinaryHead {
            pos_weight: 3.0,
            threshold: crate::config::DecisionThreshold::MinRecall { recall: 0.9 },
            chosen: Some(0.25),
        }),
        tensorboard: false,
        evaluation: Default::default(),
    };
    let json = serde_json::to_string_pretty(&config).unwrap();
    assert!(json.contains("\"dataset\": \"fashion-mnist\""), "{json}");
    let back: RunConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(serde_json::to_string_pretty(&back).unwrap(), json);
    assert_eq!(back.valid_len(60_000), 5_000);
    assert_eq!(back.training.schedule, LrSchedule::Constant);
    assert_eq!(back.model.name(), "resnet20");
    assert!(back.stratify);
    // Configs written before the field existed read as unstratified.
    assert!(!back.leakage_check && back.dedupe);
    assert_eq!(back.diagnostics.paradox_gap, 0.3);
    let old = json
        .replace("\"stratify\": true,", "")
        .replace("\"leakage_check\": false,", "")
        .replace("\"dedupe\": true,", "");
    let old = serde_json::from_str::<RunConfig>(&old).unwrap();
    assert!(!old.stratify && old.leakage_check && !old.dedupe);
}
