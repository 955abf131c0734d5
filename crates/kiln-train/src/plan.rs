//! The one place a run's settings are checked: [`RunConfig::plan`] turns what `config.json`
//! records into a [`RunPlan`] — every range and every combination rule checked once, the
//! names parsed once — or a [`ConfigError`] naming the setting by its path in `config.json`
//! (`training.lr`, `training.optimizer.beta_1`, `monitor.min_delta`).
//!
//! Every way into a run goes through it before anything is written: the command line's flags
//! and `.toml` files, a replayed or resumed `config.json`, and a Rust caller of
//! [`run_with`](crate::run_with).

use kiln_eval::MetricSpec;

use crate::class_weights::ClassWeights;
use crate::config::{
    BinaryHead, Calibration, DecisionThreshold, MonitorConfig, RunConfig, TrainingConfig,
};
use crate::monitor::Monitor;
use crate::optimizer::{GradClipping, OptimizerConfig};
use crate::schedule::LrSchedule;

/// What is wrong with one setting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// A count that must be at least 1 is 0.
    #[error("must be at least 1")]
    Zero,
    /// A number that must be positive and finite is not.
    #[error("must be a positive number, got {0}")]
    NotPositive(f64),
    /// A number that must be non-negative and finite is not.
    #[error("must be a non-negative number, got {0}")]
    Negative(f64),
    /// A number outside its range.
    #[error("must be in {range}, got {value}")]
    OutOfRange {
        /// The value.
        value: f64,
        /// The range, as written in the docs: `[0, 1)`, `(0, 1]`.
        range: &'static str,
    },
    /// A metric name that is not one kiln knows.
    #[error(transparent)]
    Metric(#[from] kiln_eval::EvalError),
    /// An architecture name that is not registered.
    #[error(transparent)]
    UnknownArchitecture(#[from] kiln_models::UnknownModel),
    /// The setting breaks a rule that involves others; the text says which.
    #[error("{0}")]
    Rule(String),
}

/// A run setting that cannot be run.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ConfigError {
    /// The setting's path in `config.json`: `training.lr`, `monitor.min_delta`, `metrics[1]`.
    pub field: String,
    /// What is wrong with it.
    pub problem: Problem,
}

impl ConfigError {
    /// `problem` with the setting at `field`.
    pub fn new(field: impl Into<String>, problem: impl Into<Problem>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// The error of a rule involving `field` and others, stated by `rule`.
    pub fn rule(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self::new(field, Problem::Rule(rule.into()))
    }

    /// The same problem one level down, at `parent.field`.
    fn within(self, parent: &str) -> Self {
        Self {
            field: format!("{parent}.{}", self.field),
            problem: self.problem,
        }
    }
}

/// A checked run: the configuration it was planned from, with its names parsed.
#[derive(Debug, Clone)]
pub struct RunPlan<'a, A> {
    /// The configuration, every setting checked.
    pub config: &'a RunConfig<A>,
    /// The task's class names ([`RunConfig::class_names`]).
    pub class_names: Vec<String>,
    /// The extra metrics logged every epoch, parsed from `config.metrics`.
    pub metrics: Vec<MetricSpec>,
    /// The monitored quantity, parsed, with what to do with it.
    pub monitor: Option<(Monitor, MonitorConfig)>,
}

