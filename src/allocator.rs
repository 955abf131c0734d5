//! The process's memory allocator, tuned for training loops.

/// Freed blocks up to this size stay in the allocator's heap instead of being unmapped (glibc's
/// largest allowed value, 32 MiB: every activation of a CIFAR ResNet at batch 128).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 32 << 20;

/// Free memory at the top of the heap is given back to the OS only past this much (1 GiB).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD: libc::c_int = 1 << 30;

/// Makes the allocator keep freed memory for the next allocations instead of returning it to
/// the OS: every training step frees and allocates the same batch-sized tensors, and memory
/// handed back comes back as fresh pages the kernel must fault in and zero (with its
/// TLB-shootdown interrupts). On glibc (Linux) it raises the mmap and trim thresholds, as
/// `GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824`
/// would; elsewhere it does nothing. Peak memory is unchanged (the freed blocks are reused, not
/// added to); measured on flex, 2 threads, batch 128: resnet20 trains ~4% and resnet56 ~12%
/// faster (docs/performance.md, "The allocator").
///
/// The `kiln` binary and the examples call it first thing; a program of your own can too.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets parameters of glibc's allocator, under its own lock; any
    // value is accepted or refused (returning 0), never acted on unsafely. Both constants are
    // within glibc's documented ranges.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}
