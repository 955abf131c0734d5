//! A run's directory: claimed by one process at a time (an exclusive lock on
//! [`artifacts::LOCK`](crate::artifacts::LOCK) for the run's whole life, released by the OS
//! when the process ends, however it ends), and never replaced or mixed with another run by
//! accident ([`DirPolicy`]). Its state is recorded in [`artifacts::STATUS`](crate::artifacts::STATUS)
//! ([`RunStatus`]).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::TrainError;
use crate::run::artifacts;

/// Where a new run writes, given its artifact directory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DirPolicy {
    /// In the artifact directory itself; refused ([`TrainError::RunExists`]) when it holds a
    /// run.
    #[default]
    New,
    /// In the artifact directory itself; a run it holds is deleted first (`--overwrite`).
    Overwrite,
    /// In a new `version-N` directory under the artifact directory, N one more than the
    /// highest there (Lightning's `version_N`): the CLI's default.
    NextVersion,
}

/// The prefix of versioned run directories.
pub const VERSION_PREFIX: &str = "version-";

/// What a run is doing or how it ended, as [`artifacts::STATUS`] records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// Started and not ended (or killed: then its lock is free).
    Running,
    /// Trained and evaluated.
    Finished,
    /// Stopped by an error.
    Failed,
    /// Stopped by Ctrl-C (or killed), resumable from its training state.
    Interrupted,
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Running => "running",
            Self::Finished => "finished",
            Self::Failed => "failed",
            Self::Interrupted => "interrupted",
        })
    }
}

/// The contents of [`artifacts::STATUS`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunStatus {
    /// The state when last written.
    pub state: RunState,
    /// When the run first started (RFC 3339, UTC).
    pub started: String,
    /// When it last ended, if it has.
    pub ended: Option<String>,
    /// Wall-clock seconds of every finished stretch of the run (a resumed run adds up).
    pub seconds: f64,
    /// The process of the latest stretch.
    pub pid: u32,
    /// Its command line.
    pub command: String,
    /// Why it failed.
    pub error: Option<String>,
}

impl RunStatus {
    /// The status of the run in `dir`, if it has one.
    pub fn read(dir: &Path) -> Result<Option<Self>, TrainError> {
        read_json_if_any(&dir.join(artifacts::STATUS))
    }

    fn write(&self, dir: &Path) -> Result<(), TrainError> {
        let path = dir.join(artifacts::STATUS);
        let tmp = dir.join(format!("{}.tmp", artifacts::STATUS));
        crate::run::write_json(&tmp, self)?;
        std::fs::rename(&tmp, &path).map_err(|e| TrainError::artifact(&path, e))
    }
}

/// The JSON file at `path` as `T`; `None` when there is no such file.
pub(crate) fn read_json_if_any<T: serde::de::DeserializeOwned>(
    path: &Path,
) -> Result<Option<T>, TrainError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| TrainError::artifact(path, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(TrainError::artifact(path, e)),
    }
}

/// Whether `dir` holds a run: kiln's `status.json`, or a `config.json` that is a run's
/// (an object with `dataset` and `training`; any other `config.json` is not kiln's).
pub fn holds_run(dir: &Path) -> bool {
    if dir.join(artifacts::STATUS).is_file() {
        return true;
    }
    let config = read_json_if_any::<serde_json::Value>(&dir.join(artifacts::CONFIG));
    matches!(config, Ok(Some(v)) if v.get("dataset").is_some() && v.get("training").is_some())
}

/// Whether a process holds the lock of the run in `dir` now (and who, as its lock file says).
/// The probe takes a shared lock for an instant; [`lock`] retries past it.
pub fn lock_holder(dir: &Path) -> Result<Option<String>, TrainError> {
    let path = dir.join(artifacts::LOCK);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(TrainError::artifact(&path, e)),
    };
    match file.try_lock_shared() {
        Ok(()) => Ok(None),
        Err(TryLockError::WouldBlock) => Ok(Some(holder(&path))),
        Err(TryLockError::Error(e)) => Err(TrainError::artifact(&path, e)),
    }
}

