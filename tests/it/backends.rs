//! Device selection from the compiled features.

use kiln::backend::{Backend, BackendError, select};

#[test]
fn precedence_is_gpu_before_cpu() {
    let order = Backend::PRECEDENCE;
    let first_cpu = order.iter().position(|b| !b.is_gpu()).unwrap();
    assert!(order[..first_cpu].iter().all(|b| b.is_gpu()));
    assert!(order[first_cpu..].iter().all(|b| !b.is_gpu()));
    assert_eq!(&order[first_cpu..], &[Backend::Flex, Backend::Ndarray]);
}

#[test]
fn compiled_backends_follow_the_features() {
    let compiled = Backend::compiled();
    assert_eq!(compiled.contains(&Backend::Flex), cfg!(feature = "flex"));
    assert_eq!(
        compiled.contains(&Backend::Ndarray),
        cfg!(feature = "ndarray")
    );
    assert_eq!(compiled.contains(&Backend::Wgpu), cfg!(feature = "wgpu"));
    for b in Backend::PRECEDENCE
        .into_iter()
        .filter(|b| !compiled.contains(b))
    {
        assert_eq!(b.device().unwrap_err(), BackendError::NotCompiled(b));
        assert!(
            select(Some(b))
                .unwrap_err()
                .to_string()
                .contains("--features")
        );
    }
}

#[test]
fn default_selection_is_the_first_usable_compiled_backend() {
    let selected = select(None).unwrap();
    let usable: Vec<Backend> = Backend::compiled()
        .into_iter()
        .filter(|b| b.default_device().is_ok())
        .collect();
    assert_eq!(selected.backend, usable[0]);
    assert_eq!(
        selected.skipped.len(),
        Backend::compiled()
            .iter()
            .position(|b| *b == usable[0])
            .unwrap()
    );
    assert!(
        selected
            .to_string()
            .starts_with(&format!("backend: {}", usable[0]))
    );
}

/// Mesa's software Vulkan (lavapipe, whose device calls itself `llvmpipe`), which CI's wgpu tests
/// run on: usable when asked for, passed over by the default choice with the reason given.
#[cfg(feature = "wgpu")]
#[test]
fn the_default_passes_over_a_software_rasterizer() {
    let Ok(device) = Backend::Wgpu.device() else {
        return; // no wgpu adapter at all: the other tests cover skipping it
    };
    let name = device.identity().map(|identity| identity.name);
    if !name.as_deref().is_some_and(|n| n.contains("llvmpipe")) {
        return; // a real GPU (or another driver): nothing to pass over
    }
    assert!(select(Some(Backend::Wgpu)).is_ok());
    let selected = select(None).unwrap();
    assert_ne!(selected.backend, Backend::Wgpu);
    assert!(selected.skipped.iter().any(|e| matches!(
        e,
        BackendError::SoftwareOnly { backend: Backend::Wgpu, adapter } if adapter.contains("llvmpipe")
    )));
    assert!(selected.to_string().contains("software rasterizer"));
}
