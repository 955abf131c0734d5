//! Data-parallel training over Burn Remote servers on loopback (`cargo bench --bench
//! remote_scaling --features remote`): one resnet20 step (batch 128, 3×32×32, synchronized batch
//! norm) split over 1, 2 and 3 `kiln serve` processes on 127.0.0.1, and the parts of a step
//! measured apart on one server — the model's parameters sent out, a shard's forward and
//! backward, what its batch-norm exchanges add, its gradients brought back — the rest being the
//! replicas waiting for each other and, on this machine, the servers sharing its cores.
//!
//! The figures feed the scaling model in README.md ("Several machines"). Every server is a child
//! process killed when the bench ends.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor, TensorData};
use kiln::data::{DatasetName, ImageDataset, ImageShape};
use kiln::models::replicas::{Replica, ReplicaGroup, ReplicaNorm, fork_replica, with_replica};
use kiln::models::{Architecture, ImageClassifier, Model, ModelConfig, ModelSpec};
use kiln::remote::{DeviceSpec, connect};
use kiln::train::{FitData, FitOptions, FitSettings, TrainingConfig, fit};

const BATCH: usize = 128;
const STEPS: usize = 8;
const ROUNDS: usize = 3;

/// A `kiln serve` child process on 127.0.0.1, killed when dropped.
struct Server(Child, String);

impl Server {
    fn start() -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kiln"))
            .args(["serve", "--backend", "flex", "--listen", "ws://127.0.0.1:0"])
            .env_remove(kiln::remote::TOKEN_ENV)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("kiln serve starts");
        let stdout = child.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
        let address = lines
            .find_map(|line| Some(line.split_once(" device(s) on ")?.1.to_string()))
            .expect("kiln serve prints its address");
        std::thread::spawn(move || lines.for_each(drop));
        Server(child, address)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn model(device: &Device) -> Model {
    named("resnet20", 32, device)
}

/// Architecture `name` for 10 classes of 3×`size`×`size` images, on `device` with autodiff.
fn named(name: &str, size: usize, device: &Device) -> Model {
    ModelConfig::from_name(name, &ModelSpec::new(10, 3, size))
        .expect("a built-in architecture")
        .init(&device.clone().autodiff())
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// `STEPS` batches of random 3×32×32 images.
fn dataset() -> ImageDataset {
    let n = STEPS * BATCH;
    let mut state = 11u32;
    let pixels = (0..n * 3 * 32 * 32)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        })
        .collect();
    let labels = (0..n).map(|i| (i % 10) as u8).collect();
    let shape = ImageShape {
        channels: 3,
        height: 32,
        width: 32,
    };
    ImageDataset::new(shape, 10, pixels, labels).expect("a valid dataset")
}

/// Seconds per step of one epoch of [`fit`] on `devices` (none: the main device alone).
fn step(data: &ImageDataset, devices: &[Device], names: &[String]) -> f64 {
    let main = Device::flex();
    let settings = FitSettings {
        device: main.clone(),
        training: TrainingConfig::new()
            .with_epochs(1)
            .with_batch_size(BATCH)
            .with_lr(1e-3),
        options: FitOptions {
            devices: devices.to_vec(),
            device_names: names.to_vec(),
            ..FitOptions::default()
        },
    };
    let fit_data = FitData {
        train: data,
        valid: None,
        norm: DatasetName::Cifar10.spec().normalization(),
    };
    let start = Instant::now();
    fit(model(&main), fit_data, &settings, &mut Vec::new()).expect("training runs");
    start.elapsed().as_secs_f64() / STEPS as f64
}

