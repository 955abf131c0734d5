//! The fused Flex kernels against Burn's own ops: forward values, running statistics and every
//! gradient, on randomized shapes (odd sizes, batch 1, stride 2, padding, 1×1 and non-square
//! kernels, with and without ReLU and pooling), ≤ 1e-4 relative.

use burn::module::{Module, ModuleMapper, Param, RunningState};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::MaxPool2dConfig;
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d, Relu};
use burn::prelude::*;

use crate::kernels::{self, with_reference_ops};
use crate::{CifarResNetConfig, ConvNormBlockConfig, MnistCnnConfig, ShortcutKind};

/// Deterministic pseudo-random values in `[-1, 1)`.
fn random(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn tensor<const D: usize>(shape: [usize; D], seed: u64, device: &Device) -> Tensor<D> {
    let len = shape.iter().product();
    Tensor::from_data(TensorData::new(random(len, seed), shape), device)
}

/// `module` with every parameter that Burn's init drew at random replaced by deterministic values
/// of the same scale (uniform in ±√(3 / fan-in); constants such as γ = 1, β = 0 and the running
/// statistics stay), so a test's model does not depend on Burn's process-wide RNG, which the
/// tests running beside it draw from.
///
/// Why it matters: the gradient of ReLU jumps at 0, and in ~2% of random ResNet inits some
/// pre-activation lands within rounding of 0 on this input. The fused kernels and Burn's ops
/// (and burn-ndarray) then put it on different sides, and the first convolution's weight
/// gradients part by ~1% — all three implementations equally right. With the init left to the
/// shared RNG, `cifar_resnet_training_step_matches_reference_ops` failed about one full run in
/// twenty (measured); with these values every run computes the same step.
fn deterministic<M: Module>(module: M, seed: u64) -> M {
    struct Fill(u64);
    impl ModuleMapper for Fill {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            self.0 += 1;
            let seed = self.0;
            param.map(|value| {
                let dims = value.dims();
                let values = value
                    .clone()
                    .into_data()
                    .try_to_vec::<f32>()
                    .unwrap_or_default();
                if values.windows(2).all(|pair| pair[0] == pair[1]) {
                    return value; // a constant: γ, β, a running statistic
                }
                // Conv weights are [out, in, kh, kw], Linear's [in, out], biases [out].
                let fan_in = match D {
                    1 | 2 => dims[0],
                    _ => dims[1..].iter().product(),
                };
                let bound = (3.0 / fan_in as f32).sqrt();
                let device = value.device();
                let random = tensor(dims, seed, &device).mul_scalar(bound);
                random.set_require_grad(value.is_require_grad())
            })
        }
    }
    module.map(&mut Fill(seed * 1000))
}

#[derive(Clone, Copy, Debug)]
struct Case {
    batch: usize,
    in_channels: usize,
    out_channels: usize,
    size: [usize; 2],
    kernel: [usize; 2],
    stride: usize,
    padding: usize,
    relu: bool,
    pool: bool,
}

/// A case's fields in declaration order, one line per case.
#[allow(clippy::too_many_arguments)]
const fn case(
    batch: usize,
    in_channels: usize,
    out_channels: usize,
    size: [usize; 2],
    kernel: [usize; 2],
    stride: usize,
    padding: usize,
    relu: bool,
    pool: bool,
) -> Case {
    Case {
        batch,
        in_channels,
        out_channels,
        size,
        kernel,
        stride,
        padding,
        relu,
        pool,
    }
}

// case(batch, in, out, [h, w], [kh, kw], stride, padding, relu, pool), one per line.
#[rustfmt::skip]
const CASES: [Case; 10] = [
    // mnist-cnn's first block, smaller.
    case(4, 1, 8, [12, 12], [3, 3], 1, 0, true, true),
    // Odd sizes: the pool drops the last row and column; 63 positions: groups of 2 images
    // and one of 1.
    case(3, 5, 7, [11, 9], [3, 3], 1, 0, true, true),
    // Batch 1, padding 1, no pool; 49 positions: grouped GEMM, not the direct kernels.
    case(1, 3, 4, [7, 7], [3, 3], 1, 1, true, false),
    // Stride 2 with padding, no ReLU (a residual branch's second conv).
    case(2, 4, 6, [9, 8], [3, 3], 2, 1, false, false),
    // Pointwise.
    case(2, 6, 5, [5, 5], [1, 1], 1, 0, true, true),
    // 1×1 stride 2 (a projection shortcut).
    case(2, 6, 5, [8, 7], [1, 1], 2, 0, false, false),
    // Non-square kernel, wide padding.
    case(2, 3, 4, [8, 10], [3, 5], 1, 2, true, true),
    // 5×5 stride 3, padding larger than some offsets.
    case(3, 2, 3, [13, 11], [5, 5], 3, 2, true, false),
    // 3×3 stride 1 padding 1, the direct kernels: odd batch and sizes, 16 → 24 channels, pool.
    case(3, 16, 24, [9, 10], [3, 3], 1, 1, true, true),
    // The direct kernels at a channel count no tile divides, no ReLU (a block's second conv).
    case(1, 24, 100, [9, 9], [3, 3], 1, 1, false, false),
];

