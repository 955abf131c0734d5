//! Other machines' devices, through Burn Remote: `kiln serve` hosts this machine's devices
//! ([`serve`]), and `kiln train --devices ws://HOST:PORT,…` trains on them ([`connect`]).
//!
//! The addresses and the token are parsed and checked here whatever the build; connecting and
//! serving need the `remote` cargo feature (Burn's `remote`, `remote-server` and
//! `remote-websocket`), and without it say so ([`RemoteError::NotCompiled`]).
//!
//! Two transports. **WebSocket** (`ws://HOST:PORT`) is unencrypted: on a trusted network only,
//! where the token stops stray clients, not someone reading the traffic. **Iroh**
//! (`iroh://SERVER-ID`) is authenticated and encrypted and crosses NATs, through n0's public
//! relays or directly to a given address (`iroh://SERVER-ID@HOST:PORT`, relays off).

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use burn::tensor::Device;

/// The environment variable a token may come from, when no `--token-file` is given.
pub const TOKEN_ENV: &str = "KILN_REMOTE_TOKEN";

/// One entry of `--devices`: a device of this machine's backend, or a `kiln serve` server.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DeviceSpec {
    /// The next device of the selected local backend (`local`).
    Local,
    /// A server over WebSocket (`ws://HOST:PORT`), unencrypted.
    WebSocket {
        /// The server's host name or address.
        host: String,
        /// Its port.
        port: u16,
    },
    /// A server over Iroh (`iroh://ID` or `iroh://ID@HOST:PORT`).
    Iroh {
        /// The server's endpoint id, as `kiln serve` prints it.
        id: String,
        /// An address to dial directly, relays off; through n0's public relays without one.
        address: Option<String>,
    },
}

/// What `--devices` says: a number of this backend's devices, or a list of devices.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DeviceList {
    /// N devices of the selected backend (on a CPU backend, N replicas of its one device).
    Count(usize),
    /// These devices, in this order (the batch's first shard on the first).
    Devices(Vec<DeviceSpec>),
}

/// A shared secret a server's token authorizer checks. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

/// Where `kiln serve` accepts clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// WebSocket on `HOST:PORT` (port 0: one the OS picks).
    WebSocket {
        /// The interface's host name or address.
        host: String,
        /// The port.
        port: u16,
    },
    /// Iroh, on a UDP port the OS picks unless given.
    Iroh {
        /// The UDP port.
        port: Option<u16>,
    },
}

/// Why a remote device or a server cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// This build has no Burn Remote.
    #[error("remote devices and `kiln serve` need kiln built with `--features remote`")]
    NotCompiled,
    /// A `--devices` entry or a `--listen` address is malformed.
    #[error("`{given}`: {why}")]
    Malformed {
        /// The text given.
        given: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The token file cannot be read.
    #[error("cannot read the token file {}: {source}", path.display())]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The token is empty.
    #[error("the token from {origin} is empty")]
    EmptyToken {
        /// Where it came from: the file, or the environment variable.
        origin: String,
    },
    /// A server cannot be connected (unreachable, token refused, another Burn release…).
    #[error("cannot connect to the server {server}: {source}")]
    Connect {
        /// The server, as given.
        server: String,
        /// Burn Remote's reason.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// `kiln serve` would accept anyone on a non-loopback interface.
    #[error(
        "{listen}: without a token kiln serve listens on loopback only (127.0.0.1, ::1, \
         localhost); give --token-file or {TOKEN_ENV} to listen on {host}"
    )]
    OpenServer {
        /// The listen address.
        listen: String,
        /// The non-loopback host.
        host: String,
    },
    /// An Iroh server is reachable by anyone who learns its id: it needs a token.
    #[error(
        "--listen iroh needs a token (--token-file or {TOKEN_ENV}): Iroh servers are reachable from anywhere"
    )]
    OpenIroh,
    /// An Iroh server was given no key file.
    #[error(
        "--listen iroh needs --key-file FILE: the server's identity, created if missing, so that its id stays the same across restarts"
    )]
    NoKeyFile,
    /// The key file of an Iroh server cannot be read or created.
    #[error("cannot load or create the Iroh key file {}: {source}", path.display())]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The listening socket cannot be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The server failed while serving.
    #[error("the server failed: {0}")]
    Serve(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl FromStr for DeviceSpec {
    type Err = RemoteError;

    fn from_str(given: &str) -> Result<Self, RemoteError> {
        let malformed = |why| RemoteError::Malformed {
            given: given.into(),
            why,
        };
        if given == "local" {
            return Ok(Self::Local);
        }
        if let Some(rest) = given.strip_prefix("ws://") {
            let (host, port) = host_port(rest.trim_end_matches('/'))
                .ok_or_else(|| malformed("a WebSocket server is ws://HOST:PORT"))?;
            return Ok(Self::WebSocket { host, port });
        }
        if let Some(rest) = given.strip_prefix("iroh://") {
            let (id, address) = match rest.split_once('@') {
                Some((id, address)) => (id, Some(address)),
                None => (rest, None),
            };
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(malformed(
                    "an Iroh server is iroh://SERVER-ID or iroh://SERVER-ID@HOST:PORT, with the id kiln serve prints",
                ));
            }
            if address.is_some_and(|a| host_port(a).is_none()) {
                return Err(malformed("an Iroh server's address is HOST:PORT"));
            }
            return Ok(Self::Iroh {
                id: id.into(),
                address: address.map(String::from),
            });
        }
        Err(malformed(
            "a device is `local`, ws://HOST:PORT or iroh://SERVER-ID[@HOST:PORT]",
        ))
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local => f.write_str("local"),
            Self::WebSocket { host, port } => write!(f, "ws://{host}:{port}"),
            Self::Iroh { id, address: None } => write!(f, "iroh://{id}"),
            Self::Iroh {
                id,
                address: Some(address),
            } => write!(f, "iroh://{id}@{address}"),
        }
    }
}