/// Who holds the lock file at `path`, as written in it.
fn holder(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    match text.trim() {
        "" => "another process (starting, or `kiln runs` reading it)".to_string(),
        holder => holder.to_string(),
    }
}

/// A run's directory, claimed: its lock held until this is dropped. Dropped without
/// [`end`](Self::end) or [`abandon`](Self::abandon) (a panic), a begun run records itself
/// failed.
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
    lock: File,
    status: RunStatus,
    stretch: std::time::Instant,
    /// What claiming created, removed again if the run never begins ([`Self::abandon`]).
    created_dir: bool,
    created_lock: bool,
    /// The run it holds is deleted when this one begins (`--overwrite`).
    replace: bool,
    begun: bool,
    ended: bool,
}

impl RunDir {
    /// Claims a directory for a new run in `dir` by `policy`. Refused: a directory holding a
    /// run (unless `Overwrite`) or runs under it, one in use, and as the parent of versions, a
    /// directory that holds a run itself (kiln's layout before `version-N`).
    pub fn claim_new(dir: &Path, policy: DirPolicy) -> Result<Self, TrainError> {
        if policy == DirPolicy::NextVersion && holds_run(dir) {
            return Err(TrainError::RunExists {
                dir: dir.to_path_buf(),
                status: state_when_free(dir),
                parent: true,
            });
        }
        if policy != DirPolicy::NextVersion {
            refuse_a_tree(dir)?;
            if policy == DirPolicy::New && holds_run(dir) {
                return Err(refusal(dir)?);
            }
        }
        let (path, created_dir) = match policy {
            DirPolicy::NextVersion => (next_version(dir)?, true),
            DirPolicy::New | DirPolicy::Overwrite => {
                let created = !dir.exists();
                std::fs::create_dir_all(dir).map_err(|e| TrainError::artifact(dir, e))?;
                (dir.to_path_buf(), created)
            }
        };
        let mut claimed = Self::claim(path, None, created_dir)?;
        if holds_run(&claimed.path) {
            match policy {
                DirPolicy::Overwrite => claimed.replace = true,
                // Another process began a run in it between the check and the lock.
                _ => return Err(claimed.refuse()),
            }
        }
        Ok(claimed)
    }

    /// Claims the directory of the run in `dir` to continue it (`--resume`).
    pub fn claim_existing(dir: &Path) -> Result<Self, TrainError> {
        if !dir.join(artifacts::CONFIG).exists() {
            let why = "holds no run to resume (no config.json)";
            return Err(TrainError::artifact(dir, why));
        }
        Self::claim(dir.to_path_buf(), RunStatus::read(dir)?, false)
    }

    /// Locks `path`, continuing the `earlier` status of a resumed run; on failure, what was
    /// created is removed.
    fn claim(
        path: PathBuf,
        earlier: Option<RunStatus>,
        created_dir: bool,
    ) -> Result<Self, TrainError> {
        let (lock, created_lock) = match lock(&path) {
            Ok(locked) => locked,
            Err(e) => {
                if created_dir {
                    let _ = std::fs::remove_dir(&path);
                }
                return Err(e);
            }
        };
        let status = RunStatus {
            state: RunState::Running,
            started: earlier
                .as_ref()
                .map_or_else(timestamp, |s| s.started.clone()),
            ended: None,
            seconds: earlier.map_or(0.0, |s| s.seconds),
            pid: std::process::id(),
            command: command_line(),
            error: None,
        };
        let mut claimed = Self {
            path,
            lock,
            status,
            stretch: std::time::Instant::now(),
            created_dir,
            created_lock,
            replace: false,
            begun: false,
            ended: false,
        };
        let text = format!("PID {} ({})\n", claimed.status.pid, claimed.status.command);
        if let Err(e) = claimed.write_lock_file(&text) {
            let _ = claimed.abandon();
            return Err(e);
        }
        Ok(claimed)
    }