/// The case's conv and batch norm, with random weights, bias, γ, β and running statistics.
fn layers(case: &Case, device: &Device) -> (Conv2d, BatchNorm) {
    let p = case.padding;
    let mut conv = Conv2dConfig::new([case.in_channels, case.out_channels], case.kernel)
        .with_stride([case.stride, case.stride])
        .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
        .init(device);
    let [kh, kw] = case.kernel;
    let out = case.out_channels;
    conv.weight = Param::from_tensor(tensor([out, case.in_channels, kh, kw], 1, device));
    conv.bias = Some(Param::from_tensor(tensor([out], 2, device)));
    let mut norm = BatchNormConfig::new(out).init(device);
    norm.gamma = Param::from_tensor(tensor([out], 3, device).add_scalar(1.5));
    norm.beta = Param::from_tensor(tensor([out], 4, device));
    norm.running_mean = RunningState::new(tensor([out], 5, device));
    norm.running_var = RunningState::new(tensor([out], 6, device).abs().add_scalar(0.5));
    (conv, norm)
}

/// Burn's layers one after the other.
fn reference(case: &Case, conv: &Conv2d, norm: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    let x = norm.forward(conv.forward(x));
    let x = if case.relu { Relu::new().forward(x) } else { x };
    match case.pool {
        true => MaxPool2dConfig::new([2, 2])
            .with_strides([2, 2])
            .init()
            .forward(x),
        false => x,
    }
}

/// max |a − b| ≤ 1e-4 · scale, `scale` defaulting to max |b|.
fn assert_close<const D: usize>(what: &str, got: Tensor<D>, want: Tensor<D>, scale: Option<f32>) {
    assert_eq!(got.dims(), want.dims(), "{what}: shape");
    let got = got.into_data().try_to_vec::<f32>().unwrap();
    let want = want.into_data().try_to_vec::<f32>().unwrap();
    let scale = scale.unwrap_or_else(|| want.iter().fold(0f32, |m, v| m.max(v.abs())));
    let error = got
        .iter()
        .zip(&want)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        error <= 1e-4 * scale.max(1e-6),
        "{what}: max error {error} against scale {scale}"
    );
}

#[test]
fn training_forward_statistics_and_gradients_match_burn() {
    let device = Device::flex().autodiff();
    for (i, case) in CASES.iter().enumerate() {
        let shape = [case.batch, case.in_channels, case.size[0], case.size[1]];
        let run = |fused: bool| {
            let (conv, norm) = layers(case, &device);
            let x = tensor(shape, 7 + i as u64, &device).require_grad();
            let output = match fused {
                true => kernels::conv_block(&conv, &norm, case.relu, case.pool, &x)
                    .expect("the fused path applies to this case"),
                false => reference(case, &conv, &norm, x.clone()),
            };
            let mix = tensor(output.dims(), 8, &device);
            let grads = (output.clone() * mix).sum().backward();
            let grad = |t: Tensor<1>| t.grad(&grads).expect("gradient");
            let bias = conv.bias.as_ref().expect("bias").val();
            (
                output.inner(),
                norm.running_mean.value().inner(),
                norm.running_var.value().inner(),
                x.grad(&grads).expect("input gradient"),
                conv.weight.val().grad(&grads).expect("weight gradient"),
                grad(bias),
                grad(norm.gamma.val()),
                grad(norm.beta.val()),
            )
        };
        let fused = run(true);
        let want = run(false);
        let what = |name: &str| format!("case {i} {case:?}: {name}");
        assert_close(&what("output"), fused.0, want.0, None);
        assert_close(&what("running mean"), fused.1, want.1, None);
        assert_close(&what("running var"), fused.2, want.2, None);
        assert_close(&what("input grad"), fused.3, want.3, None);
        assert_close(&what("weight grad"), fused.4, want.4, None);
        // Σ dy is zero up to rounding (the batch norm subtracts the bias back out), so its
        // error is measured against the scale of Σ dz, the β gradient.
        let beta_scale = want.7.clone().abs().max().into_scalar();
        assert_close(&what("bias grad"), fused.5, want.5, Some(beta_scale));
        assert_close(&what("gamma grad"), fused.6, want.6, None);
        assert_close(&what("beta grad"), fused.7, want.7, None);
    }
}