impl DeviceSpec {
    /// Whether this is another machine's (or process's) server.
    pub fn is_remote(&self) -> bool {
        !matches!(self, Self::Local)
    }
}

/// `HOST:PORT` (`[::1]:PORT` for IPv6) split, if both are there.
fn host_port(text: &str) -> Option<(String, u16)> {
    let (host, port) = text.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = port.parse().ok()?;
    (!host.is_empty()).then(|| (host.to_string(), port))
}

impl FromStr for DeviceList {
    type Err = RemoteError;

    /// `N`, or a comma-separated list of [`DeviceSpec`]s.
    fn from_str(given: &str) -> Result<Self, RemoteError> {
        if let Ok(n) = given.parse() {
            return Ok(Self::Count(n));
        }
        let devices = given
            .split(',')
            .map(|spec| spec.trim().parse())
            .collect::<Result<_, _>>()?;
        Ok(Self::Devices(devices))
    }
}

impl fmt::Display for DeviceList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Count(n) => write!(f, "{n}"),
            Self::Devices(devices) => {
                let names: Vec<String> = devices.iter().map(ToString::to_string).collect();
                f.write_str(&names.join(","))
            }
        }
    }
}

impl DeviceList {
    /// How many devices the batch is split over.
    pub fn len(&self) -> usize {
        match self {
            Self::Count(n) => *n,
            Self::Devices(devices) => devices.len(),
        }
    }

    /// Whether the list is empty (`--devices 0`, which the run plan refuses).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether any device is a server's.
    pub fn is_remote(&self) -> bool {
        matches!(self, Self::Devices(d) if d.iter().any(DeviceSpec::is_remote))
    }
}

