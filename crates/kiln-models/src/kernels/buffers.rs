//! Reuse of the kernels' large scratch and saved buffers across training steps.
//!
//! A step allocates the same few large buffers every time (the saved convolution outputs, the
//! backward's gradient scratch). Returned to the allocator, buffers of several MiB go back to
//! the OS and come back as fresh pages: at batch 128 the page faults cost ~15% of a mnist-cnn
//! step. Kept here instead, the next step finds them warm.

use std::sync::Mutex;

/// At most this many buffers are kept; the smallest go first.
const MAX_KEPT: usize = 16;

static POOL: Mutex<Vec<Vec<f32>>> = Mutex::new(Vec::new());

/// A buffer of `len` values whose contents are unspecified (whatever an earlier step left):
/// the caller overwrites every value it reads.
pub(crate) fn take(len: usize) -> Vec<f32> {
    let reused = POOL.lock().ok().and_then(|mut pool| {
        // The smallest kept buffer that is large enough.
        let (index, _) = pool
            .iter()
            .enumerate()
            .filter(|(_, buffer)| buffer.capacity() >= len)
            .min_by_key(|(_, buffer)| buffer.capacity())?;
        Some(pool.swap_remove(index))
    });
    let mut buffer = reused.unwrap_or_default();
    buffer.truncate(len);
    buffer.resize(len, 0.0);
    buffer
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