/// Inputs far from zero against their spread (1000 ± 1, the situation of post-ReLU activations
/// deep in a network): the batch statistics — so the normalized output and the running
/// variance — still match Burn's two-pass batch norm (`mean((x − mean)²)`). The statistics
/// alone, exactly, are `conv_block_cpu`'s own test.
#[test]
fn batch_statistics_hold_for_a_large_mean() {
    let device = Device::flex().autodiff();
    // 1×1 and 3×3 convolutions (im2col and direct): the output's mean is ~1000 × Σ weights,
    // its spread ~1.
    for (i, case) in [CASES[0], CASES[5], CASES[8]].iter().enumerate() {
        let shape = [case.batch, case.in_channels, case.size[0], case.size[1]];
        let run = |fused: bool| {
            let (conv, norm) = layers(case, &device);
            let x = tensor(shape, 21 + i as u64, &device).add_scalar(1000.0);
            let output = match fused {
                true => kernels::conv_block(&conv, &norm, case.relu, case.pool, &x)
                    .expect("the fused path applies to this case"),
                false => reference(case, &conv, &norm, x),
            };
            (output.inner(), norm.running_var.value().inner())
        };
        let (fused, want) = (run(true), run(false));
        let what = |name: &str| format!("large mean, {case:?}: {name}");
        // The convolutions themselves round at 1000 × f32's ε, in different orders, so 1e-3 of
        // the scale here (measured 2.3e-4); the one-pass `E[y²] − E[y]²` missed by 1.7e-2.
        let loose = |t: &Tensor<1>| Some(10.0 * t.clone().abs().max().into_scalar::<f32>());
        let output_scale = loose(&want.0.clone().flatten(0, 3));
        assert_close(&what("output"), fused.0, want.0, output_scale);
        let var_scale = loose(&want.1);
        assert_close(&what("running var"), fused.1, want.1, var_scale);
    }
}

#[test]
fn inference_forward_matches_burn_with_running_statistics() {
    let device = Device::flex();
    for (i, case) in CASES.iter().enumerate() {
        let (conv, norm) = layers(case, &device);
        let x = tensor(
            [case.batch, case.in_channels, case.size[0], case.size[1]],
            9 + i as u64,
            &device,
        );
        let fused = kernels::conv_block(&conv, &norm, case.relu, case.pool, &x)
            .expect("the fused path applies to this case");
        let want = reference(case, &conv, &norm, x);
        assert_close(&format!("case {i} {case:?}"), fused, want, None);
    }
}