impl Token {
    /// The token in `file` (surrounding whitespace removed), or else in [`TOKEN_ENV`]; `None`
    /// when neither is given.
    pub fn load(file: Option<&Path>) -> Result<Option<Token>, RemoteError> {
        let (text, origin) = match file {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| RemoteError::TokenFile {
                        path: path.into(),
                        source,
                    })?;
                (text, path.display().to_string())
            }
            None => match std::env::var(TOKEN_ENV) {
                Ok(text) => (text, TOKEN_ENV.to_string()),
                Err(_) => return Ok(None),
            },
        };
        match text.trim() {
            "" => Err(RemoteError::EmptyToken { origin }),
            token => Ok(Some(Token(token.into()))),
        }
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl FromStr for Listen {
    type Err = RemoteError;

    /// `ws://HOST:PORT`, `iroh` or `iroh:PORT`.
    fn from_str(given: &str) -> Result<Self, RemoteError> {
        let malformed = |why| RemoteError::Malformed {
            given: given.into(),
            why,
        };
        if let Some(rest) = given.strip_prefix("ws://") {
            let (host, port) = host_port(rest.trim_end_matches('/'))
                .ok_or_else(|| malformed("listen on ws://HOST:PORT (port 0: any free port)"))?;
            return Ok(Self::WebSocket { host, port });
        }
        match given.strip_prefix("iroh") {
            Some("") => Ok(Self::Iroh { port: None }),
            Some(port) => match port.strip_prefix(':').and_then(|p| p.parse().ok()) {
                Some(port) => Ok(Self::Iroh { port: Some(port) }),
                None => Err(malformed(
                    "an Iroh server listens on `iroh` or `iroh:UDP-PORT`",
                )),
            },
            None => Err(malformed(
                "listen on ws://HOST:PORT (WebSocket) or iroh[:PORT] (Iroh)",
            )),
        }
    }
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WebSocket { host, port } if host.contains(':') => {
                write!(f, "ws://[{host}]:{port}")
            }
            Self::WebSocket { host, port } => write!(f, "ws://{host}:{port}"),
            Self::Iroh { port: None } => f.write_str("iroh"),
            Self::Iroh { port: Some(port) } => write!(f, "iroh:{port}"),
        }
    }
}

/// Whether every address `host` names is a loopback one.
fn is_loopback(host: &str) -> bool {
    if host == "localhost" {
        return true;
    }
    match (host, 0).to_socket_addrs() {
        Ok(addresses) => {
            let addresses: Vec<SocketAddr> = addresses.collect();
            !addresses.is_empty() && addresses.iter().all(|a| a.ip().is_loopback())
        }
        Err(_) => false,
    }
}

/// A server bound and ready to serve: what a client passes to `--devices`, and how to run it.
pub struct Bound {
    /// The `--devices` entry that reaches this server from this machine.
    pub address: String,
    #[cfg(feature = "remote")]
    transport: burn::server::Transport,
    #[cfg(feature = "remote")]
    authorizer: Option<burn::server::TokenAuthorizer>,
}

/// How an Iroh server is set up: its secret key's file (created if missing) and the relays its
/// clients reach it through (`public`, n0's, by default; `disabled`; or a relay's URL).
#[derive(Debug, Clone, Default)]
pub struct IrohSettings {
    /// The key file.
    pub key_file: Option<PathBuf>,
    /// The relays, as `kiln serve --relays` takes them.
    pub relays: Option<String>,
}

/// Bind `listen` for a server of this machine's devices, checking first that it is safe: a
/// WebSocket server without a token only on loopback, an Iroh server only with a token (set up
/// as `iroh` says).
pub fn bind(
    listen: &Listen,
    token: Option<Token>,
    iroh: &IrohSettings,
) -> Result<Bound, RemoteError> {
    if let (Listen::WebSocket { host, .. }, None) = (listen, &token)
        && !is_loopback(host)
    {
        return Err(RemoteError::OpenServer {
            listen: listen.to_string(),
            host: host.clone(),
        });
    }
    if let (Listen::Iroh { .. }, None) = (listen, &token) {
        return Err(RemoteError::OpenIroh);
    }
    if let (Listen::Iroh { .. }, None) = (listen, &iroh.key_file) {
        return Err(RemoteError::NoKeyFile);
    }
    bind_transport(listen, token, iroh)
}

#[cfg(feature = "remote")]
fn bind_transport(
    listen: &Listen,
    token: Option<Token>,
    iroh: &IrohSettings,
) -> Result<Bound, RemoteError> {
    use burn::server::{IrohIdentity, IrohTransport, TokenAuthorizer, WebSocketTransport};

    let authorizer = token
        .map(|Token(token)| TokenAuthorizer::new(token))
        .transpose()
        .map_err(|e| RemoteError::Serve(Box::new(e)))?;
    let (address, transport) = match listen {
        Listen::WebSocket { host, port } => {
            let socket = std::net::TcpListener::bind((host.as_str(), *port)).map_err(|source| {
                RemoteError::Bind {
                    address: listen.to_string(),
                    source,
                }
            })?;
            let bound = socket.local_addr().map_err(|source| RemoteError::Bind {
                address: listen.to_string(),
                source,
            })?;
            let shown = Listen::WebSocket {
                host: host.clone(),
                port: bound.port(),
            };
            let transport = WebSocketTransport::from_listener(socket).into();
            (shown.to_string(), transport)
        }
        Listen::Iroh { port } => {
            let key_file = iroh.key_file.as_deref().ok_or(RemoteError::NoKeyFile)?;
            let relays = match &iroh.relays {
                Some(relays) => relays.parse().map_err(|_| RemoteError::Malformed {
                    given: relays.clone(),
                    why: "relays are `public`, `disabled` or a relay's URL",
                })?,
                None => burn::server::IrohRelays::default(),
            };
            let identity =
                IrohIdentity::load_or_create(key_file).map_err(|source| RemoteError::KeyFile {
                    path: key_file.into(),
                    source,
                })?;
            let transport = IrohTransport::new(identity).with_relays(relays);
            let address = format!("iroh://{}", transport.id());
            let transport = match port {
                Some(port) => transport.with_port(*port),
                None => transport,
            };
            (address, transport.into())
        }
    };
    Ok(Bound {
        address,
        transport,
        authorizer,
    })
}

