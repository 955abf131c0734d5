//! `kiln serve`: this machine's devices for other machines' `kiln train --devices`.

use std::io::Write;
use std::path::PathBuf;

use crate::backend::{self, Backend};
use crate::remote::{self, IrohSettings, Listen, Token};

use super::CliError;

/// `kiln serve`'s flags.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// The backend whose devices to serve (default: as `kiln train` picks).
    #[arg(long)]
    pub backend: Option<Backend>,
    /// Serve N devices of the backend (a client connects the first; on a CPU backend, its one
    /// device).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub devices: usize,
    /// Where clients connect: ws://HOST:PORT (WebSocket, unencrypted: trusted networks only;
    /// port 0 picks a free one) or iroh[:UDP-PORT] (authenticated and encrypted, any network).
    #[arg(long, value_name = "ADDRESS", default_value = "ws://127.0.0.1:3000")]
    pub listen: String,
    /// The token clients must present, read from this file (or else from KILN_REMOTE_TOKEN;
    /// never from the command line). Without one the server listens on loopback only.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// With --listen iroh: the server's secret key, created if missing; its id, which clients
    /// dial, stays the same across restarts.
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// With --listen iroh: how clients reach the server when they cannot dial it directly:
    /// `public` (n0's relays, the default), `disabled` (clients give its address,
    /// iroh://ID@HOST:PORT) or a relay's URL.
    #[arg(long, value_name = "RELAYS")]
    pub relays: Option<String>,
}

/// `kiln serve`: binds, prints how a client connects, and serves until Ctrl-C or SIGTERM.
pub fn serve(args: &ServeArgs) -> Result<(), CliError> {
    let flag = |message: String| CliError::Flag {
        flag: "--listen",
        message,
    };
    let listen: Listen = args.listen.parse().map_err(|e| flag(format!("{e}")))?;
    let selected = backend::select(args.backend)?;
    let devices = match args.devices {
        0 => {
            return Err(CliError::Flag {
                flag: "--devices",
                message: "a server needs at least one device".into(),
            });
        }
        1 => vec![selected.device.clone()],
        n => selected.backend.devices(n)?,
    };
    let token = Token::load(args.token_file.as_deref())?;
    let authenticated = token.is_some();
    let iroh = IrohSettings {
        key_file: args.key_file.clone(),
        relays: args.relays.clone(),
    };
    let bound = remote::bind(&listen, token, &iroh)?;
    // A server outlives its terminal: output that cannot be written (a closed pipe) is dropped.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{selected}");
    let _ = writeln!(
        out,
        "serving {} device(s) on {}",
        devices.len(),
        bound.address
    );
    let token_flag = match authenticated {
        true => " --token-file FILE (or KILN_REMOTE_TOKEN)",
        false => "",
    };
    let _ = writeln!(
        out,
        "clients: kiln train --devices {}{token_flag} …",
        bound.address
    );
    let _ = match listen {
        Listen::WebSocket { .. } => writeln!(
            out,
            "WebSocket is unencrypted: use it on a trusted network only (Iroh otherwise)"
        ),
        Listen::Iroh { port } => writeln!(
            out,
            "or directly, without relays: --devices {}@HOST:{} (HOST: this machine's address)",
            bound.address,
            port.map_or("PORT".to_string(), |p| p.to_string())
        ),
    };
    let _ = writeln!(out, "stop with Ctrl-C");
    // Scripts and tests read the address from a pipe.
    let _ = out.flush();
    bound.serve(devices)?;
    let _ = writeln!(out, "stopped");
    Ok(())
}
