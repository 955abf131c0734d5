//! Runtime CPU dispatch for the kernels' element-wise loops.
//!
//! kiln is built for baseline x86-64 (SSE2) so one binary runs everywhere; [`multiversion!`]
//! compiles a loop body (an `#[inline(always)]` function) a second and third time with AVX-512
//! and AVX2+FMA enabled and picks the widest the CPU reports at run time, so LLVM vectorizes
//! it for the machine it runs on. Other architectures get the portable build.

/// `multiversion!(pub(crate) fn name(args…) => body);` defines `name`, which calls `body`
/// (an `#[inline(always)]` fn with the same arguments) compiled for the best available x86
/// feature level.
macro_rules! multiversion {
    ($vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? => $body:path) => {
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                fn v4($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn v3($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU supports every feature `v4` is compiled for.
                    return unsafe { v4($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU supports every feature `v3` is compiled for.
                    return unsafe { v3($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}

pub(crate) use multiversion;

/// Sum of `values` in f64, accumulated in sixteen f32 lanes so it vectorizes.
#[inline(always)]
pub(crate) fn lane_sum(values: &[f32]) -> f64 {
    let mut lanes = [0f32; 16];
    let (chunks, tail) = values.as_chunks::<16>();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += v;
        }
    }
    lanes.iter().chain(tail).map(|&v| f64::from(v)).sum()
}

/// `(Σ (y − shift), Σ (y − shift)²)` in f64, accumulated in f32 lanes. With `shift` among the
/// values the terms are of the values' spread, not of their magnitude, so a large mean costs no
/// precision.
#[inline(always)]
pub(crate) fn lane_shifted_sums(y: &[f32], shift: f32) -> (f64, f64) {
    let mut sum = [0f32; 16];
    let mut squares = [0f32; 16];
    let (chunks, tail) = y.as_chunks::<16>();
    // One sum a loop: written as one loop over both, LLVM paired each lane's two sums in a
    // vector instead of putting sixteen lanes of one sum in it (3% of a resnet20 step).
    for chunk in chunks {
        for (lane, &v) in sum.iter_mut().zip(chunk) {
            *lane += v - shift;
        }
    }
    for chunk in chunks {
        for (lane, &v) in squares.iter_mut().zip(chunk) {
            *lane += (v - shift) * (v - shift);
        }
    }
    let mut s: f64 = sum.iter().map(|&v| f64::from(v)).sum();
    let mut q: f64 = squares.iter().map(|&v| f64::from(v)).sum();
    for &v in tail {
        let d = f64::from(v - shift);
        s += d;
        q += d * d;
    }
    (s, q)
}

/// `(Σ d, Σ d · (y − mean))` in f64, accumulated in f32 lanes: the batch-norm backward's two
/// reductions. (For statistics of `y` itself use [`lane_shifted_sums`]: the sum of squares
/// about 0 cancels when the mean is large.)
#[inline(always)]
pub(crate) fn lane_sum_and_centered_dot(d: &[f32], y: &[f32], mean: f32) -> (f64, f64) {
    let mut dot = [0f32; 16];
    let ((d_chunks, d_tail), (y_chunks, y_tail)) = (d.as_chunks::<16>(), y.as_chunks::<16>());
    // One sum a loop, as in `lane_shifted_sums`: the plain sum is `lane_sum`'s.
    for (d, y) in d_chunks.iter().zip(y_chunks) {
        for ((lane, &d), &y) in dot.iter_mut().zip(d).zip(y) {
            *lane += d * (y - mean);
        }
    }
    let mut q: f64 = dot.iter().map(|&v| f64::from(v)).sum();
    for (&d, &y) in d_tail.iter().zip(y_tail) {
        q += f64::from(d * (y - mean));
    }
    (lane_sum(d), q)
}
