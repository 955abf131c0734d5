//! Count, mean and sum of squared deviations, merged with Chan et al.'s parallel formula.

/// Count, mean and sum of squared deviations of a set of values, merged across images, runs and
/// replicas with Chan et al.'s parallel formula: the variance never goes through
/// `E[y²] − E[y]²`, which cancels catastrophically when the mean is large against the spread.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Moments {
    /// How many values.
    pub count: f64,
    /// Their mean.
    pub mean: f64,
    /// Σ (value − mean)².
    pub m2: f64,
}

impl Moments {
    /// The moments of both sets together.
    #[inline(always)]
    pub fn merge(self, other: Self) -> Self {
        if other.count == 0.0 {
            return self;
        }
        if self.count == 0.0 {
            return other;
        }
        let count = self.count + other.count;
        let delta = other.mean - self.mean;
        Self {
            count,
            mean: self.mean + delta * other.count / count,
            m2: self.m2 + other.m2 + delta * delta * self.count * other.count / count,
        }
    }

    /// The biased variance (Burn's and PyTorch's batch-norm convention).
    pub fn biased_variance(&self) -> f64 {
        self.m2 / self.count
    }
}
