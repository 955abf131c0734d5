//! Where a dataset's files come from, in a fixed, documented order.
//!
//! 1. `--data-dir DIR` (the directory itself holds the files);
//! 2. `$KILN_DATA_DIR/<name>`;
//! 3. the user cache, `$KILN_CACHE_DIR/<name>` or else `~/.cache/kiln/<name>` (`.gz` files there
//!    are checked against the table's SHA-256, since only kiln writes them; a mismatch makes the
//!    search go on, and a download then replaces the file);
//! 4. `/usr/share/datasets/<name>`, where Debian's dataset packages install
//!    (e.g. `dataset-fashion-mnist`);
//! 5. a download from the canonical mirrors into the cache (cargo feature `download`, skipped
//!    when offline);
//!
//! and otherwise a [`DataError::NotFound`] listing every place looked and how to fix it.
//! A directory counts only if it holds the whole dataset: for the IDX family all four files,
//! each either `.gz` or decompressed; for CIFAR the official `.tar.gz`, or its extracted
//! directory (`cifar-10-batches-bin/` inside the directory, or the directory itself).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::DataError;
#[cfg(feature = "download")]
use crate::spec::FileSpec;
use crate::spec::{DatasetFormat, DatasetSpec};

/// Which rung of the resolution order supplied a dataset's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The `--data-dir` flag.
    DataDir,
    /// `$KILN_DATA_DIR/<name>`.
    EnvDir,
    /// The user cache.
    Cache,
    /// `/usr/share/datasets/<name>`.
    System,
    /// Downloaded just now into the cache.
    Downloaded,
    /// An image folder given by its root (`--image-folder`).
    ImageFolder,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::DataDir => "--data-dir",
            Self::EnvDir => "KILN_DATA_DIR",
            Self::Cache => "cache",
            Self::System => "system dataset package",
            Self::Downloaded => "downloaded",
            Self::ImageFolder => "--image-folder",
        })
    }
}

/// The located files of a dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetFiles {
    /// The directory holding them.
    pub dir: PathBuf,
    /// Where in the resolution order they were found.
    pub source: Source,
    /// IDX: training images, training labels, test images, test labels. CIFAR: the `.tar.gz`
    /// or the extracted directory. Image folder: the training and test split directories.
    pub paths: Vec<PathBuf>,
}

/// The places to look, in order. Build it with [`Resolver::from_env`], or set the fields
/// directly (tests do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolver {
    /// `--data-dir`: holds the files directly.
    pub data_dir: Option<PathBuf>,
    /// `$KILN_DATA_DIR`: holds one sub-directory per dataset.
    pub env_root: Option<PathBuf>,
    /// Cache root: holds one sub-directory per dataset; downloads go here.
    pub cache_root: Option<PathBuf>,
    /// System root, `/usr/share/datasets`.
    pub system_root: Option<PathBuf>,
    /// Whether step 5 (download) may run.
    pub download: bool,
}

impl Resolver {
    /// The standard order: `data_dir`, then `$KILN_DATA_DIR`, `$KILN_CACHE_DIR` (or the user
    /// cache dir + `kiln`), `/usr/share/datasets`, and a download unless `offline` or
    /// `$KILN_OFFLINE` is set (or the `download` feature is off).
    pub fn from_env(data_dir: Option<PathBuf>, offline: bool) -> Self {
        let var = |k| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Self {
            data_dir,
            env_root: var("KILN_DATA_DIR"),
            cache_root: var("KILN_CACHE_DIR").or_else(|| dirs::cache_dir().map(|d| d.join("kiln"))),
            system_root: Some(PathBuf::from("/usr/share/datasets")),
            download: cfg!(feature = "download")
                && !offline
                && std::env::var_os("KILN_OFFLINE").is_none_or(|v| v.is_empty() || v == "0"),
        }
    }

    /// The directories looked in, in order, with the source each stands for.
    pub fn candidates(&self, spec: &DatasetSpec) -> Vec<(PathBuf, Source)> {
        let mut out = Vec::new();
        if let Some(d) = &self.data_dir {
            out.push((d.clone(), Source::DataDir));
        }
        let roots = [
            (&self.env_root, Source::EnvDir),
            (&self.cache_root, Source::Cache),
            (&self.system_root, Source::System),
        ];
        for (root, source) in roots {
            if let Some(root) = root {
                out.push((root.join(spec.name), source));
            }
        }
        out
    }

