//! The process's memory allocator, tuned for training loops.

/// Freed blocks up to this size stay in the allocator's heap instead of being unmapped (glibc's
/// largest allowed value, 32 MiB: every activation of a CIFAR ResNet at batch 128).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 32 << 20;

/// Free memory at the top of the heap is given back to the OS only past this much (1 GiB).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD: libc::c_int = 1 << 30;

/// The heap grows by at least this much at a time (64 MiB), so that it is a few large mappings
/// [`HugePages`] can back with huge pages whole, not many small ones whose unaligned ends
/// cannot be.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TOP_PAD: libc::c_int = 64 << 20;

/// Makes the allocator keep freed memory for the next allocations instead of returning it to
/// the OS: every training step frees and allocates the same batch-sized tensors, and memory
/// handed back comes back as fresh pages the kernel must fault in and zero (with its
/// TLB-shootdown interrupts). On glibc (Linux) it raises the mmap and trim thresholds, as
/// `GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824`
/// would, and makes the heap grow 64 MiB at a time (for [`HugePages`]); elsewhere it does
/// nothing. Peak memory is unchanged (the freed blocks are reused, not
/// added to); measured on flex, 2 threads, batch 128: resnet20 trains ~4% and resnet56 ~12%
/// faster (docs/performance.md, "The allocator").
///
/// The `kiln` binary and the examples call it first thing (and use [`HugePages`]); a program of
/// your own can too.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets parameters of glibc's allocator, under its own lock; any
    // value is accepted or refused (returning 0), never acted on unsafely. The constants are
    // within glibc's documented ranges.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
        libc::mallopt(libc::M_TOP_PAD, TOP_PAD);
    }
}

/// Blocks from this size up are advised onto transparent huge pages.
#[cfg(target_os = "linux")]
const HUGE_PAGE_MIN_BLOCK: usize = 1 << 20;

/// The size of a transparent huge page on x86-64 and most aarch64 kernels.
#[cfg(target_os = "linux")]
const HUGE_PAGE: usize = 2 << 20;

/// The system allocator, asking Linux to back the heap and every block of 1 MiB or more with
/// transparent huge pages (`madvise(MADV_HUGEPAGE)`), much as
/// `GLIBC_TUNABLES=glibc.malloc.hugetlb=1` would. A training step streams batch-sized tensors
/// through the kernels; on 4 KiB pages every page boundary is a TLB miss and a stop for the
/// hardware prefetcher. Where the kernel's THP mode is `madvise` (a common default) no memory
/// gets huge pages unless asked; where it is `always` or `never` the advice changes nothing, and
/// on other systems this is the system allocator. Pair it with [`keep_freed_memory`], whose
/// large heap increments are what lets whole huge pages fit. Measured on flex, 2 threads, batch
/// 128: resnet20 trains ~5% faster (docs/performance.md, "The allocator").
///
/// ```no_run
/// #[global_allocator]
/// static ALLOCATOR: kiln::allocator::HugePages = kiln::allocator::HugePages;
/// ```
pub struct HugePages;

// SAFETY: every call is forwarded to `System` with the caller's arguments, and its result
// returned unchanged; the advice changes how the kernel backs the pages, never their contents
// or which addresses are valid.
unsafe impl std::alloc::GlobalAlloc for HugePages {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: forwarded under the caller's contract.
        let block = unsafe { std::alloc::System.alloc(layout) };
        advise_huge_pages(block, layout.size());
        block
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: forwarded under the caller's contract.
        let block = unsafe { std::alloc::System.alloc_zeroed(layout) };
        advise_huge_pages(block, layout.size());
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: forwarded under the caller's contract.
        unsafe { std::alloc::System.dealloc(block, layout) }
    }

    unsafe fn realloc(
        &self,
        block: *mut u8,
        layout: std::alloc::Layout,
        new_size: usize,
    ) -> *mut u8 {
        // SAFETY: forwarded under the caller's contract.
        let block = unsafe { std::alloc::System.realloc(block, layout, new_size) };
        advise_huge_pages(block, new_size);
        block
    }
}

