//! Compile-time backends, run-time device choice.
//!
//! Cargo features decide which backends are compiled in (`flex` by default; `ndarray`; `wgpu`,
//! `vulkan`, `metal`; `cuda`). [`select`] picks one: the one asked for, or else the first
//! *usable* one in this precedence — GPU before CPU:
//!
//! `cuda` → `metal` → `vulkan` → `wgpu` → `flex` → `ndarray`.
//!
//! A GPU backend is usable when it enumerates at least one device; a compiled GPU backend with
//! no device is skipped with the reason recorded, so the same binary still runs on the CPU.
//! The default also passes over a GPU backend whose device is a *software* rasterizer (Mesa's
//! llvmpipe, what `wgpu` finds on a machine without a GPU): it runs on the CPU many times slower
//! than `flex`. Asking for it (`--backend wgpu`) still uses it — the tests do, on lavapipe.

use std::fmt;

use burn::tensor::Device;
#[cfg(any(feature = "wgpu", feature = "cuda"))]
use burn::tensor::DeviceType;

/// A compute backend kiln can be built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Backend {
    /// NVIDIA CUDA (feature `cuda`).
    Cuda,
    /// wgpu pinned to Metal (feature `metal`).
    Metal,
    /// wgpu pinned to Vulkan (feature `vulkan`).
    Vulkan,
    /// wgpu on whichever graphics API the machine offers (feature `wgpu`).
    Wgpu,
    /// Burn's pure-Rust CPU backend (feature `flex`, default).
    Flex,
    /// The ndarray CPU backend (feature `ndarray`; deprecated upstream, slow).
    Ndarray,
}

impl Backend {
    /// Every backend, in selection precedence.
    pub const PRECEDENCE: [Backend; 6] = [
        Self::Cuda,
        Self::Metal,
        Self::Vulkan,
        Self::Wgpu,
        Self::Flex,
        Self::Ndarray,
    ];

    /// The backends compiled into this build, in precedence order.
    pub fn compiled() -> Vec<Backend> {
        Self::PRECEDENCE
            .into_iter()
            .filter(|b| b.is_compiled())
            .collect()
    }

    /// Whether this build has the backend's feature.
    pub fn is_compiled(self) -> bool {
        match self {
            Self::Cuda => cfg!(feature = "cuda"),
            Self::Metal => cfg!(feature = "metal"),
            Self::Vulkan => cfg!(feature = "vulkan"),
            Self::Wgpu => cfg!(feature = "wgpu"),
            Self::Flex => cfg!(feature = "flex"),
            Self::Ndarray => cfg!(feature = "ndarray"),
        }
    }

    /// Whether this backend runs on a GPU (or a GPU API).
    pub fn is_gpu(self) -> bool {
        !matches!(self, Self::Flex | Self::Ndarray)
    }

    /// The backend's device, or why it cannot be used here.
    pub fn device(self) -> Result<Device, BackendError> {
        if !self.is_compiled() {
            return Err(BackendError::NotCompiled(self));
        }
        self.make_device()
    }

    /// `n` devices of this backend for data-parallel training: the first `n` it enumerates on a
    /// GPU backend; on a CPU backend its one device `n` times (replicas in threads).
    pub fn devices(self, n: usize) -> Result<Vec<Device>, BackendError> {
        let first = self.device()?;
        if !self.is_gpu() {
            return Ok(vec![first; n]);
        }
        let found = self.enumerate();
        match found.len() >= n {
            true => Ok(found.into_iter().take(n).collect()),
            false => Err(BackendError::TooFewDevices {
                backend: self,
                wanted: n,
                found: found.len(),
            }),
        }
    }

    /// Every device of this (GPU) backend on this machine.
    fn enumerate(self) -> Vec<Device> {
        match self {
            #[cfg(feature = "cuda")]
            Self::Cuda => Device::enumerate(DeviceType::Cuda).into_iter().collect(),
            #[cfg(feature = "metal")]
            Self::Metal => Device::enumerate(DeviceType::Metal).into_iter().collect(),
            #[cfg(feature = "vulkan")]
            Self::Vulkan => Device::enumerate(DeviceType::Vulkan).into_iter().collect(),
            #[cfg(feature = "wgpu")]
            Self::Wgpu => Device::enumerate(DeviceType::Wgpu).into_iter().collect(),
            _ => Vec::new(),
        }
    }

    /// The backend's device if the default choice may take it: as [`Backend::device`], but a
    /// GPU backend whose device is a software rasterizer is refused
    /// ([`BackendError::SoftwareOnly`]).
    pub fn default_device(self) -> Result<Device, BackendError> {
        let device = self.device()?;
        match self.is_gpu().then(|| software_adapter(&device)).flatten() {
            Some(adapter) => Err(BackendError::SoftwareOnly {
                backend: self,
                adapter,
            }),
            None => Ok(device),
        }
    }