    /// Finds the dataset's files, downloading them if allowed and needed.
    pub fn resolve(&self, spec: &DatasetSpec) -> Result<DatasetFiles, DataError> {
        let mut searched = Vec::new();
        for (dir, source) in self.candidates(spec) {
            // A cache file failing its checksum does not stop the search: later places, or a
            // fresh download over it, may still supply the dataset.
            let found = locate_in(&dir, spec).and_then(|files| match source {
                Source::Cache => verify_checksums(spec, &files)
                    .map(|()| files)
                    .map_err(|e| e.to_string()),
                _ => Ok(files),
            });
            match found {
                Ok(files) => return Ok(assemble(dir, source, files)),
                Err(why) => searched.push((dir, why)),
            }
        }
        let download = match (&self.cache_root, self.download) {
            (_, false) if cfg!(feature = "download") => {
                "disabled by --offline or KILN_OFFLINE".to_string()
            }
            (_, false) => "kiln was built without the `download` feature".to_string(),
            (None, true) => "no cache directory to download into".to_string(),
            (Some(root), true) => match download_into(&root.join(spec.name), spec) {
                Ok(files) => return Ok(assemble(root.join(spec.name), Source::Downloaded, files)),
                Err(e) => e.to_string(),
            },
        };
        Err(DataError::NotFound {
            dataset: spec.name.to_string(),
            searched,
            download,
        })
    }
}

fn assemble(dir: PathBuf, source: Source, paths: Vec<PathBuf>) -> DatasetFiles {
    DatasetFiles { dir, source, paths }
}

/// The dataset's files in `dir`, or a line saying what is missing.
fn locate_in(dir: &Path, spec: &DatasetSpec) -> Result<Vec<PathBuf>, String> {
    if !dir.is_dir() {
        return Err("no such directory".into());
    }
    match spec.format {
        DatasetFormat::Idx => locate_idx(dir, spec),
        DatasetFormat::Cifar(kind) => {
            let holds_records = |d: &Path| kind.members().iter().all(|f| d.join(f).is_file());
            let extracted = dir.join(kind.directory());
            let archive = spec.all_files().map(|f| dir.join(f.name));
            [extracted, dir.to_path_buf()]
                .into_iter()
                .filter(|d| holds_records(d))
                .chain(archive.filter(|a| a.is_file()))
                .next()
                .map(|p| vec![p])
                .ok_or_else(|| {
                    let names: Vec<&str> = spec.all_files().map(|f| f.name).collect();
                    format!("neither {} nor {}/", names.join(", "), kind.directory())
                })
        }
    }
}

/// The four IDX files in `dir` (each `.gz` or decompressed).
fn locate_idx(dir: &Path, spec: &DatasetSpec) -> Result<Vec<PathBuf>, String> {
    let found: Vec<Result<PathBuf, &str>> = spec
        .all_files()
        .map(|f| {
            [f.name, f.raw_name()]
                .into_iter()
                .map(|n| dir.join(n))
                .find(|p| p.is_file())
                .ok_or(f.name)
        })
        .collect();
    let missing: Vec<&str> = found
        .iter()
        .filter_map(|r| r.as_ref().err().copied())
        .collect();
    if !missing.is_empty() {
        return Err(format!("missing {}", missing.join(", ")));
    }
    Ok(found.into_iter().flatten().collect())
}

/// Checks each file under its canonical name against the table's digest (decompressed or
/// extracted files have no canonical digest and are validated structurally when read).
fn verify_checksums(spec: &DatasetSpec, files: &[PathBuf]) -> Result<(), DataError> {
    for (file, path) in spec.all_files().zip(files) {
        if path.file_name().is_some_and(|n| n == file.name) {
            file.checksum.verify(path)?;
        }
    }
    Ok(())
}

#[cfg(feature = "download")]
fn download_into(dir: &Path, spec: &DatasetSpec) -> Result<Vec<PathBuf>, DataError> {
    std::fs::create_dir_all(dir).map_err(|source| DataError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    spec.all_files()
        .map(|file| download_one(dir, spec, file))
        .collect()
}

#[cfg(feature = "download")]
fn download_one(dir: &Path, spec: &DatasetSpec, file: FileSpec) -> Result<PathBuf, DataError> {
    let dest = dir.join(file.name);
    if dest.is_file() && file.checksum.verify(&dest).is_ok() {
        return Ok(dest);
    }
    let mut errors = Vec::new();
    for mirror in spec.mirrors {
        let url = format!("{mirror}{}", file.name);
        match crate::download::download_file(&url, &dest, file.checksum) {
            Ok(()) => return Ok(dest),
            Err(e) => errors.push(e.to_string()),
        }
    }
    Err(DataError::MirrorsFailed {
        file: file.name.to_string(),
        attempts: errors,
    })
}

#[cfg(not(feature = "download"))]
fn download_into(_dir: &Path, _spec: &DatasetSpec) -> Result<Vec<PathBuf>, DataError> {
    Err(DataError::InvalidRequest(
        "built without the `download` feature".into(),
    ))
}