/// For a large block (only: the check stays off the path of the many small allocations),
/// advises onto transparent huge pages what the heap has grown by since the last call (as glibc
/// does with `hugetlb=1`: pages first touched before the advice stay small; with
/// [`keep_freed_memory`]'s 64 MiB steps the heap grows rarely, mostly for a large block) and the
/// huge-page-aligned range around the block (which may come from another thread's arena, not
/// the heap).
fn advise_huge_pages(block: *mut u8, size: usize) {
    #[cfg(target_os = "linux")]
    if !block.is_null() && size >= HUGE_PAGE_MIN_BLOCK {
        advise_heap_growth();
        let start = block.addr() & !(HUGE_PAGE - 1);
        let end = (block.addr() + size).next_multiple_of(HUGE_PAGE);
        advise_range(block.with_addr(start), end - start);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (block, size);
}

/// The program break when [`advise_heap_growth`] last looked (0 before the first look).
#[cfg(target_os = "linux")]
static ADVISED_BREAK: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Advises the heap's growth since the last call; the first call only notes where it ends.
#[cfg(target_os = "linux")]
fn advise_heap_growth() {
    use std::sync::atomic::Ordering::Relaxed;
    // SAFETY: `sbrk(0)` moves nothing: it returns the current break (cached by glibc).
    let end = unsafe { libc::sbrk(0) };
    let last = ADVISED_BREAK.load(Relaxed);
    if end.addr() <= last
        || ADVISED_BREAK
            .compare_exchange(last, end.addr(), Relaxed, Relaxed)
            .is_err()
    {
        return;
    }
    if last != 0 {
        let start = last & !(HUGE_PAGE - 1);
        advise_range(end.with_addr(start).cast(), end.addr() - start);
    }
}

/// `madvise(MADV_HUGEPAGE)` on `len` bytes from `start` (page-aligned).
#[cfg(target_os = "linux")]
fn advise_range(start: *mut u8, len: usize) {
    // SAFETY: `MADV_HUGEPAGE` is advice: it changes neither the contents nor the validity of
    // any address in the range (parts of it outside any mapping are skipped and reported as
    // ENOMEM, which is ignored like every other refusal).
    unsafe { libc::madvise(start.cast(), len, libc::MADV_HUGEPAGE) };
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::alloc::{GlobalAlloc, Layout};

    use super::*;

    /// The `VmFlags` of the mapping that holds `address`, from `/proc/self/smaps`.
    fn mapping_flags(address: usize) -> Option<String> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
        let mut inside = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ')
                && let Some((start, end)) = range.split_once('-')
                && let (Ok(start), Ok(end)) = (
                    usize::from_str_radix(start, 16),
                    usize::from_str_radix(end, 16),
                )
            {
                inside = (start..end).contains(&address);
            } else if inside && let Some(flags) = line.strip_prefix("VmFlags:") {
                return Some(flags.trim().to_string());
            }
        }
        None
    }

    #[test]
    fn large_blocks_are_advised_onto_huge_pages() {
        if !std::path::Path::new("/sys/kernel/mm/transparent_hugepage/enabled").exists() {
            eprintln!("this kernel has no transparent huge pages: nothing to advise");
            return;
        }
        let size = 8 << 20;
        let layout = Layout::from_size_align(size, 64).expect("a valid layout");
        // SAFETY: a non-zero size; the block is freed below with the same layout.
        let block = unsafe { HugePages.alloc(layout) };
        assert!(!block.is_null());
        // SAFETY: the block holds `size` bytes.
        unsafe { block.write_bytes(1, size) };
        let flags = mapping_flags(block.addr() + size / 2).expect("the block's mapping");
        assert!(flags.split(' ').any(|f| f == "hg"), "VmFlags: {flags}");
        // SAFETY: allocated above with this layout.
        unsafe { HugePages.dealloc(block, layout) };
    }
}
