//! Verified downloads: stream to a temporary file beside the destination, check its digest,
//! then rename into place — a destination path never holds a partial or unverified file.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use crate::checksum::Checksum;
use crate::error::DataError;

/// Downloads `url` to `dest`, verifying its digest before an atomic rename.
///
/// A progress bar is drawn on stderr when it is a terminal.
pub fn download_file(url: &str, dest: &Path, checksum: Checksum) -> Result<(), DataError> {
    let fail = |source: Box<dyn std::error::Error + Send + Sync>| DataError::Download {
        url: url.to_string(),
        source,
    };
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DataError::Io { path, source }
    };
    // Bounded waits: a network that drops packets must fail with the not-found message, not hang.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_resolve(Some(Duration::from_secs(15)))
        .timeout_connect(Some(Duration::from_secs(15)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .build()
        .into();
    let response = agent.get(url).call().map_err(|e| fail(e.into()))?;
    let total = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let dir = dest.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".kiln-download-")
        .tempfile_in(dir)
        .map_err(io(dir))?;
    let bar = progress_bar(total, dest);
    let mut reader = response.into_body().into_reader();
    let mut buf = vec![0u8; 1 << 16];
    let mut received = 0u64;
    loop {
        let n = reader.read(&mut buf).map_err(|e| fail(e.into()))?;
        if n == 0 {
            break;
        }
        tmp.write_all(&buf[..n]).map_err(io(tmp.path()))?;
        received += n as u64;
        bar.set_position(received);
    }
    bar.finish_and_clear();
    if let Some(total) = total.filter(|&t| t != received) {
        return Err(fail(format!("received {received} of {total} bytes").into()));
    }
    tmp.as_file().flush().map_err(io(tmp.path()))?;
    checksum.verify(tmp.path()).map_err(|e| match e {
        DataError::Checksum {
            expected, actual, ..
        } => DataError::Checksum {
            path: dest.to_path_buf(),
            expected,
            actual,
        },
        other => other,
    })?;
    tmp.as_file().sync_all().map_err(io(tmp.path()))?;
    tmp.persist(dest).map_err(|e| DataError::Io {
        path: dest.to_path_buf(),
        source: e.error,
    })?;
    Ok(())
}

fn progress_bar(total: Option<u64>, dest: &Path) -> indicatif::ProgressBar {
    let bar = match total {
        Some(t) => indicatif::ProgressBar::new(t),
        None => indicatif::ProgressBar::new_spinner(),
    };
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned());
    bar.set_message(format!("downloading {}", name.unwrap_or_default()));
    bar
}
