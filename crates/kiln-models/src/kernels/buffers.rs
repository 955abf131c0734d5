//! The kernels' buffers: scratch reused across training steps, and batch-sized outputs that are
//! never zero-filled.
//!
//! A step takes the same scratch buffers every time (a run of images' padded planes, patches,
//! gradients); kept here, the next step finds them warm and already the right length. The
//! batch-sized outputs (the saved convolution, the block output, the input gradient) are
//! [`written`] into fresh allocations instead: filling them first was a pass over memory of its
//! own (3% of a resnet20 step), and once freed they go back to malloc, which
//! `kiln::allocator::keep_freed_memory` keeps from returning them to the OS.

use std::mem::MaybeUninit;
use std::sync::Mutex;

/// At most this many buffers are kept; the smallest go first.
const MAX_KEPT: usize = 16;

static POOL: Mutex<Vec<Vec<f32>>> = Mutex::new(Vec::new());

/// A buffer of `len` values whose contents are unspecified (whatever an earlier step left):
/// the caller overwrites every value it reads.
pub(crate) fn take(len: usize) -> Vec<f32> {
    let reused = POOL.lock().ok().and_then(|mut pool| {
        // The smallest kept buffer that already holds `len` values, else the smallest whose
        // capacity does (it is zero-filled up to `len`): in a training step the same sizes
        // come back, so a buffer goes to the request it served before and no values are
        // filled again (the fills were 2% of a resnet20 step).
        let (index, _) = pool
            .iter()
            .enumerate()
            .filter(|(_, buffer)| buffer.capacity() >= len)
            .min_by_key(|(_, buffer)| (buffer.len() < len, buffer.capacity()))?;
        Some(pool.swap_remove(index))
    });
    let mut buffer = reused.unwrap_or_default();
    buffer.truncate(len);
    buffer.resize(len, 0.0);
    buffer
}

/// A fresh vector of `len` values, each written by `write` before it is returned: the block
/// outputs are batch-sized vectors Burn keeps, and zero-filling them first was a pass over
/// memory of its own.
///
/// # Safety
/// `write` must initialize every one of the `len` values it is given.
pub(crate) unsafe fn written(len: usize, write: impl FnOnce(&mut [MaybeUninit<f32>])) -> Vec<f32> {
    let mut vector = Vec::with_capacity(len);
    write(&mut vector.spare_capacity_mut()[..len]);
    // SAFETY: the caller's `write` initialized the first `len` values, within the capacity.
    unsafe { vector.set_len(len) };
    vector
}

/// [`written`] when there is a `len`; otherwise `write` is given `None`.
///
/// # Safety
/// As [`written`].
pub(crate) unsafe fn written_if(
    len: Option<usize>,
    write: impl FnOnce(Option<&mut [MaybeUninit<f32>]>),
) -> Option<Vec<f32>> {
    match len {
        // SAFETY: the caller's contract.
        Some(len) => Some(unsafe { written(len, |values| write(Some(values))) }),
        None => {
            write(None);
            None
        }
    }
}

/// `values` filled with zeros, as initialized values.
pub(crate) fn zeroed(values: &mut [MaybeUninit<f32>]) -> &mut [f32] {
    values.fill(MaybeUninit::new(0.0));
    // SAFETY: every value was just written.
    unsafe { assume_init(values) }
}

/// `values` as the initialized values they are.
///
/// # Safety
/// Every one of `values` must have been written.
pub(crate) unsafe fn assume_init(values: &mut [MaybeUninit<f32>]) -> &mut [f32] {
    // SAFETY: `MaybeUninit<f32>` has the layout of `f32`, and the caller guarantees every
    // value is initialized.
    unsafe { &mut *(std::ptr::from_mut(values) as *mut [f32]) }
}

/// Hands `buffer` back for a later [`take`].
pub(crate) fn give(buffer: Vec<f32>) {
    if buffer.capacity() == 0 {
        return;
    }
    if let Ok(mut pool) = POOL.lock() {
        pool.push(buffer);
        if pool.len() > MAX_KEPT {
            pool.sort_by_key(|b| std::cmp::Reverse(b.capacity()));
            pool.truncate(MAX_KEPT);
        }
    }
}

/// A block's saved convolution output, as the autodiff graph keeps it (its `Debug` gives the
/// length, not millions of values).
pub(crate) struct SavedConv(pub Vec<f32>);

impl std::fmt::Debug for SavedConv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SavedConv({} values)", self.0.len())
    }
}