    #[allow(deprecated)] // `Device::ndarray` is deprecated upstream; kiln still offers it.
    fn make_device(self) -> Result<Device, BackendError> {
        match self {
            #[cfg(feature = "cuda")]
            Self::Cuda => first_device(self, DeviceType::Cuda),
            #[cfg(feature = "metal")]
            Self::Metal => first_device(self, DeviceType::Metal),
            #[cfg(feature = "vulkan")]
            Self::Vulkan => first_device(self, DeviceType::Vulkan),
            // Enumerating proves an adapter exists; the default device then lets wgpu pick the
            // best one (high-power GPU first, overridable with CUBECL_WGPU_DEFAULT_DEVICE).
            #[cfg(feature = "wgpu")]
            Self::Wgpu => first_device(self, DeviceType::Wgpu)
                .map(|_| Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
            #[cfg(feature = "flex")]
            Self::Flex => Ok(Device::flex()),
            #[cfg(feature = "ndarray")]
            Self::Ndarray => Ok(Device::ndarray()),
            #[allow(unreachable_patterns)] // every backend compiled in
            _ => Err(BackendError::NotCompiled(self)),
        }
    }
}

/// The first device of `kind` on this machine.
#[cfg(any(feature = "wgpu", feature = "cuda"))]
fn first_device(backend: Backend, kind: DeviceType) -> Result<Device, BackendError> {
    Device::enumerate(kind)
        .into_iter()
        .next()
        .ok_or(BackendError::NoDevice(backend))
}

/// The name of `device` if it is no card but a software rasterizer (wgpu's `DeviceType::Cpu`
/// adapters: llvmpipe, lavapipe, WARP), which cubecl reports as an identity without a physical
/// device.
#[cfg(any(feature = "wgpu", feature = "cuda"))]
fn software_adapter(device: &Device) -> Option<String> {
    device
        .identity()
        .filter(|identity| identity.physical.is_none())
        .map(|identity| identity.name)
}

/// Without a GPU backend compiled in, no device is a software rasterizer.
#[cfg(not(any(feature = "wgpu", feature = "cuda")))]
fn software_adapter(_device: &Device) -> Option<String> {
    None
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Cuda => "cuda",
            Self::Metal => "metal",
            Self::Vulkan => "vulkan",
            Self::Wgpu => "wgpu",
            Self::Flex => "flex",
            Self::Ndarray => "ndarray",
        })
    }
}

/// Why a backend cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// This build lacks the backend's cargo feature.
    #[error("backend `{0}` is not compiled in: rebuild with `--features {0}`")]
    NotCompiled(Backend),
    /// The backend is compiled in but finds no device on this machine.
    #[error("backend `{0}` finds no device on this machine (no adapter/driver)")]
    NoDevice(Backend),
    /// The backend's only device is a software rasterizer on the CPU (skipped by the default
    /// choice only).
    #[error(
        "backend `{backend}` finds only a software rasterizer ({adapter}), slower than the CPU backends (ask for it with --backend {backend})"
    )]
    SoftwareOnly {
        /// The backend.
        backend: Backend,
        /// The adapter's name.
        adapter: String,
    },
    /// Fewer devices than asked for (`--devices`).
    #[error("--devices {wanted}: backend `{backend}` finds {found} device(s) on this machine")]
    TooFewDevices {
        /// The backend.
        backend: Backend,
        /// Devices asked for.
        wanted: usize,
        /// Devices found.
        found: usize,
    },
    /// No compiled backend is usable.
    #[error("no usable backend: {}", if .0.is_empty() { "none is compiled in (enable the `flex` feature)".to_string() } else { .0.join("; ") })]
    NoneUsable(Vec<String>),
}

/// The chosen backend, its device, and the higher-precedence backends that were skipped.
#[derive(Debug, Clone)]
pub struct Selected {
    /// The backend in use.
    pub backend: Backend,
    /// Its device (plain; training enables autodiff itself).
    pub device: Device,
    /// Backends passed over, with the reason.
    pub skipped: Vec<BackendError>,
}

impl fmt::Display for Selected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.backend.is_gpu() { "GPU" } else { "CPU" };
        write!(f, "backend: {} ({kind})", self.backend)?;
        for s in &self.skipped {
            write!(f, "; skipped: {s}")?;
        }
        Ok(())
    }
}

/// The requested backend, or the first usable compiled one in [`Backend::PRECEDENCE`].
pub fn select(requested: Option<Backend>) -> Result<Selected, BackendError> {
    if let Some(backend) = requested {
        return Ok(Selected {
            backend,
            device: backend.device()?,
            skipped: Vec::new(),
        });
    }
    let mut skipped = Vec::new();
    for backend in Backend::compiled() {
        match backend.default_device() {
            Ok(device) => {
                return Ok(Selected {
                    backend,
                    device,
                    skipped,
                });
            }
            Err(e) => skipped.push(e),
        }
    }
    Err(BackendError::NoneUsable(
        skipped.iter().map(ToString::to_string).collect(),
    ))
}