/// The end of a residual block, `relu(bn(conv(x)) + residual)` as one fused operation, against
/// Burn's layers and addition: output, running statistics and the gradients of the input, the
/// residual, the weights, γ and β, in training; the output with running statistics in
/// inference. Direct (3×3 stride 1, two channel counts), im2col (stride 2) and pointwise
/// convolutions.
#[test]
fn residual_blocks_add_before_the_relu_as_burn_does() {
    let pointwise = case(2, 6, 5, [5, 5], [1, 1], 1, 0, true, false);
    let with_relu = |c: Case| Case { relu: true, ..c };
    let cases = [
        CASES[2],
        with_relu(CASES[3]),
        with_relu(CASES[9]),
        pointwise,
    ];
    for (i, case) in cases.iter().enumerate() {
        let shape = [case.batch, case.in_channels, case.size[0], case.size[1]];
        let train = |fused: bool| {
            let device = Device::flex().autodiff();
            let (conv, norm) = layers(case, &device);
            let x = tensor(shape, 30 + i as u64, &device).require_grad();
            let out_shape = conv.forward(x.clone()).dims();
            let residual = tensor(out_shape, 40 + i as u64, &device).require_grad();
            let output = match fused {
                true => kernels::conv_block_add_relu(&conv, &norm, &x, &residual)
                    .expect("the fused path applies to this case"),
                false => {
                    Relu::new().forward(norm.forward(conv.forward(x.clone())) + residual.clone())
                }
            };
            let mix = tensor(output.dims(), 8, &device);
            let grads = (output.clone() * mix).sum().backward();
            let grad = |t: Tensor<1>| t.grad(&grads).expect("gradient");
            (
                [
                    output.inner(),
                    x.grad(&grads).expect("input gradient"),
                    residual.grad(&grads).expect("residual gradient"),
                ],
                conv.weight.val().grad(&grads).expect("weight gradient"),
                [
                    grad(norm.gamma.val()),
                    grad(norm.beta.val()),
                    norm.running_mean.value().inner(),
                    norm.running_var.value().inner(),
                ],
            )
        };
        let (fused, want) = (train(true), train(false));
        let what = |name: &str| format!("residual case {i} {case:?}: {name}");
        for (name, (got, want)) in ["output", "input grad", "residual grad"]
            .iter()
            .zip(fused.0.into_iter().zip(want.0))
        {
            assert_close(&what(name), got, want, None);
        }
        assert_close(&what("weight grad"), fused.1, want.1, None);
        for (name, (got, want)) in ["gamma grad", "beta grad", "running mean", "running var"]
            .iter()
            .zip(fused.2.into_iter().zip(want.2))
        {
            assert_close(&what(name), got, want, None);
        }

        let device = Device::flex();
        let (conv, norm) = layers(case, &device);
        let x = tensor(shape, 50 + i as u64, &device);
        let residual = tensor(conv.forward(x.clone()).dims(), 60 + i as u64, &device);
        let fused = kernels::conv_block_add_relu(&conv, &norm, &x, &residual)
            .expect("the fused path applies to this case");
        let want = Relu::new().forward(norm.forward(conv.forward(x)) + residual);
        assert_close(&what("inference output"), fused, want, None);
    }
}

#[test]
fn fused_path_is_declined_where_it_does_not_apply() {
    let case = CASES[0];
    let x = |device: &Device| tensor([2, 1, 12, 12], 10, device);
    // Disabled on this thread.
    let device = Device::flex();
    let (conv, norm) = layers(&case, &device);
    assert!(
        with_reference_ops(|| kernels::conv_block(&conv, &norm, true, true, &x(&device))).is_none()
    );
    assert!(kernels::conv_block(&conv, &norm, true, true, &x(&device)).is_some());
    // Dilation and groups are not implemented by the kernel.
    let dilated = Conv2dConfig::new([1, 8], [3, 3])
        .with_dilation([2, 2])
        .init(&device);
    assert!(kernels::conv_block(&dilated, &norm, true, true, &x(&device)).is_none());
    // A residual of another shape than the output.
    let wrong = tensor([2, 8, 9, 9], 12, &device);
    assert!(kernels::conv_block_add_relu(&conv, &norm, &x(&device), &wrong).is_none());
    let right = tensor([2, 8, 10, 10], 12, &device);
    assert!(kernels::conv_block_add_relu(&conv, &norm, &x(&device), &right).is_some());
    // A frozen batch norm on an autodiff device keeps Burn's ops (running statistics, gradients
    // still flowing to the conv).
    let device = Device::flex().autodiff();
    let (conv, norm) = layers(&case, &device);
    let frozen: BatchNorm = norm.freeze();
    assert!(kernels::conv_block(&conv, &frozen, true, true, &x(&device)).is_none());
}

#[test]
fn mnist_cnn_training_step_matches_reference_ops() {
    let device = Device::flex().autodiff();
    let images = tensor([5, 1, 28, 28], 11, &device);
    // One model for both runs, with fixed values ([`deterministic`]). The training-mode batch
    // norm uses batch statistics, so the running averages the first run updates do not change
    // the second.
    let model = deterministic(MnistCnnConfig::new(10).with_dropout(0.0).init(&device), 1);
    assert_step_matches(
        "mnist-cnn",
        || model.forward(images.clone()),
        || model.block1.conv.weight.val(),
    );
}

