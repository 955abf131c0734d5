//! Other processes' devices: `kiln serve` on loopback and `kiln train --devices ws://…` over it
//! (feature `remote`), and the device lists and listen addresses, parsed in every build.
//!
//! Every server is a child process on 127.0.0.1 that a guard kills when the test ends, every
//! `kiln` run has a deadline, and nothing leaves the machine.

use crate::common;
use crate::common::text;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kiln::remote::{DeviceList, DeviceSpec, Listen, RemoteError, Token};
use serde_json::Value;

const FASHION: &str = "/usr/share/datasets/fashion-mnist";

#[test]
fn device_lists_parse_and_print_back() {
    assert_eq!("3".parse::<DeviceList>().unwrap(), DeviceList::Count(3));
    let list: DeviceList = "local, ws://127.0.0.1:3000,iroh://abc123@[::1]:4000"
        .parse()
        .unwrap();
    let DeviceList::Devices(specs) = &list else {
        panic!("{list:?}")
    };
    assert_eq!(specs[0], DeviceSpec::Local);
    assert_eq!(
        specs[1],
        DeviceSpec::WebSocket {
            host: "127.0.0.1".into(),
            port: 3000
        }
    );
    assert_eq!(
        specs[2],
        DeviceSpec::Iroh {
            id: "abc123".into(),
            address: Some("[::1]:4000".into())
        }
    );
    assert_eq!(list.len(), 3);
    assert!(list.is_remote());
    assert_eq!(
        list.to_string(),
        "local,ws://127.0.0.1:3000,iroh://abc123@[::1]:4000"
    );
    assert!(!"local,local".parse::<DeviceList>().unwrap().is_remote());
    for bad in [
        "ws://host",
        "ws://:3000",
        "tcp://host:1",
        "iroh://",
        "iroh://a-b",
        "",
    ] {
        let error = bad.parse::<DeviceList>().unwrap_err();
        assert!(
            matches!(error, RemoteError::Malformed { .. }),
            "{bad}: {error}"
        );
    }
    assert_eq!(
        "ws://0.0.0.0:0".parse::<Listen>().unwrap(),
        Listen::WebSocket {
            host: "0.0.0.0".into(),
            port: 0
        }
    );
    assert_eq!(
        "iroh:5000".parse::<Listen>().unwrap(),
        Listen::Iroh { port: Some(5000) }
    );
    assert!("iroh:x".parse::<Listen>().is_err());
    assert!("http://host:1".parse::<Listen>().is_err());
}

#[test]
fn tokens_come_from_a_file_trimmed_and_are_never_printed() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("token");
    std::fs::write(&file, "  s3cret\n").unwrap();
    let token = Token::load(Some(&file)).unwrap().unwrap();
    assert!(!format!("{token:?}").contains("s3cret"));
    std::fs::write(&file, "\n").unwrap();
    let empty = Token::load(Some(&file)).unwrap_err();
    assert!(empty.to_string().contains("is empty"), "{empty}");
    let missing = Token::load(Some(&tmp.path().join("none"))).unwrap_err();
    assert!(
        matches!(missing, RemoteError::TokenFile { .. }),
        "{missing}"
    );
}

