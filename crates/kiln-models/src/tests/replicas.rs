//! Batch norm across replicas ([`crate::replicas`]): a batch's shards on synchronized replicas
//! give one device's outputs, gradients and running statistics, on the fused Flex blocks and on
//! Burn's ops; per replica, each shard is normalized alone and the running statistics still move
//! once per step; a failed replica or replicas at different layers end the exchange.

use std::sync::Arc;

use burn::module::Module;
use burn::prelude::*;

use crate::replicas::{Abandoned, Replica, ReplicaGroup, ReplicaNorm, with_replica};
use crate::{ConvNormBlock, ConvNormBlockConfig, with_reference_ops};

/// Values in `[-1, 1)` from a seed, plus `offset`.
fn tensor(shape: [usize; 4], seed: u64, offset: f32, device: &Device) -> Tensor<4> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    let len = shape.iter().product();
    let values: Vec<f32> = (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0 + offset
        })
        .collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// Two blocks: 3×3 with a pool (the direct kernels on Flex), then a strided 3×3 (im2col).
#[derive(Module, Debug)]
struct Net {
    first: ConvNormBlock,
    second: ConvNormBlock,
}

impl Net {
    fn new(device: &Device) -> Self {
        Self {
            first: ConvNormBlockConfig::new(3, 16).with_pool(true).init(device),
            second: ConvNormBlockConfig::new(16, 24).with_stride(2).init(device),
        }
    }

    /// A copy with running statistics of its own (a clone shares them).
    fn copy(&self) -> Self {
        Net::new(&self.devices()[0]).load_record(self.clone().into_record())
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.second.forward(self.first.forward(x)).flatten(1, 3)
    }
}

/// What a step produced: logits, the input's gradient, the first convolution's and the second
/// batch norm's γ gradients (summed over replicas), and both running means and variances.
struct Step {
    logits: Vec<f32>,
    input_grad: Vec<f32>,
    weight_grad: Vec<f32>,
    gamma_grad: Vec<f32>,
    running: Vec<f32>,
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

fn add(sum: &mut Vec<f32>, more: Vec<f32>) {
    match sum.is_empty() {
        true => *sum = more,
        false => sum.iter_mut().zip(more).for_each(|(s, m)| *s += m),
    }
}

/// One step of `net` (loss Σ logits², with ReLU at the end so it has a gradient) on
/// `images`: whole on one device when `shards` is empty, else split into `shards` (sizes)
/// replicas in threads, normalizing as `norm` says.
fn step(net: &Net, images: &Tensor<4>, shards: &[usize], norm: ReplicaNorm) -> Step {
    let run = |net: Net, x: Tensor<4>| {
        let x = x.require_grad();
        let logits = net.forward(x.clone());
        let grads = logits.clone().powi_scalar(2).sum().backward();
        let grad = |t: Tensor<4>| values(t.grad(&grads).expect("a gradient"));
        let gamma = net
            .second
            .norm
            .gamma
            .val()
            .grad(&grads)
            .expect("γ's gradient");
        (
            values(logits.inner()),
            grad(x),
            grad(net.first.conv.weight.val()),
            values(gamma),
        )
    };
    let net = net.copy();
    let mut out = Step {
        logits: Vec::new(),
        input_grad: Vec::new(),
        weight_grad: Vec::new(),
        gamma_grad: Vec::new(),
        running: Vec::new(),
    };
    let results = match shards {
        [] => vec![run(net.clone(), images.clone())],
        _ => {
            let group = Arc::new(ReplicaGroup::new(shards.len()));
            let mut start = 0;
            let threads: Vec<_> = shards
                .iter()
                .enumerate()
                .map(|(i, &len)| {
                    let x = images.clone().slice(start..start + len);
                    start += len;
                    // Forked: parameters of its own in the autodiff graph, as the trainer's
                    // replicas (replicas sharing leaves would share one graph and its lock).
                    let net = net.clone().fork(&images.device());
                    let replica = Replica::new(group.clone(), i, norm);
                    let fused = crate::kernels::fast_kernels_enabled();
                    std::thread::spawn(move || {
                        let work = || with_replica(&replica, || run(net, x));
                        match fused {
                            true => work(),
                            false => with_reference_ops(work),
                        }
                    })
                })
                .collect();
            threads
                .into_iter()
                .map(|t| t.join().expect("a replica"))
                .collect()
        }
    };
    for (logits, input_grad, weight_grad, gamma_grad) in results {
        out.logits.extend(logits);
        out.input_grad.extend(input_grad);
        add(&mut out.weight_grad, weight_grad);
        add(&mut out.gamma_grad, gamma_grad);
    }
    let synced = net.valid();
    for norm in [&synced.first.norm, &synced.second.norm] {
        out.running
            .extend(values(norm.running_mean.value().unsqueeze::<4>()));
        out.running
            .extend(values(norm.running_var.value().unsqueeze::<4>()));
    }
    out
}

/// Largest difference relative to the largest magnitude of `want`.
fn relative(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
    got.iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs() / scale)
        .fold(0.0, f32::max)
}