#[test]
fn conv_norm_blocks_training_step_matches_reference_ops() {
    let device = Device::flex().autodiff();
    let images = tensor([3, 3, 11, 10], 13, &device);
    // A 3×3 block on the direct kernels with a pool, then a strided one (im2col). (The last one
    // keeps its ReLU: Σ of a batch norm's output squared is the same for any input, so without
    // it the loss below would have no gradient but rounding.)
    let first = deterministic(
        ConvNormBlockConfig::new(3, 16)
            .with_pool(true)
            .init(&device),
        2,
    );
    let second = deterministic(
        ConvNormBlockConfig::new(16, 24)
            .with_stride(2)
            .init(&device),
        3,
    );
    assert_step_matches(
        "two ConvNormBlocks",
        || second.forward(first.forward(images.clone())).flatten(1, 3),
        || first.conv.weight.val(),
    );
}

/// One training step (loss Σ logits²) with the fused kernels and with Burn's ops: the logits and
/// the first convolution's weight gradient (which the whole backward flows into) must agree.
fn assert_step_matches(
    what: &str,
    logits: impl Fn() -> Tensor<2>,
    first_weight: impl Fn() -> Tensor<4>,
) {
    let step = || {
        let logits = logits();
        let grads = logits.clone().powi_scalar(2).sum().backward();
        let grad = first_weight().grad(&grads).expect("gradient");
        (logits.inner(), grad)
    };
    let (got, got_grad) = step();
    let (want, want_grad) = with_reference_ops(step);
    assert_close(&format!("{what}: logits"), got, want, None);
    let what = format!("{what}: first conv's weight gradient");
    assert_close(&what, got_grad, want_grad, None);
}

#[cfg(target_arch = "x86_64")]
#[test]
fn avx512_pool_routing_equals_the_scalar_version() {
    use crate::kernels::pool_route::{
        Affine, RowPair, route_row_pair_avx512, route_row_pair_scalar,
    };
    if !std::arch::is_x86_feature_detected!("avx512f") {
        eprintln!("no AVX-512 on this CPU: the scalar routing is the only one in use");
        return;
    }
    for windows in 1..40 {
        for (seed, (scale, floor)) in [(1.5, 0.0), (-0.7, 0.0), (1.0, f32::NEG_INFINITY)]
            .into_iter()
            .enumerate()
        {
            let width = 2 * windows + windows % 2; // odd widths leave a column outside the windows
            // Quantized values, so windows hold ties (and ReLU zeros).
            let row = |s: u64| -> Vec<f32> {
                random(width, s)
                    .iter()
                    .map(|v| (v * 4.0).round() / 4.0)
                    .collect()
            };
            let (top, bottom) = (row(seed as u64 * 3 + 1), row(seed as u64 * 3 + 2));
            let grad = random(windows, seed as u64 * 3 + 3);
            let affine = Affine {
                scale,
                shift: 0.25,
                floor,
            };
            let run = |avx512: bool| {
                let (mut dz_top, mut dz_bottom) = (vec![7.0; width], vec![7.0; width]);
                let rows = RowPair {
                    top: &top,
                    bottom: &bottom,
                    grad: &grad,
                    dz_top: &mut dz_top,
                    dz_bottom: &mut dz_bottom,
                };
                match avx512 {
                    // SAFETY: AVX-512F was detected above.
                    true => unsafe { route_row_pair_avx512(rows, affine) },
                    false => route_row_pair_scalar(rows, affine),
                }
                (dz_top, dz_bottom)
            };
            let (scalar, vector) = (run(false), run(true));
            assert_eq!(
                scalar, vector,
                "{windows} windows, scale {scale}, floor {floor}"
            );
            // The column outside every window is left alone.
            if width % 2 == 1 {
                assert_eq!(vector.0[width - 1], 7.0);
            }
        }
    }
}

#[test]
fn cifar_resnet_training_step_matches_reference_ops() {
    let device = Device::flex().autodiff();
    let images = tensor([3, 3, 16, 16], 12, &device);
    for shortcut in [ShortcutKind::ZeroPad, ShortcutKind::Projection] {
        let model = deterministic(
            CifarResNetConfig::new(10, 1)
                .with_shortcut(shortcut)
                .init(&device),
            4,
        );
        assert_step_matches(
            &format!("CIFAR ResNet, {shortcut:?} shortcut"),
            || model.forward(images.clone()),
            || model.conv1.weight.val(),
        );
    }
}