    /// The run's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The run's first write: the run the directory held deleted (`--overwrite`; not before,
    /// so that a run that cannot start replaces nothing), and `status.json` written as
    /// running.
    pub fn begin(&mut self) -> Result<(), TrainError> {
        self.begun = true;
        if std::mem::take(&mut self.replace) {
            clear(&self.path)?;
        }
        self.status.write(&self.path)
    }

    /// Whether the run has begun ([`Self::begin`]).
    pub fn begun(&self) -> bool {
        self.begun
    }

    /// Records how the run ended: finished, interrupted (Ctrl-C) or failed (with the error);
    /// the lock file no longer names this process.
    pub fn end(mut self, result: Result<(), &TrainError>) -> Result<(), TrainError> {
        self.ended = true;
        self.status.state = match result {
            Ok(()) => RunState::Finished,
            Err(TrainError::Interrupted { .. }) => RunState::Interrupted,
            Err(_) => RunState::Failed,
        };
        self.status.error = result.err().map(error_chain);
        self.record_end()?;
        self.write_lock_file("")
    }

    /// The status at the end of a stretch, written.
    fn record_end(&mut self) -> Result<(), TrainError> {
        self.status.ended = Some(timestamp());
        self.status.seconds += self.stretch.elapsed().as_secs_f64();
        self.status.write(&self.path)
    }

    /// A run that stopped before it began: what claiming created is removed, so that the
    /// directory is as it was. (The lock file is removed while still locked: the claim of a
    /// process that opened it meanwhile fails [`lock`]'s check that it locked the file at
    /// the path.)
    pub fn abandon(mut self) -> Result<(), TrainError> {
        self.ended = true;
        let lock = self.path.join(artifacts::LOCK);
        match self.created_lock {
            true => std::fs::remove_file(&lock).map_err(|e| TrainError::artifact(&lock, e))?,
            false => self.write_lock_file("")?,
        }
        if self.created_dir {
            // Only if empty: nothing else is ever removed.
            let _ = std::fs::remove_dir(&self.path);
        }
        Ok(())
    }

    /// The refusal of a directory that turned out to hold a run, once what claiming created
    /// is removed.
    fn refuse(self) -> TrainError {
        let dir = self.path.clone();
        match self.abandon() {
            Ok(()) => refusal(&dir).unwrap_or_else(|e| e),
            Err(e) => e,
        }
    }

    /// Replaces the lock file's text (who holds it).
    fn write_lock_file(&mut self, text: &str) -> Result<(), TrainError> {
        let path = self.path.join(artifacts::LOCK);
        (self.lock.set_len(0))
            .and_then(|()| self.lock.rewind())
            .and_then(|()| self.lock.write_all(text.as_bytes()))
            .map_err(|e| TrainError::artifact(&path, e))
    }
}

impl Drop for RunDir {
    /// A begun run dropped without [`RunDir::end`] (a panic unwinding) records itself failed.
    fn drop(&mut self) {
        if self.begun && !self.ended {
            self.status.state = RunState::Failed;
            self.status.error = Some("the process panicked".into());
            let _ = self.record_end();
        }
    }
}

/// A run recorded as running whose lock is free was killed: interrupted.
fn state_when_free(dir: &Path) -> Option<RunState> {
    RunStatus::read(dir).ok().flatten().map(|s| match s.state {
        RunState::Running => RunState::Interrupted,
        state => state,
    })
}

/// Why a new run may not use `dir`, which holds a run: in use by a process, or not.
fn refusal(dir: &Path) -> Result<TrainError, TrainError> {
    Ok(match lock_holder(dir)? {
        Some(holder) => TrainError::RunLocked {
            dir: dir.to_path_buf(),
            holder,
        },
        None => TrainError::RunExists {
            dir: dir.to_path_buf(),
            status: state_when_free(dir),
            parent: false,
        },
    })
}

