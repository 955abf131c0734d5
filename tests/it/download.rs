//! Verified download against a one-shot HTTP server on loopback.
#![cfg(feature = "download")]

use std::io::{Read, Write};
use std::net::TcpListener;

use kiln::data::{Checksum, DataError, download_file, sha256_file};

/// Serves `body` to `requests` connections on 127.0.0.1, then stops. Returns the base URL.
fn serve(body: Vec<u8>, requests: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let mut stream = stream.unwrap();
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    format!("http://{addr}/")
}

#[test]
fn download_verifies_then_renames() {
    let body: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::write(&src, &body).unwrap();
    let sha = sha256_file(&src).unwrap();
    let url = serve(body.clone(), 2);

    let dest = tmp.path().join("out.gz");
    // Checksums live in static dataset tables; a test's computed digest is leaked to match.
    let sha: &'static str = Box::leak(sha.into_boxed_str());
    download_file(&format!("{url}file"), &dest, Checksum::Sha256(sha)).unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), body);

    // A wrong digest leaves nothing behind at the destination, nor any temporary file.
    let bad = tmp.path().join("bad.gz");
    let zeros =
        Checksum::Sha256("0000000000000000000000000000000000000000000000000000000000000000");
    let err = download_file(&format!("{url}file"), &bad, zeros).unwrap_err();
    assert!(matches!(err, DataError::Checksum { .. }), "{err}");
    assert!(!bad.exists());
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".kiln-download")
        })
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn unreachable_mirror_is_a_download_error() {
    let tmp = tempfile::tempdir().unwrap();
    // Port 9 on loopback: nothing listens (connection refused at once).
    let err = download_file(
        "http://127.0.0.1:9/x.gz",
        &tmp.path().join("x"),
        Checksum::Md5("00000000000000000000000000000000"),
    )
    .unwrap_err();
    assert!(matches!(err, DataError::Download { .. }), "{err}");
}
