//! Reuse of the kernels' large scratch and saved buffers across training steps.
//!
//! A step allocates the same few large buffers every time (the saved convolution outputs, the
//! backward's gradient scratch). Returned to the allocator, buffers of several MiB go back to
//! the OS and come back as fresh pages: at batch 128 the page faults cost ~15% of a mnist-cnn
//! step. Kept here instead, the next step finds them warm.

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

/// A buffer that goes back to the pool when the last reference is dropped (what the autodiff
/// graph keeps for the backward).
pub(crate) struct Pooled(pub Vec<f32>);

impl Drop for Pooled {
    fn drop(&mut self) {
        give(std::mem::take(&mut self.0));
    }
}

impl std::fmt::Debug for Pooled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pooled({} values)", self.0.len())
    }
}