/// `kiln serve` never opens a server to the network without a token, nor Iroh without a key.
#[test]
fn serve_refuses_open_listeners() {
    let tmp = tempfile::tempdir().unwrap();
    let token = tmp.path().join("token");
    std::fs::write(&token, "s3cret").unwrap();
    let token = token.to_str().unwrap();
    let cases: [(&[&str], &str); 3] = [
        (
            &["--listen", "ws://0.0.0.0:0"],
            "without a token kiln serve listens on loopback only",
        ),
        (&["--listen", "iroh"], "--listen iroh needs a token"),
        (
            &["--listen", "iroh", "--token-file", token],
            "--listen iroh needs --key-file",
        ),
    ];
    for (flags, message) in cases {
        let mut args = vec!["serve", "--backend", "flex"];
        args.extend_from_slice(flags);
        let out = run_kiln(&args, Duration::from_secs(60));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{flags:?}: {stderr}");
        assert_eq!(out.status.code(), Some(2), "{flags:?}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains("serving"));
    }
}

/// Without the `remote` feature a server's address is refused up front, naming the feature.
#[cfg(not(feature = "remote"))]
#[test]
fn remote_devices_need_the_feature() {
    let out = run_kiln(
        &[
            "train",
            "--devices",
            "ws://127.0.0.1:3000,local",
            "--epochs",
            "1",
        ],
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--features remote"), "{stderr}");
    assert_eq!(out.status.code(), Some(2));
}

/// resnet20 (19 batch norms, synchronized) on two loopback servers that want a token: the same
/// `metrics.csv` and running statistics as one local device, the servers recorded in
/// `config.json`, the token not.
#[cfg(feature = "remote")]
#[test]
fn resnet20_on_two_servers_trains_as_one_device() {
    if no_fashion_mnist() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let token = write_token(tmp.path(), "resnet-secret");
    let servers = [
        Server::start(0, Some(&token)),
        Server::start(0, Some(&token)),
    ];
    let devices = format!("{},{}", servers[0].address, servers[1].address);
    let run = |name: &str, extra: &[&str]| {
        let art = tmp.path().join(name);
        let mut args = fashion_args("resnet20", 2, &art);
        args.extend(["--optimizer", "sgd", "--momentum", "0", "--lr", "0.00001"].map(String::from));
        args.extend(extra.iter().map(|s| s.to_string()));
        let out = run_kiln(&strs(&args), Duration::from_secs(300));
        assert!(out.status.success(), "{}", text(&out));
        art
    };
    let one = run("one", &[]);
    let two = run(
        "two",
        &[
            "--devices",
            &devices,
            "--token-file",
            token.to_str().unwrap(),
        ],
    );
    assert_eq!(common::assert_same_metrics(&one, &two, 1e-4), 4);
    common::assert_same_running_statistics(&one, &two, "resnet20", 1e-5);
    let recorded = std::fs::read_to_string(two.join("config.json")).unwrap();
    assert!(!recorded.contains("resnet-secret"));
    let config: Value = serde_json::from_str(&recorded).unwrap();
    assert_eq!(config["devices"], 2);
    assert_eq!(
        config["device_list"],
        serde_json::json!([servers[0].address, servers[1].address])
    );
}

/// mnist-cnn on two servers, then the same run with one server killed mid-run and restarted:
/// a clean error naming it, the last epoch's state kept, and `--resume` ending like the
/// uninterrupted run. mnist-cnn has dropout, whose masks a split batch draws per shard, so the
/// comparison with one device is made without it: a recorded config.json with `dropout` 0,
/// replayed on one device and (its `device_list` set) on the servers.
#[cfg(feature = "remote")]
#[test]
fn mnist_cnn_on_two_servers_survives_a_server_that_stops() {
    if no_fashion_mnist() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut servers = [Server::start(0, None), Server::start(0, None)];
    let base = tmp.path().join("base");
    let mut args = fashion_args("mnist-cnn", 3, &base);
    args.extend(["--optimizer", "sgd", "--momentum", "0", "--lr", "0.0001"].map(String::from));
    let out = run_kiln(&strs(&args), Duration::from_secs(300));
    assert!(out.status.success(), "{}", text(&out));
    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(base.join("config.json")).unwrap()).unwrap();
    config["model"]["dropout"] = 0.0.into();
    let one_device = write_json(&tmp.path().join("one.json"), &config);
    config["devices"] = 2.into();
    config["device_list"] = serde_json::json!([servers[0].address, servers[1].address]);
    let on_servers = write_json(&tmp.path().join("servers.json"), &config);
    let replay = |file: &Path, name: &str| {
        let art = tmp.path().join(name);
        let args = [
            "train",
            "--config",
            path(file),
            "--artifact-dir",
            path(&art),
        ];
        (run_kiln(&args, Duration::from_secs(300)), art)
    };
    let (out, one) = replay(&one_device, "one");
    assert!(out.status.success(), "{}", text(&out));
    let (out, two) = replay(&on_servers, "two");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(common::assert_same_metrics(&one, &two, 1e-4), 6);
    common::assert_same_running_statistics(&one, &two, "mnist-cnn", 1e-5);

    // The same run, the second server killed once the first epoch is recorded.
    let killed = tmp.path().join("killed");
    let mut child = spawn_kiln(&[
        "train",
        "--config",
        path(&on_servers),
        "--artifact-dir",
        path(&killed),
    ]);
    wait_for(Duration::from_secs(120), || {
        std::fs::read_to_string(killed.join("metrics.csv"))
            .is_ok_and(|csv| csv.lines().any(|l| l.starts_with("1,valid")))
    });
    let port = servers[1].port;
    servers[1].stop();
    let out = finish(&mut child, Duration::from_secs(120));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(stderr.contains(&servers[1].address), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let status = std::fs::read_to_string(killed.join("status.json")).unwrap();
    assert!(status.contains("\"failed\""), "{status}");
    let csv = std::fs::read_to_string(killed.join("metrics.csv")).unwrap();
    assert!(
        !csv.contains("\n3,valid"),
        "the run ended before the server stopped:\n{csv}"
    );

    servers[1] = Server::start(port, None);
    let out = run_kiln(
        &["train", "--resume", path(&killed)],
        Duration::from_secs(300),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(common::assert_same_metrics(&two, &killed, 1e-6), 6);
}

/// A server that wants a token refuses a client with another one, or none: nothing trains and
/// no run directory is made.
#[cfg(feature = "remote")]
#[test]
fn a_wrong_token_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let token = write_token(tmp.path(), "right");
    let server = Server::start(0, Some(&token));
    let wrong = tmp.path().join("wrong");
    std::fs::write(&wrong, "wrong").unwrap();
    let art = tmp.path().join("art");
    for token_flag in [vec!["--token-file", path(&wrong)], vec![]] {
        let mut args = vec![
            "train",
            "--backend",
            "flex",
            "--devices",
            &server.address,
            "--artifact-dir",
            path(&art),
        ];
        args.extend(token_flag);
        let out = run_kiln(&args, Duration::from_secs(120));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(
            stderr.contains(&format!("cannot connect to the server {}", server.address))
                && stderr.contains("rejected the credential"),
            "{stderr}"
        );
        assert!(!art.exists());
    }
}

/// Iroh on loopback, relays off: the client dials the server's id at its address.
#[cfg(feature = "remote")]
#[test]
fn iroh_serves_on_loopback_without_relays() {
    if no_fashion_mnist() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let token = write_token(tmp.path(), "iroh-secret");
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|socket| socket.local_addr())
        .unwrap()
        .port();
    let key = tmp.path().join("server.key");
    let server = Server::spawn(&[
        "--listen".into(),
        format!("iroh:{port}"),
        "--relays".into(),
        "disabled".into(),
        "--key-file".into(),
        path(&key).into(),
        "--token-file".into(),
        path(&token).into(),
    ]);
    assert!(server.address.starts_with("iroh://"), "{}", server.address);
    let device = format!("{}@127.0.0.1:{port}", server.address);
    let art = tmp.path().join("art");
    let mut args = fashion_args("mnist-cnn", 1, &art);
    args.extend(
        [
            "--limit",
            "300",
            "--devices",
            &device,
            "--token-file",
            path(&token),
        ]
        .map(String::from),
    );
    let out = run_kiln(&strs(&args), Duration::from_secs(300));
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("device: {device} connected")));
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(art.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["device_list"], serde_json::json!([device]));
    assert!(key.is_file(), "the key is kept for the next start");
}

