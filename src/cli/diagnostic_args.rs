//! The diagnostic-threshold flags of `kiln train`, `kiln eval` and `kiln metrics`.

use kiln_eval::diagnostics::DiagnosticThresholds;

use super::error::CliError;

/// When the report's diagnostics become warnings; each flag overrides one documented default
/// (for `kiln eval`: the thresholds the run recorded).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DiagnosticArgs {
    /// Warn when accuracy is less than this (fraction) above the majority-class baseline
    /// [default: 0.05].
    #[arg(long, value_name = "FRACTION")]
    pub baseline_margin: Option<f64>,
    /// Warn for a class whose recall or precision is this far (fraction) below the accuracy
    /// [default: 0.20].
    #[arg(long, value_name = "FRACTION")]
    pub paradox_gap: Option<f64>,
    /// Warn when the largest class has this many times the images of the smallest
    /// [default: 3.0].
    #[arg(long, value_name = "RATIO")]
    pub imbalance_ratio: Option<f64>,
    /// Count predictions whose top two probabilities are closer than this as near the
    /// decision boundary [default: 0.10].
    #[arg(long, value_name = "MARGIN")]
    pub boundary_margin: Option<f64>,
    /// Warn when training accuracy exceeds validation accuracy by this much (fraction) at the
    /// end, and more than at the start [default: 0.05].
    #[arg(long, value_name = "FRACTION")]
    pub overfit_gap: Option<f64>,
    /// Warn when the last validation loss is this fraction above its minimum [default: 0.05].
    #[arg(long, value_name = "FRACTION")]
    pub loss_rise: Option<f64>,
    /// Warn for a class whose recall's 95% bootstrap interval is wider than this (fraction)
    /// [default: 0.20].
    #[arg(long, value_name = "FRACTION")]
    pub interval_width: Option<f64>,
}

impl DiagnosticArgs {
    /// Whether any flag was given.
    pub fn any(&self) -> bool {
        self.flags().iter().any(|(_, v, _)| v.is_some())
    }

    /// `base` with the given flags applied; an error naming a flag whose value is negative or
    /// not a number (a ratio must be at least 1).
    pub fn apply(&self, base: DiagnosticThresholds) -> Result<DiagnosticThresholds, CliError> {
        let mut t = base;
        for (flag, value, field) in self.flags() {
            let Some(v) = value else { continue };
            let name = flag[2..].replace('-', "_");
            DiagnosticThresholds::check(&name, v).map_err(|e| CliError::Flag {
                flag,
                message: e.to_string(),
            })?;
            *field(&mut t) = v;
        }
        Ok(t)
    }

    #[allow(clippy::type_complexity)]
    fn flags(
        &self,
    ) -> [(
        &'static str,
        Option<f64>,
        fn(&mut DiagnosticThresholds) -> &mut f64,
    ); 7] {
        [
            ("--baseline-margin", self.baseline_margin, |t| {
                &mut t.baseline_margin
            }),
            ("--paradox-gap", self.paradox_gap, |t| &mut t.paradox_gap),
            ("--imbalance-ratio", self.imbalance_ratio, |t| {
                &mut t.imbalance_ratio
            }),
            ("--boundary-margin", self.boundary_margin, |t| {
                &mut t.boundary_margin
            }),
            ("--overfit-gap", self.overfit_gap, |t| &mut t.overfit_gap),
            ("--loss-rise", self.loss_rise, |t| &mut t.loss_rise),
            ("--interval-width", self.interval_width, |t| {
                &mut t.interval_width
            }),
        ]
    }
}
