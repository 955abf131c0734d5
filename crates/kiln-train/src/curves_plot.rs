//! `training_curves.png` / `.svg`: the run's curves, redrawn at the end of every epoch.

use std::path::{Path, PathBuf};

use kiln_eval::plot::{CurvePanel, Series, TrainingCurves, save};

use crate::callback::{Callback, ModelSnapshot};
use crate::error::TrainError;
use crate::history::{EpochMetrics, History, Phase};
use crate::monitor::{Monitor, Monitored};

/// The figure of `history`: loss and accuracy (training and validation), the monitored metric
/// when it is neither (its best epoch marked), and the learning rate at each epoch's end.
pub fn training_curves(history: &History, monitor: Option<&Monitor>) -> TrainingCurves {
    let series = |phase: Phase, value: &dyn Fn(&EpochMetrics) -> Option<f64>| Series {
        name: phase.to_string(),
        points: history
            .iter()
            .filter(|m| m.phase == phase)
            .filter_map(|m| value(m).map(|v| (m.epoch as f64, v)))
            .collect(),
    };
    let both = |title: &str, value: &dyn Fn(&EpochMetrics) -> Option<f64>| CurvePanel {
        title: title.to_string(),
        series: [Phase::Train, Phase::Valid]
            .into_iter()
            .map(|p| series(p, value))
            .filter(|s| !s.points.is_empty())
            .collect(),
        marker: None,
    };
    let mut loss = both("loss", &|m| Some(m.loss));
    let accuracy = both("accuracy", &|m| Some(m.accuracy));
    let mut panels = vec![];
    let mut monitored = None;
    if let Some(mon) = monitor {
        let best = history
            .iter()
            .filter_map(|m| mon.value(m).map(|v| (m.epoch, v)))
            .fold(None, |best: Option<(usize, f64)>, (e, v)| match best {
                Some((_, b)) if !mon.improves(v, Some(b), 0.0) => best,
                _ => Some((e, v)),
            });
        let marker =
            best.map(|(e, v)| (e as f64, format!("best {} = {v:.4} (epoch {e})", mon.name)));
        match &mon.quantity {
            Monitored::Loss => loss.marker = marker,
            Monitored::Metric(_) => {
                let mut panel = CurvePanel {
                    title: mon.name.clone(),
                    series: vec![series(mon.phase, &|m| mon.value(m))],
                    marker,
                };
                panel.series[0].name = mon.phase.to_string();
                monitored = Some(panel);
            }
        }
    }
    panels.push(loss);
    panels.push(accuracy);
    panels.extend(monitored);
    let mut lr = series(Phase::Train, &|m| Some(m.lr));
    lr.name = "lr".into();
    panels.push(CurvePanel {
        title: "learning rate (end of epoch; every step in lr.csv)".into(),
        series: vec![lr],
        marker: None,
    });
    TrainingCurves { panels }
}

/// Redraws `<stem>.png` and `<stem>.svg` after every epoch.
#[derive(Debug, Clone)]
pub struct CurvesPlot {
    stem: PathBuf,
    monitor: Option<Monitor>,
}

impl CurvesPlot {
    /// Draws to `stem` with the extensions `.png` and `.svg`.
    pub fn new(stem: &Path, monitor: Option<Monitor>) -> Self {
        Self {
            stem: stem.to_path_buf(),
            monitor,
        }
    }
}

impl Callback for CurvesPlot {
    fn on_epoch_end(
        &mut self,
        history: &History,
        _model: &dyn ModelSnapshot,
    ) -> Result<(), TrainError> {
        save(&training_curves(history, self.monitor.as_ref()), &self.stem)?;
        Ok(())
    }
}