/// A `kiln serve` child process on 127.0.0.1, killed when dropped.
struct Server {
    child: Option<Child>,
    /// What `--devices` takes to reach it.
    address: String,
    port: u16,
}

impl Server {
    /// A WebSocket server of the CPU device on `port` (0: any free one), wanting `token`'s
    /// contents when given.
    fn start(port: u16, token: Option<&Path>) -> Server {
        let mut flags = vec!["--listen".to_string(), format!("ws://127.0.0.1:{port}")];
        if let Some(token) = token {
            flags.extend(["--token-file".to_string(), path(token).to_string()]);
        }
        Server::spawn(&flags)
    }

    /// `kiln serve --backend flex FLAGS…`, once it prints the address it serves on.
    fn spawn(flags: &[String]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kiln"))
            .args(["serve", "--backend", "flex"])
            .args(flags)
            .env_remove(kiln::remote::TOKEN_ENV)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (lines, received) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child: Some(child),
            address: String::new(),
            port: 0,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while server.address.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = received
                .recv_timeout(left)
                .expect("kiln serve printed no address");
            if let Some((_, address)) = line.split_once(" device(s) on ") {
                server.address = address.to_string();
            }
        }
        server.port = server
            .address
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        server
    }

    /// Kills the server (as a machine that goes away would), and waits for it.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `kiln train` on `limit` 3000 Fashion-MNIST images, `epochs` epochs of `model` on the CPU
/// into `art`.
fn fashion_args(model: &str, epochs: usize, art: &Path) -> Vec<String> {
    let epochs = epochs.to_string();
    let args = [
        "train",
        "--dataset",
        "fashion-mnist",
        "--data-dir",
        FASHION,
        "--limit",
        "3000",
        "--epochs",
        &epochs,
        "--model",
        model,
        "--backend",
        "flex",
        "--artifact-dir",
        path(art),
    ];
    args.map(String::from).to_vec()
}

/// Whether Debian's Fashion-MNIST is missing (then the test says it skipped).
fn no_fashion_mnist() -> bool {
    let missing = !Path::new(FASHION).is_dir();
    if missing {
        common::skipped("remote: Debian's dataset-fashion-mnist is not installed");
    }
    missing
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn path(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn write_token(dir: &Path, token: &str) -> PathBuf {
    let file = dir.join(format!("{token}.token"));
    std::fs::write(&file, format!("{token}\n")).unwrap();
    file
}

fn write_json(file: &Path, value: &Value) -> PathBuf {
    std::fs::write(file, serde_json::to_string_pretty(value).unwrap()).unwrap();
    file.to_path_buf()
}

/// `kiln ARGS…` offline, without a token in the environment.
fn spawn_kiln(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .env("KILN_OFFLINE", "1")
        .env_remove("KILN_DATA_DIR")
        .env_remove(kiln::remote::TOKEN_ENV)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// [`spawn_kiln`] to its end, killed (and the test failed) past `limit`.
fn run_kiln(args: &[&str], limit: Duration) -> Output {
    let mut child = spawn_kiln(args);
    finish(&mut child, limit)
}

/// `child`'s output once it exits; killed, and the test failed, past `limit`.
fn finish(child: &mut Child, limit: Duration) -> Output {
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let read = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let out = read(stdout.map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
    let err = read(stderr.map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("kiln ran past {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Polls `ready` until it holds; fails the test past `limit`.
fn wait_for(limit: Duration, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "not ready within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