#[cfg(not(feature = "remote"))]
fn bind_transport(_: &Listen, _: Option<Token>, _: &IrohSettings) -> Result<Bound, RemoteError> {
    Err(RemoteError::NotCompiled)
}

impl Bound {
    /// Serve `devices` (all of one backend) until Ctrl-C or SIGTERM.
    #[cfg(feature = "remote")]
    pub fn serve(self, devices: Vec<Device>) -> Result<(), RemoteError> {
        let server = burn::server::RemoteServer::new(devices);
        let server = match self.authorizer {
            Some(authorizer) => server.with_authorizer(authorizer),
            None => server,
        };
        server
            .serve(self.transport)
            .map_err(|e| RemoteError::Serve(Box::new(e)))
    }

    /// Serve `devices` (all of one backend) until Ctrl-C or SIGTERM.
    #[cfg(not(feature = "remote"))]
    pub fn serve(self, _devices: Vec<Device>) -> Result<(), RemoteError> {
        Err(RemoteError::NotCompiled)
    }
}

/// Connect device 0 of the server `spec` names, with `token` if given. `Local` is not a server:
/// the caller supplies local devices.
#[cfg(feature = "remote")]
pub fn connect(spec: &DeviceSpec, token: Option<&Token>) -> Result<Device, RemoteError> {
    use burn::remote::{IrohHost, IrohRelays, RemoteHost};

    let connect_error = |source: Box<dyn std::error::Error + Send + Sync>| RemoteError::Connect {
        server: spec.to_string(),
        source,
    };
    let host = match spec {
        DeviceSpec::Local => {
            return Err(RemoteError::Malformed {
                given: spec.to_string(),
                why: "`local` is this machine's device, not a server",
            });
        }
        DeviceSpec::WebSocket { .. } => RemoteHost::websocket(&spec.to_string()),
        DeviceSpec::Iroh { id, address } => {
            let id = id
                .parse::<burn::remote::EndpointId>()
                .map_err(|e| connect_error(Box::new(e)))?;
            let addresses = address.as_deref().map(resolve).transpose();
            let host = match addresses.map_err(|e| connect_error(Box::new(e)))? {
                Some(addresses) => addresses.into_iter().fold(
                    IrohHost::new(id).with_relays(IrohRelays::Disabled),
                    IrohHost::with_address,
                ),
                None => IrohHost::new(id),
            };
            RemoteHost::iroh(host)
        }
    };
    let host = match token {
        Some(Token(token)) => host.with_credential(token.as_str()),
        None => host,
    };
    Device::remote_options(&host)
        .init()
        .map_err(|e| connect_error(Box::new(e)))
}

/// Connect device 0 of the server `spec` names: not in this build.
#[cfg(not(feature = "remote"))]
pub fn connect(_spec: &DeviceSpec, _token: Option<&Token>) -> Result<Device, RemoteError> {
    Err(RemoteError::NotCompiled)
}

/// Every address `HOST:PORT` resolves to (Iroh dials them all: a server may listen on only
/// one of IPv4 and IPv6).
#[cfg(feature = "remote")]
fn resolve(address: &str) -> std::io::Result<Vec<SocketAddr>> {
    let all: Vec<SocketAddr> = address.to_socket_addrs()?.collect();
    match all.is_empty() {
        true => Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{address} resolves to no address"),
        )),
        false => Ok(all),
    }
}