/// The parts of one replica's step on `remote` for a shard of `n` images, in seconds: the
/// parameters sent out, the forward and backward, what synchronizing its 19 batch norms adds
/// (the same forward and backward as the one replica of a synchronized group: every batch
/// norm's moments read to the host and merged, twice per layer), the gradients brought back.
fn parts(remote: &Device, net: &Model, n: usize, size: usize) -> [f64; 4] {
    let main = Device::flex().autodiff();
    let remote = remote.clone().autodiff();
    let images = Tensor::<4>::random(
        [n, 3, size, size],
        burn::tensor::Distribution::Default,
        &main,
    );
    let labels: Vec<i64> = (0..n as i64).map(|i| i % 10).collect();
    let targets = Tensor::<1, Int>::from_data(TensorData::new(labels, [n]), &main);
    let loss = CrossEntropyLossConfig::new().init(&remote);
    let sync = |device: &Device| device.sync().expect("the device answers");
    let step = |replica: &Model, x: Tensor<4>, y: Tensor<1, Int>| {
        let value = loss.forward(replica.forward(x), y);
        let grads = GradientsParams::from_grads(value.backward(), replica);
        sync(&remote);
        grads
    };
    let mut times = vec![Vec::new(); 4];
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let replica = fork_replica(net.clone(), &remote);
        let (x, y) = (
            images.clone().to_device(&remote),
            targets.clone().to_device(&remote),
        );
        sync(&remote);
        let sent = Instant::now();
        step(&replica, x.clone(), y.clone());
        let computed = Instant::now();
        let group = Replica::new(Arc::new(ReplicaGroup::new(1)), 0, ReplicaNorm::Synchronized);
        let grads = with_replica(&group, || step(&replica, x, y));
        let synchronized = Instant::now();
        let back = grads.to_device(&main, &replica);
        sync(&main);
        let done = Instant::now();
        drop(back);
        let compute = (computed - sent).as_secs_f64();
        times[0].push((sent - start).as_secs_f64());
        times[1].push(compute);
        times[2].push((synchronized - computed).as_secs_f64() - compute);
        times[3].push((done - synchronized).as_secs_f64());
    }
    let mut medians = times.into_iter().map(median);
    [(); 4].map(|()| medians.next().unwrap_or(0.0))
}

fn cpu() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            let line = info.lines().find(|l| l.starts_with("model name"))?;
            Some(line.split_once(':')?.1.trim().to_string())
        })
        .unwrap_or_else(|| "an unknown CPU".into())
}

fn main() {
    let servers: Vec<Server> = (0..3).map(|_| Server::start()).collect();
    let names: Vec<String> = servers.iter().map(|s| s.1.clone()).collect();
    let devices: Vec<Device> = names
        .iter()
        .map(|name| {
            let spec: DeviceSpec = name.parse().expect("a server's address");
            connect(&spec, None).expect("the server answers")
        })
        .collect();
    let data = dataset();
    let params = kiln::models::trainable_params(&model(&Device::flex()));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "resnet20, batch {BATCH}, 3×32×32, synchronized batch norm, {} ({threads} threads), \
         {STEPS} steps per figure, median of {ROUNDS} rounds; gradients {:.2} MB",
        cpu(),
        params as f64 * 4.0 / 1e6
    );
    step(&data, &[], &[]); // warm-up
    let local = median((0..ROUNDS).map(|_| step(&data, &[], &[])).collect());
    let reference = median(
        (0..ROUNDS)
            .map(|_| kiln::models::with_reference_ops(|| step(&data, &[], &[])))
            .collect(),
    );
    println!(
        "local one device: {:.0} ms/step (kiln's fused kernels), {:.0} ms/step (Burn's ops, as \
         a server runs them)",
        local * 1e3,
        reference * 1e3
    );
    println!(
        "| servers | step (ms) | params out (ms) | forward + backward (ms) | batch-norm \
         exchanges (ms) | gradients back (ms) | rest (ms) | speed-up vs 1 server |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    let mut one = None;
    for k in 1..=3 {
        step(&data, &devices[..k], &names[..k]); // warm-up
        let time = median(
            (0..ROUNDS)
                .map(|_| step(&data, &devices[..k], &names[..k]))
                .collect(),
        );
        let net = model(&Device::flex());
        let [out, compute, exchange, back] = parts(&devices[0], &net, BATCH.div_ceil(k), 32);
        let base = *one.get_or_insert(time);
        println!(
            "| {k} | {:.0} | {:.1} | {:.0} | {:.0} | {:.1} | {:.0} | {:.2}× |",
            time * 1e3,
            out * 1e3,
            compute * 1e3,
            exchange * 1e3,
            back * 1e3,
            (time - out - compute - exchange - back) * 1e3,
            base / time
        );
    }
    // A model a hundred times larger: what its parameters and gradients cost to move.
    let resnet50 = named("resnet50", 64, &Device::flex());
    let megabytes = kiln::models::trainable_params(&resnet50) as f64 * 4.0 / 1e6;
    let [out, _, _, back] = parts(&devices[0], &resnet50, 1, 64);
    println!(
        "resnet50 ({megabytes:.1} MB of parameters; one 3×64×64 image) to one server: params out \
         {:.0} ms, gradients back {:.0} ms",
        out * 1e3,
        back * 1e3
    );
    drop(devices);
    std::thread::sleep(Duration::from_millis(100));
}
