//! `kiln train --config run.toml`: a file of flag settings, one key per `kiln train` flag.
//!
//! ```toml
//! model = "resnet20"
//! epochs = 30
//! optimizer = "sgd"
//! lr-milestones = [15, 25]   # or lr_milestones
//! metric = ["macro_f1", "recall:Shirt"]
//! stratify = true
//! ```
//!
//! Each key is a flag's long name (dashes or underscores); a value becomes the flag's value, an
//! array one occurrence per element, `true` a bare switch, `false` nothing. A flag also given on
//! the command line replaces the file's setting entirely (lists included); a command-line flag
//! that conflicts with a different one in the file (`--image-folder` against `dataset`) is an
//! error naming both — edit the file.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::CommandFactory;

use super::error::CliError;
use super::train::TrainArgs;

/// `kiln train`'s flags, for their names.
#[derive(clap::Parser)]
struct TrainFlags {
    #[command(flatten)]
    args: TrainArgs,
}

/// A flag set by a `.toml` settings file (and not overridden on the command line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagOrigin {
    /// The flag's long name (`lr`, `batch-size`).
    pub flag: String,
    /// The key as the file writes it (`batch_size`).
    pub key: String,
    /// The file.
    pub file: PathBuf,
}

/// A command line with its settings files expanded.
#[derive(Debug, Clone)]
pub struct Expanded {
    /// The arguments to parse.
    pub args: Vec<OsString>,
    /// The flags that came from a file, for [`TrainArgs::origins`].
    pub origins: Vec<FlagOrigin>,
}

/// `args` with every `--config FILE.toml` (or `--config=FILE.toml`) replaced by the file's
/// settings, placed right after the first `after` tokens (the program, and the subcommand if
/// any) so that flags given on the command line override them (parse with
/// `args_override_self`). `--config` of any other file is left for [`TrainArgs::config`].
pub fn expand_config(args: Vec<OsString>, after: usize) -> Result<Expanded, CliError> {
    let mut rest = Vec::with_capacity(args.len());
    let mut files = Vec::new();
    let mut iter = args.into_iter().peekable();
    while let Some(arg) = iter.next() {
        if arg == "--" {
            rest.push(arg);
            rest.extend(iter.by_ref());
            break;
        }
        let text = arg.to_string_lossy().into_owned();
        let file = match text.strip_prefix("--config") {
            Some("") if iter.peek().is_some_and(is_toml) => iter.next(),
            Some(v) if v.starts_with('=') && is_toml(&OsString::from(&v[1..])) => {
                Some(OsString::from(&v[1..]))
            }
            _ => None,
        };
        match file {
            Some(f) => files.push(f),
            None => rest.push(arg),
        }
    }
    // Flags the command line sets replace the file's.
    let given: Vec<String> = rest
        .iter()
        .skip(after)
        .filter_map(|a| a.to_str()?.strip_prefix("--").map(flag_name))
        .collect();
    let mut settings = Vec::new();
    let mut origins = Vec::new();
    for file in files {
        for (origin, token) in flags_of(Path::new(&file))? {
            if !given.contains(&origin.flag) {
                settings.push(token);
                origins.push(origin);
            }
        }
    }
    let split = rest.len().min(after);
    let tail = rest.split_off(split);
    rest.extend(settings);
    rest.extend(tail);
    Ok(Expanded {
        args: rest,
        origins,
    })
}

/// The name of `name[=value]`.
fn flag_name(token: &str) -> String {
    token.split('=').next().unwrap_or_default().to_string()
}

fn is_toml(path: &OsString) -> bool {
    Path::new(path)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
}

/// The settings in `file`: where each flag was set and its command-line token (`--flag` or
/// `--flag=value`, one token so that a value starting with `-` stays a value).
fn flags_of(file: &Path) -> Result<Vec<(FlagOrigin, OsString)>, CliError> {
    let bad = |message: String| CliError::Flag {
        flag: "--config",
        message: format!("{}: {message}", file.display()),
    };
    let text = std::fs::read_to_string(file).map_err(|e| bad(e.to_string()))?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let command = TrainFlags::command();
    let known: Vec<&str> = command
        .get_arguments()
        .filter_map(|a| a.get_long())
        .collect();
    let mut out = Vec::new();
    for (key, value) in table {
        let flag = key.replace('_', "-");
        if flag == "config" || !known.contains(&flag.as_str()) {
            return Err(bad(format!("`{key}` is not a kiln train flag")));
        }
        let values = match value {
            toml::Value::Array(items) => items,
            single => vec![single],
        };
        for v in values {
            let text = match v {
                toml::Value::Boolean(true) => None,
                toml::Value::Boolean(false) => continue,
                toml::Value::String(s) => Some(s),
                toml::Value::Integer(i) => Some(i.to_string()),
                toml::Value::Float(f) => Some(f.to_string()),
                other => {
                    return Err(bad(format!(
                        "`{key}`: {} is not a flag value",
                        other.type_str()
                    )));
                }
            };
            let token = match text {
                Some(value) => format!("--{flag}={value}"),
                None => format!("--{flag}"),
            };
            let origin = FlagOrigin {
                flag: flag.clone(),
                key: key.clone(),
                file: file.to_path_buf(),
            };
            out.push((origin, OsString::from(token)));
        }
    }
    Ok(out)
}
