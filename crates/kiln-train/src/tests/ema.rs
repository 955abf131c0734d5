use burn::module::{Module, Param, RunningState};
use burn::tensor::{Device, Tensor};
use serde_json::Value;

use super::*;

/// Three parameter vectors and a batch-norm-like running mean.
#[derive(Module, Debug)]
struct Tiny {
    a: Param<Tensor<1>>,
    b: Param<Tensor<1>>,
    c: Param<Tensor<1>>,
    running_mean: RunningState<Tensor<1>>,
}

fn fixture() -> Value {
    let text = include_str!("../../tests/fixtures/training_recipe_cases.json");
    serde_json::from_str::<Value>(text).unwrap()["ema"].clone()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn tiny(params: &Value, running_mean: &Value) -> Tiny {
    let device = Device::flex();
    let vector = |v: &Value| Tensor::<1>::from_floats(floats(v).as_slice(), &device);
    Tiny {
        a: Param::from_tensor(vector(&params[0])),
        b: Param::from_tensor(vector(&params[1])),
        c: Param::from_tensor(vector(&params[2])),
        running_mean: RunningState::new(vector(running_mean)),
    }
}

fn values(model: &Tiny) -> [Vec<f32>; 4] {
    let read = |t: Tensor<1>| t.into_data().try_into_vec_as::<f32>().unwrap();
    [
        read(model.a.val()),
        read(model.b.val()),
        read(model.c.val()),
        read(model.running_mean.value()),
    ]
}

fn close(actual: &[f32], expected: &[f32], what: &str) {
    for (a, e) in actual.iter().zip(expected) {
        assert!(
            (a - e).abs() <= 1e-5 * (1.0 + e.abs()),
            "{what}: {actual:?} vs {expected:?}"
        );
    }
}

/// timm's `ModelEmaV3` run for real on the same sequence of weights (`gen_training_recipe.py`):
/// the decays of its warm-up and the averaged parameters and running mean after every step.
#[test]
fn the_average_follows_timm_model_ema_v3_with_and_without_warmup() {
    let f = fixture();
    let bn = &f["ema_batchnorm_buffers"];
    let cases = [
        (false, "ema_timm_v3", "timm_v3_running_mean"),
        (true, "ema_timm_v3_warmup", "timm_v3_warmup_running_mean"),
    ];
    for (warmup, case, running) in cases {
        let config = EmaConfig {
            decay: f["decay"].as_f64().unwrap(),
            warmup,
        };
        let decays = f[case]["decays"].as_array().unwrap();
        for (t, d) in (1..).zip(decays) {
            let d = d.as_f64().unwrap();
            assert!((config.decay_at(t) - d).abs() < 1e-12, "{case} step {t}");
        }
        let mut average = WeightAverage::new(
            config,
            &tiny(&f["initial_params"], &bn["initial_running_mean"]),
        );
        let steps = f["params_per_step"].as_array().unwrap();
        for (t, params) in steps.iter().enumerate() {
            let model = tiny(params, &bn["running_mean_per_step_raw"][t]);
            average.update(&model, t + 1);
            let got = values(&average.applied(model));
            let expected = &f[case]["ema_per_step"][t];
            for p in 0..3 {
                close(
                    &got[p],
                    &floats(&expected[p]),
                    &format!("{case} step {} p{p}", t + 1),
                );
            }
            close(
                &got[3],
                &floats(&bn[running][t]),
                &format!("{case} running mean {}", t + 1),
            );
        }
    }
}

/// The closed form without warm-up: after the first update (a copy), `d·average + (1 − d)·w`.
#[test]
fn after_the_copy_the_average_is_the_closed_form() {
    let config = EmaConfig {
        decay: 0.5,
        warmup: false,
    };
    let device = Device::flex();
    let model = |x: f32| Tiny {
        a: Param::from_tensor(Tensor::from_floats([x, 2.0 * x], &device)),
        b: Param::from_tensor(Tensor::from_floats([x], &device)),
        c: Param::from_tensor(Tensor::from_floats([-x], &device)),
        running_mean: RunningState::new(Tensor::from_floats([x + 1.0], &device)),
    };
    let mut average = WeightAverage::new(config, &model(100.0));
    for (t, x) in [(1, 4.0), (2, 8.0), (3, 0.0)] {
        average.update(&model(x), t);
    }
    // 4 (copy), then 0.5·4 + 0.5·8 = 6, then 0.5·6 + 0.5·0 = 3.
    let got = values(&average.applied(model(0.0)));
    assert_eq!(got, [vec![3.0, 6.0], vec![3.0], vec![-3.0], vec![4.0]]);
    assert_eq!(config.decay_at(1), 0.0);
    assert_eq!(config.decay_at(2), 0.5);
}

#[test]
fn the_report_says_which_weights_it_shows() {
    let ema = EmaConfig {
        decay: 0.999,
        warmup: true,
    };
    assert_eq!(weights_note(None, None), None, "no average, nothing to say");
    let average = weights_note(Some(&ema), None).unwrap();
    assert_eq!(
        (average.kind, average.severity),
        ("weights", Severity::Info)
    );
    assert!(
        average.message.contains("moving average") && average.message.contains("model-raw.bpk")
    );
    let raw = weights_note(Some(&ema), Some(Path::new("run/model-raw.bpk"))).unwrap();
    assert!(raw.message.contains("run/model-raw.bpk") && raw.message.contains("not of"));
}