/// A directory given for one run must not have runs under it (`--overwrite` would delete
/// them all; a run beside them would be mixed with them). Looked for three levels down
/// (`artifacts/<name>/version-N` is two), not through a whole home directory.
fn refuse_a_tree(dir: &Path) -> Result<(), TrainError> {
    if !dir.is_dir() {
        return Ok(());
    }
    let runs: Vec<PathBuf> = (crate::runs::run_dirs_within(dir, 3)?.into_iter())
        .filter(|r| r != dir)
        .collect();
    match runs.is_empty() {
        true => Ok(()),
        false => Err(TrainError::RunsInside {
            dir: dir.to_path_buf(),
            runs,
        }),
    }
}

/// Opens (creating) and locks `dir`'s lock file; refused when a process holds it. A holder
/// that stays past a few tries is a run; a moment's hold is `kiln runs` probing. The file
/// locked must still be the one at the path (a claim abandoned meanwhile removes it).
fn lock(dir: &Path) -> Result<(File, bool), TrainError> {
    let path = dir.join(artifacts::LOCK);
    let mut tries = 0;
    loop {
        let created = !path.exists();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| TrainError::artifact(&path, e))?;
        match file.try_lock() {
            Ok(()) if same_file(&file, &path) => return Ok((file, created)),
            Ok(()) => {}
            Err(TryLockError::WouldBlock) if tries >= 5 => {
                return Err(TrainError::RunLocked {
                    dir: dir.to_path_buf(),
                    holder: holder(&path),
                });
            }
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => return Err(TrainError::artifact(&path, e)),
        }
        tries += 1;
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Whether `file` is the file now at `path`.
#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

/// Elsewhere a file that is open cannot be removed: it is the file at the path.
#[cfg(not(unix))]
fn same_file(_file: &File, path: &Path) -> bool {
    path.exists()
}

/// Creates `parent/version-N`, N one more than the highest version there; two processes
/// racing get different N (creating a directory that exists fails).
fn next_version(parent: &Path) -> Result<PathBuf, TrainError> {
    std::fs::create_dir_all(parent).map_err(|e| TrainError::artifact(parent, e))?;
    let entries = std::fs::read_dir(parent).map_err(|e| TrainError::artifact(parent, e))?;
    let highest = (entries.flatten())
        .filter_map(|e| version_of(&e.file_name().to_string_lossy()))
        .max();
    let mut n = highest.map_or(1, |h| h + 1);
    loop {
        let path = parent.join(format!("{VERSION_PREFIX}{n}"));
        match std::fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
            Err(e) => return Err(TrainError::artifact(&path, e)),
        }
    }
}

/// N of a directory named `version-N`.
pub fn version_of(name: &str) -> Option<u64> {
    name.strip_prefix(VERSION_PREFIX)?.parse().ok()
}

/// Deletes everything in `dir` but its lock file (no run is under it: [`refuse_a_tree`]).
fn clear(dir: &Path) -> Result<(), TrainError> {
    let entries = std::fs::read_dir(dir).map_err(|e| TrainError::artifact(dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| TrainError::artifact(dir, e))?.path();
        if path.file_name().is_some_and(|n| n == artifacts::LOCK) {
            continue;
        }
        let removed = match path.is_dir() && !path.is_symlink() {
            true => std::fs::remove_dir_all(&path),
            false => std::fs::remove_file(&path),
        };
        removed.map_err(|e| TrainError::artifact(&path, e))?;
    }
    Ok(())
}

/// The error and its causes, `: `-separated.
fn error_chain(error: &TrainError) -> String {
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = c.source();
    }
    text
}

/// Now, RFC 3339 in UTC to the second.
pub(crate) fn timestamp() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// This process's command line, as typed (arguments with spaces quoted).
fn command_line() -> String {
    let args = std::env::args().map(|a| match a.contains(' ') {
        true => format!("'{a}'"),
        false => a,
    });
    let mut args: Vec<String> = args.collect();
    if let Some(program) = args.first_mut()
        && let Some(name) = Path::new(program.as_str()).file_name()
    {
        *program = name.to_string_lossy().into_owned();
    }
    args.join(" ")
}