#[test]
fn synchronized_replicas_take_one_devices_step() {
    let device = Device::flex().autodiff();
    let net = Net::new(&device);
    // A large mean: the merged variance must not cancel.
    let images = tensor([7, 3, 11, 10], 5, 30.0, &device);
    for fused in [true, false] {
        let path = if fused { "fused" } else { "Burn's ops" };
        let ops = |f: &dyn Fn() -> Step| match fused {
            true => f(),
            false => with_reference_ops(f),
        };
        let one = ops(&|| step(&net, &images, &[], ReplicaNorm::Synchronized));
        for shards in [&[4, 3][..], &[1, 3, 3]] {
            let many = ops(&|| step(&net, &images, shards, ReplicaNorm::Synchronized));
            for (what, got, want, tolerance) in [
                ("logits", &many.logits, &one.logits, 1e-4),
                ("input gradient", &many.input_grad, &one.input_grad, 1e-4),
                ("weight gradient", &many.weight_grad, &one.weight_grad, 1e-4),
                ("γ gradient", &many.gamma_grad, &one.gamma_grad, 1e-4),
                ("running statistics", &many.running, &one.running, 1e-5),
            ] {
                let d = relative(got, want);
                assert!(
                    d <= tolerance,
                    "{path}, shards {shards:?}: {what} off by {d}"
                );
            }
        }
    }
}

#[test]
fn per_replica_norm_normalizes_each_shard_alone_and_moves_running_means_once() {
    let device = Device::flex().autodiff();
    let net = Net::new(&device);
    let images = tensor([8, 3, 11, 10], 9, 0.5, &device);
    let whole = step(&net, &images, &[], ReplicaNorm::PerReplica);
    let split = step(&net, &images, &[4, 4], ReplicaNorm::PerReplica);
    let alone: Vec<f32> = [0..4, 4..8]
        .into_iter()
        .flat_map(|r| step(&net, &images.clone().slice(r), &[], ReplicaNorm::PerReplica).logits)
        .collect();
    assert!(
        relative(&split.logits, &alone) <= 1e-5,
        "each shard as if alone"
    );
    assert!(
        relative(&split.logits, &whole.logits) > 1e-3,
        "the comparison can fail"
    );
    // The first layer's running mean moves towards the mean of equal shards' means: the batch
    // mean, as one device's does (compounded updates would move it twice as far).
    let channels = 16;
    let d = relative(&split.running[..channels], &whole.running[..channels]);
    assert!(d <= 1e-5, "first running mean off by {d}");
}

#[test]
fn a_failed_replica_releases_the_others() {
    let group = Arc::new(ReplicaGroup::new(2));
    let waiting = {
        let replica = Replica::new(group.clone(), 0, ReplicaNorm::Synchronized);
        std::thread::spawn(move || {
            let device = Device::flex().autodiff();
            let net = Net::new(&device);
            let x = tensor([2, 3, 8, 8], 1, 0.0, &device);
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                with_replica(&replica, || net.forward(x))
            }))
        })
    };
    group.abandon("replica 1 failed: device gone");
    let payload = waiting
        .join()
        .expect("the thread")
        .expect_err("an abandoned step");
    let why = payload
        .downcast_ref::<Abandoned>()
        .expect("an Abandoned payload");
    assert_eq!(why.0, "replica 1 failed: device gone");
}

#[test]
fn replicas_at_different_layers_stop_instead_of_mixing() {
    let group = Arc::new(ReplicaGroup::new(2));
    let device = Device::flex().autodiff();
    let threads: Vec<_> = [(3, 16), (3, 8)]
        .into_iter()
        .enumerate()
        .map(|(i, (input, output))| {
            let replica = Replica::new(group.clone(), i, ReplicaNorm::Synchronized);
            let block = ConvNormBlockConfig::new(input, output).init(&device);
            let x = tensor([2, 3, 6, 6], 2, 0.0, &device);
            std::thread::spawn(move || {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    with_replica(&replica, || block.forward(x))
                }))
                .is_err()
            })
        })
        .collect();
    for thread in threads {
        assert!(thread.join().expect("the thread"), "both replicas stop");
    }
    assert!(
        group
            .abandoned()
            .is_some_and(|why| why.contains("disagree"))
    );
}

#[test]
fn a_replica_that_finishes_while_another_waits_releases_it() {
    let group = Arc::new(ReplicaGroup::new(2));
    let waiting = {
        let replica = Replica::new(group.clone(), 0, ReplicaNorm::Synchronized);
        std::thread::spawn(move || {
            let device = Device::flex().autodiff();
            let block = ConvNormBlockConfig::new(3, 4).init(&device);
            let x = tensor([2, 3, 6, 6], 3, 0.0, &device);
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                with_replica(&replica, || block.forward(x))
            }))
            .is_err()
        })
    };
    // Replica 1 ran no batch norm at all (data-dependent control flow) and is done.
    std::thread::sleep(std::time::Duration::from_millis(50));
    group.depart(1);
    assert!(waiting.join().expect("the thread"), "replica 0 is released");
    assert!(
        group
            .abandoned()
            .is_some_and(|why| why.contains("finished"))
    );
}
