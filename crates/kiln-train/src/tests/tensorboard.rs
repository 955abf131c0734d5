use super::*;

/// CRC-32C's check value (RFC 3720), and TensorFlow's mask of it as TensorBoard computes it
/// (`tensorboard.compat.tensorflow_stub.pywrap_tensorflow.masked_crc32c(b"123456789")`).
#[test]
fn checksums_are_masked_crc32c() {
    assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
    assert_eq!(masked_crc32c(b"123456789"), 0xc78a_b0e5);
}

fn written(events: &[Event]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for e in events {
        write_record(&mut bytes, e).unwrap();
    }
    bytes
}

fn events() -> Vec<Event> {
    vec![
        Event::file_version(1.0),
        Event::value(2.0, 1, Value::scalar("valid/accuracy", 0.5)),
        Event::value(3.0, 0, Value::text("config", "    {}")),
        Event::value(4.0, 1, Value::png("valid/per_class", vec![1, 2, 3], (4, 5))),
    ]
}

#[test]
fn records_read_back_and_a_cut_tail_is_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("events.out.tfevents.1.x");
    let bytes = written(&events());
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(read_events(&path).unwrap(), events());
    // A process killed while writing the last record: the others stay.
    std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    assert_eq!(read_events(&path).unwrap(), events()[..3]);
}

#[test]
fn a_changed_byte_fails_its_checksum() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("events.out.tfevents.1.x");
    let mut bytes = written(&events());
    let first = written(&events()[..1]).len();
    bytes[first + 14] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    // A resumed run keeps what comes before the damage.
    let (kept, damage) = read_records(&path).unwrap();
    assert_eq!((kept, damage.is_some()), (events()[..1].to_vec(), true));
    let error = read_events(&path).unwrap_err().to_string();
    assert!(
        error.contains(&format!("record at byte {first}")),
        "{error}"
    );
    assert!(error.contains("checksum"), "{error}");
    // The length's checksum too.
    bytes[first + 14] ^= 1;
    bytes[first] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    assert!(
        read_events(&path)
            .unwrap_err()
            .to_string()
            .contains("length's checksum")
    );
}

#[test]
fn a_resumed_run_keeps_the_finished_steps_and_epochs() {
    let history = Vec::new();
    // Resumed in epoch 3 after 20 optimizer steps.
    let resumed = Resumed {
        epoch: 3,
        batch: 2,
        step: 20,
        history: &history,
    };
    let at = |tag: &str, step: i64| Event::value(0.0, step, Value::scalar(tag, 0.0));
    assert!(kept_on_resume(&at("step/loss", 20), &resumed));
    assert!(!kept_on_resume(&at("step/loss", 21), &resumed));
    assert!(kept_on_resume(&at("valid/loss", 2), &resumed));
    assert!(!kept_on_resume(&at("train/loss", 3), &resumed));
    assert!(!kept_on_resume(&at("test/accuracy", 2), &resumed));
    assert!(kept_on_resume(&at("config", 0), &resumed));
    assert!(!kept_on_resume(&Event::file_version(0.0), &resumed));
}

#[test]
fn the_callback_logs_each_step_once_and_each_column_per_epoch() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tb");
    let names = ["a".to_string(), "b".to_string()];
    let mut tb = TensorBoard::new(&dir, &names, Vec::new(), 2, "{\n}");
    let info = TrainInfo {
        epochs: 1,
        steps_per_epoch: 3,
        train_len: 6,
        valid_len: 2,
    };
    tb.on_train_start(&info).unwrap();
    let running = crate::history::PhaseAccumulator::new(2);
    // Batches 0 and 1 are step 0; batch 2 is step 1 (the last group, one batch).
    for (batch, step, loss) in [(0, 0, 1.0), (1, 0, 3.0), (2, 1, 5.0)] {
        let end = BatchEnd {
            epoch: 1,
            batch,
            step,
            loss,
            lr: 0.1,
            running: &running,
        };
        tb.on_batch_end(&end, &Vec::new()).unwrap();
    }
    // The epoch's last batch ends its last (shorter) group: written at once, so a run stopped
    // right after it (Ctrl-C) has logged it.
    let written = read_events(&event_files(&dir).unwrap()[0]).unwrap();
    assert_eq!(
        written
            .iter()
            .filter(|e| e.tag() == Some("step/loss"))
            .count(),
        2
    );
    let mut confusion = kiln_eval::ConfusionMatrix::new(2);
    confusion.add(0, 0, 1).unwrap();
    confusion.add(1, 0, 1).unwrap();
    let m = |phase| EpochMetrics {
        epoch: 1,
        phase,
        loss: 0.5,
        accuracy: 0.5,
        macro_f1: 1.0 / 3.0,
        lr: 0.1,
        seconds: 1.0,
        samples: 2,
        confusion: confusion.clone(),
    };
    tb.on_train_phase_end(&m(Phase::Train), &Vec::new())
        .unwrap();
    tb.on_phase_end(&m(Phase::Train), &Vec::new()).unwrap();
    tb.on_phase_end(&m(Phase::Valid), &Vec::new()).unwrap();
    let files = event_files(&dir).unwrap();
    let events = read_events(&files[0]).unwrap();
    let find = |tag: &str| -> Vec<(i64, Option<Kind>)> {
        (events.iter().filter(|e| e.tag() == Some(tag)))
            .map(|e| match &e.what {
                Some(What::Summary(s)) => (e.step, s.value[0].kind.clone()),
                _ => (e.step, None),
            })
            .collect()
    };
    let scalar = |v: f32| Some(Kind::SimpleValue(v));
    assert_eq!(find("step/loss"), [(1, scalar(2.0)), (2, scalar(5.0))]);
    assert_eq!(find("step/lr"), [(1, scalar(0.1)), (2, scalar(0.1))]);
    assert_eq!(find("valid/macro_f1"), [(1, scalar(1.0 / 3.0))]);
    assert_eq!(find("train/accuracy"), [(1, scalar(0.5))]);
    assert_eq!(find("config").len(), 1);
    assert_eq!(find("valid/confusion_matrix").len(), 1);
    assert!(find("train/confusion_matrix").is_empty());
}