impl<A> RunConfig<A> {
    /// Checks every setting and every rule between settings, and parses the names (metrics,
    /// monitor) against the task's classes. The architecture's own configuration (`model`) is
    /// the caller's type and is not checked here; its name is checked by whoever resolves it
    /// ([`crate::Registry`]).
    pub fn plan(&self) -> Result<RunPlan<'_, A>, ConfigError> {
        let dataset_classes = self.dataset.class_names().len();
        let class_names = self.class_names();
        self.training
            .check(class_names.len())
            .map_err(|e| e.within("training"))?;
        if self.limit == Some(0) {
            return Err(ConfigError::new("limit", Problem::Zero));
        }
        if self.devices == 0 {
            return Err(ConfigError::new("devices", Problem::Zero));
        }
        if !self.device_list.is_empty() && self.device_list.len() != self.devices {
            return Err(ConfigError::rule(
                "device_list",
                format!(
                    "names {} devices but `devices` is {}",
                    self.device_list.len(),
                    self.devices
                ),
            ));
        }
        if self.training.mixing.is_some() && (self.devices > 1 || self.binary_head.is_some()) {
            return Err(ConfigError::rule(
                "training.mixing",
                "Mixup and CutMix train a softmax head on one device (not with devices > 1 or \
                 a binary head)",
            ));
        }
        if self.data_dir.is_some() && matches!(self.dataset, kiln_data::DatasetSource::Folder(_)) {
            return Err(ConfigError::rule(
                "data_dir",
                "does not apply to an image folder (its root is the data)",
            ));
        }
        if let Some((name, invalid)) = self.diagnostics.invalid() {
            let field = format!("diagnostics.{name}");
            return Err(ConfigError::rule(field, invalid.to_string()));
        }
        let class_in_dataset = |field: &str, class: usize| match class < dataset_classes {
            true => Ok(()),
            false => Err(ConfigError::rule(
                field,
                format!(
                    "class {class} is not a class of {} (0..{dataset_classes})",
                    self.dataset
                ),
            )),
        };
        if let Some(rare) = &self.rare_class {
            class_in_dataset("rare_class.class", rare.class)?;
            if !(rare.fraction > 0.0 && rare.fraction <= 1.0) {
                return Err(out_of_range("rare_class.fraction", rare.fraction, "(0, 1]"));
            }
        }
        if let Some(positive) = self.positive_class {
            class_in_dataset("positive_class", positive)?;
        }
        if let Some(head) = &self.binary_head {
            self.check_binary_head(head, dataset_classes)?;
        }
        self.check_evaluation(class_names.len())?;
        let metrics = self
            .metrics
            .iter()
            .enumerate()
            .map(|(i, m)| {
                MetricSpec::parse(m, &class_names)
                    .map_err(|e| ConfigError::new(format!("metrics[{i}]"), e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let monitor = match &self.monitor {
            Some(m) => Some((check_monitor(m, &class_names)?, m.clone())),
            None => None,
        };
        Ok(RunPlan {
            config: self,
            class_names,
            metrics,
            monitor,
        })
    }

    /// The top-k list against the class count, the resample count, and a calibration that
    /// has validation images to fit on.
    fn check_evaluation(&self, classes: usize) -> Result<(), ConfigError> {
        let e = &self.evaluation;
        if let Some(ks) = &e.top_k {
            kiln_eval::top_k_list(Some(ks), classes)
                .map_err(|err| ConfigError::rule("evaluation.top_k", err.to_string()))?;
        }
        if e.bootstrap == 1 {
            return Err(ConfigError::rule(
                "evaluation.bootstrap",
                "0 (no intervals) or at least 2 resamples",
            ));
        }
        let Some(Calibration::Temperature { fitted }) = e.calibration else {
            return Ok(());
        };
        if self.valid_size == Some(0) {
            return Err(ConfigError::rule(
                "evaluation.calibration",
                "temperature scaling is fitted on the validation split, which is empty \
                 (valid_size 0)",
            ));
        }
        match fitted.map(|f| f.temperature) {
            Some(t) if !(t.is_finite() && t > 0.0) => Err(ConfigError::rule(
                "evaluation.calibration.fitted.temperature",
                format!("must be a positive number, got {t}"),
            )),
            _ => Ok(()),
        }
    }

    fn check_binary_head(
        &self,
        head: &BinaryHead,
        dataset_classes: usize,
    ) -> Result<(), ConfigError> {
        if self.positive_class.is_none() && dataset_classes != 2 {
            return Err(ConfigError::rule(
                "binary_head",
                format!(
                    "needs a two-class task: {} has {dataset_classes} classes (set positive_class)",
                    self.dataset
                ),
            ));
        }
        positive("binary_head.pos_weight", head.pos_weight)?;
        let bound = match head.threshold {
            DecisionThreshold::Fixed { threshold } => Some(("threshold", threshold)),
            DecisionThreshold::BestF1 => None,
            DecisionThreshold::MinRecall { recall } => Some(("recall", recall)),
            DecisionThreshold::MinPrecision { precision } => Some(("precision", precision)),
        };
        if let Some((name, value)) = bound {
            unit_interval(&format!("binary_head.threshold.{name}"), value)?;
        }
        if let Some(chosen) = head.chosen {
            unit_interval("binary_head.chosen", chosen)?;
        }
        check_binary_training(&self.training, self.devices)
    }
}

/// What a binary head's training does without: class weights and label smoothing (its loss
/// takes `pos_weight` instead) and several devices. Checked by the plan and by [`crate::fit`],
/// which Rust callers may call without one.
pub(crate) fn check_binary_training(
    training: &TrainingConfig,
    devices: usize,
) -> Result<(), ConfigError> {
    if training.class_weights.is_some() || training.label_smoothing.is_some() {
        return Err(ConfigError::rule(
            "binary_head",
            "a binary head takes pos_weight instead of class weights, and no label smoothing",
        ));
    }
    if devices > 1 {
        return Err(ConfigError::rule(
            "binary_head",
            "a binary head trains on one device",
        ));
    }
    Ok(())
}

impl TrainingConfig {
    /// Checks the recipe for a task of `classes` classes; the error's field is relative to
    /// the recipe (`lr`, `optimizer.momentum`).
    pub fn check(&self, classes: usize) -> Result<(), ConfigError> {
        for (field, count) in [
            ("epochs", self.epochs),
            ("batch_size", self.batch_size),
            ("grad_accumulation", self.grad_accumulation),
        ] {
            if count == 0 {
                return Err(ConfigError::new(field, Problem::Zero));
            }
        }
        positive("lr", self.lr)?;
        check_optimizer(&self.optimizer).map_err(|e| e.within("optimizer"))?;
        match self.grad_clipping {
            Some(GradClipping::Norm(max) | GradClipping::Value(max)) => {
                positive("grad_clipping.max", f64::from(max))?
            }
            None => {}
        }
        if let Some(alpha) = self.label_smoothing
            && !(alpha.is_finite() && (0.0..1.0).contains(&alpha))
        {
            return Err(out_of_range("label_smoothing", f64::from(alpha), "[0, 1)"));
        }
        if let Some(ClassWeights::Values(weights)) = &self.class_weights {
            check_class_weights(weights, classes)?;
        }
        if let Some(decay) = self.norm_weight_decay {
            non_negative("norm_weight_decay", f64::from(decay))?;
        }
        if let Some(mixing) = &self.mixing {
            mixing.check().map_err(|e| ConfigError::rule("mixing", e))?;
        }
        if let Some(ema) = &self.ema
            && !(0.0..1.0).contains(&ema.decay)
        {
            return Err(out_of_range("ema.decay", ema.decay, "[0, 1)"));
        }
        self.plateau_monitor(classes)?;
        check_schedule(&self.schedule).map_err(|e| e.within("schedule"))
    }

    /// The plateau schedule's monitored quantity, parsed against `classes` classes (named by
    /// index: `valid_recall:3`).
    pub(crate) fn plateau_monitor(&self, classes: usize) -> Result<Option<Monitor>, ConfigError> {
        let LrSchedule::Plateau(p) = &self.schedule else {
            return Ok(None);
        };
        let names: Vec<String> = (0..classes).map(|c| c.to_string()).collect();
        Monitor::parse(&p.monitor, p.mode, &names)
            .map(Some)
            .map_err(|e| ConfigError::new("schedule.monitor", e))
    }
}

fn check_class_weights(weights: &[f32], classes: usize) -> Result<(), ConfigError> {
    if weights.len() != classes {
        return Err(ConfigError::rule(
            "class_weights",
            format!(
                "needs {classes} positive numbers (one per class), found {} ({weights:?})",
                weights.len()
            ),
        ));
    }
    for (c, &w) in weights.iter().enumerate() {
        positive(&format!("class_weights[{c}]"), f64::from(w))?;
    }
    Ok(())
}

fn check_optimizer(optimizer: &OptimizerConfig) -> Result<(), ConfigError> {
    match *optimizer {
        OptimizerConfig::Sgd {
            momentum,
            nesterov,
            weight_decay,
        } => {
            if !(momentum.is_finite() && (0.0..1.0).contains(&momentum)) {
                return Err(out_of_range("momentum", momentum, "[0, 1)"));
            }
            if nesterov && momentum == 0.0 {
                return Err(ConfigError::rule("nesterov", "needs a momentum above 0"));
            }
            non_negative("weight_decay", f64::from(weight_decay))
        }
        OptimizerConfig::Adam {
            beta_1,
            beta_2,
            epsilon,
            weight_decay,
        }
        | OptimizerConfig::AdamW {
            beta_1,
            beta_2,
            epsilon,
            weight_decay,
        } => {
            for (field, beta) in [("beta_1", beta_1), ("beta_2", beta_2)] {
                if !(beta.is_finite() && (0.0..1.0).contains(&beta)) {
                    return Err(out_of_range(field, f64::from(beta), "[0, 1)"));
                }
            }
            positive("epsilon", f64::from(epsilon))?;
            non_negative("weight_decay", f64::from(weight_decay))
        }
    }
}

fn check_schedule(schedule: &LrSchedule) -> Result<(), ConfigError> {
    match schedule {
        LrSchedule::Plateau(p) => {
            if !(p.factor > 0.0 && p.factor < 1.0) {
                return Err(out_of_range("factor", p.factor, "(0, 1)"));
            }
            non_negative("threshold", p.threshold)?;
            non_negative("min_lr", p.min_lr)?;
            non_negative("eps", p.eps)
        }
        LrSchedule::Constant | LrSchedule::WarmupConstant { .. } => Ok(()),
        LrSchedule::WarmupCosine { min_ratio, .. } => {
            if !(0.0..=1.0).contains(min_ratio) {
                return Err(out_of_range("min_ratio", *min_ratio, "[0, 1]"));
            }
            Ok(())
        }
        LrSchedule::Step {
            step_epochs, gamma, ..
        } => {
            if *step_epochs == 0 {
                return Err(ConfigError::new("step_epochs", Problem::Zero));
            }
            positive("gamma", *gamma)
        }
        LrSchedule::MultiStep {
            milestones, gamma, ..
        } => {
            if milestones.is_empty() {
                return Err(ConfigError::rule(
                    "milestones",
                    "a multistep schedule needs the epochs at which the rate decays, e.g. [30, 60]",
                ));
            }
            positive("gamma", *gamma)
        }
        LrSchedule::OneCycle {
            pct_start,
            div_factor,
            final_div_factor,
        } => {
            if !(*pct_start > 0.0 && *pct_start < 1.0) {
                return Err(out_of_range("pct_start", *pct_start, "(0, 1)"));
            }
            positive("div_factor", *div_factor)?;
            positive("final_div_factor", *final_div_factor)
        }
    }
}

fn check_monitor(m: &MonitorConfig, class_names: &[String]) -> Result<Monitor, ConfigError> {
    let monitor = Monitor::parse(&m.metric, m.mode, class_names)
        .map_err(|e| ConfigError::new("monitor.metric", e))?;
    if m.early_stopping_patience == Some(0) {
        return Err(ConfigError::new(
            "monitor.early_stopping_patience",
            Problem::Zero,
        ));
    }
    non_negative("monitor.min_delta", m.min_delta)?;
    Ok(monitor)
}

fn positive(field: &str, value: f64) -> Result<(), ConfigError> {
    match value.is_finite() && value > 0.0 {
        true => Ok(()),
        false => Err(ConfigError::new(field, Problem::NotPositive(value))),
    }
}

fn non_negative(field: &str, value: f64) -> Result<(), ConfigError> {
    match value.is_finite() && value >= 0.0 {
        true => Ok(()),
        false => Err(ConfigError::new(field, Problem::Negative(value))),
    }
}

fn unit_interval(field: &str, value: f64) -> Result<(), ConfigError> {
    match (0.0..=1.0).contains(&value) {
        true => Ok(()),
        false => Err(out_of_range(field, value, "[0, 1]")),
    }
}

fn out_of_range(field: &str, value: f64, range: &'static str) -> ConfigError {
    ConfigError::new(field, Problem::OutOfRange { value, range })
}

#[cfg(test)]
#[path = "tests/plan.rs"]
mod tests;
