//! Training the autoencoder on baseline days and judging a day with it.
//!
//! Two designs share this code. `Original` is the design as first specified:
//! the top 5 apps only (exactly 120 inputs), raw bytes divided by the
//! baseline maximum, one seed. `Default` keeps the architecture, optimizer,
//! scaling rule and threshold rule, and changes what the cells are: browsers
//! count as one app, an "other" column sums the apps outside the top K,
//! cells are log-compressed before the same max-scaling (traffic spans six
//! orders of magnitude: in raw bytes a 3 AM burst in a quiet app is lost
//! next to an evening of films), and three seeds each leave out a third of
//! the baseline, so that every baseline day's error, and hence the
//! threshold, is measured on a day its model did not learn, as the judged
//! day will be (in-sample errors put the threshold too low).

use std::collections::HashMap;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::autoencoder::{Autoencoder, TrainOptions};
use super::error::IntelError;
use super::matrix::{browsers, Columns, DayMatrix, DayUsage};
use super::stats::{fenced_worst, median};

/// Which design judges the days.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Grouped browsers, an "other" column, log cells, an ensemble of seeds.
    #[default]
    Default,
    /// The first design: top 5 apps, raw bytes, one seed.
    Original,
}

impl ModelKind {
    pub const ALL: [ModelKind; 2] = [ModelKind::Default, ModelKind::Original];

    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Default => "default",
            ModelKind::Original => "original",
        }
    }
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ModelKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "default" => Ok(ModelKind::Default),
            "original" => Ok(ModelKind::Original),
            _ => Err(format!("expected default or original, found {s:?}")),
        }
    }
}

/// Unit of the default model's log cells: ln(1 + bytes / 30 MB) is about
/// linear below 30 MB an hour and logarithmic above, so a few MB more or
/// less in an hour (a link opened in Slack) stays near the noise while
/// hundreds of MB where there are usually none (a film, a backup) stand out.
pub const LOG_UNIT: f64 = 3e7;

/// How cells become model inputs (before dividing by the scale).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CellTransform {
    /// Bytes as they are.
    Bytes,
    /// ln(1 + bytes / unit).
    Log { unit: f64 },
}

impl CellTransform {
    pub fn apply(self, bytes: f64) -> f64 {
        match self {
            CellTransform::Bytes => bytes,
            CellTransform::Log { unit } => (bytes.max(0.0) / unit).ln_1p(),
        }
    }
}

/// What a model kind means in practice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    pub kind: ModelKind,
    pub top_apps: usize,
    pub other_column: bool,
    pub group_browsers: bool,
    pub transform: CellTransform,
    pub ensemble: usize,
    /// Measure each baseline day's error with a member that did not learn it.
    pub out_of_bag: bool,
    /// The threshold's worst baseline error is capped at the errors' upper
    /// outer fence (Q3 + 3 × IQR): one day far from the rest (a day the
    /// owner marked normal) cannot move it far.
    #[serde(default)]
    pub robust_threshold: bool,
}

impl ModelSpec {
    pub fn of(kind: ModelKind, top_apps: usize) -> ModelSpec {
        match kind {
            ModelKind::Original => ModelSpec {
                kind,
                top_apps: 5,
                other_column: false,
                group_browsers: false,
                transform: CellTransform::Bytes,
                ensemble: 1,
                out_of_bag: false,
                robust_threshold: false,
            },
            ModelKind::Default => ModelSpec {
                kind,
                top_apps,
                other_column: true,
                group_browsers: true,
                transform: CellTransform::Log { unit: LOG_UNIT },
                ensemble: 3,
                out_of_bag: true,
                robust_threshold: true,
            },
        }
    }
}

/// How to train a detector.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainSettings {
    pub spec: ModelSpec,
    pub threshold_factor: f64,
    pub epochs: usize,
    pub seed: u64,
}

impl TrainSettings {
    pub fn new(kind: ModelKind) -> TrainSettings {
        TrainSettings {
            spec: ModelSpec::of(kind, 5),
            threshold_factor: 1.5,
            epochs: 100,
            seed: 0,
        }
    }
}

/// Everything but the weights: what a saved model needs to judge again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    pub spec: ModelSpec,
    pub columns: Columns,
    /// Inputs are divided by this (the baseline maximum after the transform).
    pub scale: f64,
    pub threshold: f64,
    pub threshold_factor: f64,
    pub baseline_errors: Vec<f64>,
    /// Median bytes of each cell over the baseline, `[column * 24 + hour]`.
    pub typical: Vec<f64>,
    pub seeds: Vec<u64>,
    pub epochs: usize,
}

/// A trained model with its scale and threshold.
pub struct Detector {
    pub meta: ModelMeta,
    nets: Vec<Autoencoder>,
}

/// What a detector sees in one day.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub error: f64,
    pub threshold: f64,
    /// Squared reconstruction error of each cell (model units).
    pub cell_errors: Vec<f64>,
    pub matrix: DayMatrix,
}

impl Judgement {
    pub fn anomalous(&self) -> bool {
        self.error > self.threshold
    }

    /// The bytes the day moved beyond the baseline's typical day: the sum
    /// over every (column, hour) cell of how far it is above the baseline
    /// median (cells below it count nothing: less use is no alarm).
    pub fn bytes_above_typical(&self, meta: &ModelMeta) -> f64 {
        self.matrix
            .cells
            .iter()
            .zip(&meta.typical)
            .map(|(day, typical)| (day - typical).max(0.0))
            .sum()
    }
}

impl Detector {
    /// Trains on `baseline` days.
    pub fn train(baseline: &[&DayUsage], settings: &TrainSettings) -> Result<Detector, IntelError> {
        if baseline.is_empty() {
            return Err(IntelError::Invalid("no baseline days to learn from".into()));
        }
        let spec = settings.spec.clone();
        let groups = if spec.group_browsers {
            vec![browsers()]
        } else {
            Vec::new()
        };
        let columns = Columns::choose(baseline, spec.top_apps, &groups, spec.other_column);
        if columns.is_empty() {
            return Err(IntelError::Invalid(
                "the baseline days have no traffic at all".into(),
            ));
        }
        let matrices: Vec<DayMatrix> = baseline.iter().map(|d| columns.matrix(d)).collect();
        let max = matrices
            .iter()
            .flat_map(|m| m.cells.iter())
            .map(|v| spec.transform.apply(*v))
            .fold(0.0f64, f64::max);
        let scale = if max > 0.0 { max } else { 1.0 };
        let typical = (0..columns.len() * 24)
            .map(|i| median(matrices.iter().map(|m| m.cells[i]).collect()))
            .collect();
        let meta = ModelMeta {
            spec: spec.clone(),
            columns,
            scale,
            threshold: 0.0,
            threshold_factor: settings.threshold_factor,
            baseline_errors: Vec::new(),
            typical,
            seeds: (0..spec.ensemble.max(1) as u64)
                .map(|i| settings.seed.wrapping_add(i.wrapping_mul(0x9e37_79b9)))
                .collect(),
            epochs: settings.epochs,
        };
        let rows: Vec<Vec<f32>> = matrices.iter().map(|m| inputs(&meta, m)).collect();
        let nets = members(&meta, &rows, settings.epochs)?;
        let mut detector = Detector { meta, nets };
        let errors = detector.baseline_errors(&rows)?;
        let worst = if spec.robust_threshold {
            fenced_worst(&errors)
        } else {
            errors.iter().copied().fold(0.0f64, f64::max)
        };
        detector.meta.threshold = worst * settings.threshold_factor;
        detector.meta.baseline_errors = errors;
        Ok(detector)
    }

    /// Each baseline day's error: out of bag, by the member that did not
    /// learn it; else the ensemble's mean cell error.
    fn baseline_errors(&self, rows: &[Vec<f32>]) -> Result<Vec<f64>, IntelError> {
        let members = self.nets.len();
        rows.iter()
            .enumerate()
            .map(|(i, r)| {
                if self.meta.spec.out_of_bag && members > 1 {
                    self.nets[i % members].error(r)
                } else {
                    self.cell_errors(r).map(|c| mean(&c))
                }
            })
            .collect()
    }

    /// Squared error of each cell, averaged over the ensemble's members.
    fn cell_errors(&self, row: &[f32]) -> Result<Vec<f64>, IntelError> {
        let mut sum = vec![0.0f64; row.len()];
        for net in &self.nets {
            for ((s, y), x) in sum.iter_mut().zip(net.reconstruct(row)?).zip(row) {
                let d = f64::from(*x) - f64::from(y);
                *s += d * d;
            }
        }
        let n = self.nets.len().max(1) as f64;
        Ok(sum.into_iter().map(|s| s / n).collect())
    }

    /// Judges one day: its error is the members' mean squared error.
    pub fn judge(&self, day: &DayUsage) -> Result<Judgement, IntelError> {
        let matrix = self.meta.columns.matrix(day);
        let row = inputs(&self.meta, &matrix);
        let cell_errors = self.cell_errors(&row)?;
        Ok(Judgement {
            error: mean(&cell_errors),
            threshold: self.meta.threshold,
            cell_errors,
            matrix,
        })
    }

    /// The weights of every ensemble member, in one safetensors file
    /// (`m0.l0.weight`, …).
    pub fn to_safetensors(&self) -> Result<Vec<u8>, IntelError> {
        let mut tensors = Vec::new();
        for (i, net) in self.nets.iter().enumerate() {
            tensors.extend(net.tensors(&format!("m{i}."))?);
        }
        Ok(super::autoencoder::safetensors_bytes(tensors))
    }

    /// A detector saved with a verdict, to re-check it.
    pub fn restore(meta: ModelMeta, safetensors: &[u8]) -> Result<Detector, IntelError> {
        let mut all = candle_core::safetensors::load_buffer(safetensors, &candle_core::Device::Cpu)
            .map_err(|e| IntelError::Model(e.to_string()))?;
        let mut nets = Vec::new();
        for i in 0..meta.seeds.len() {
            let prefix = format!("m{i}.");
            let mine: HashMap<String, candle_core::Tensor> = all
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?.to_string(), v.clone())))
                .collect();
            all.retain(|k, _| !k.starts_with(&prefix));
            nets.push(Autoencoder::from_tensors(mine)?);
        }
        if nets.iter().any(|n| n.inputs() != meta.columns.len() * 24) || nets.is_empty() {
            return Err(IntelError::Model(
                "saved weights do not match the saved columns".into(),
            ));
        }
        Ok(Detector { meta, nets })
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Model inputs of one matrix: transformed cells divided by the scale.
fn inputs(meta: &ModelMeta, m: &DayMatrix) -> Vec<f32> {
    m.cells
        .iter()
        .map(|v| (meta.spec.transform.apply(*v) / meta.scale) as f32)
        .collect()
}

/// The ensemble's members, trained on `rows`. Out of bag: member m does
/// not see the days i with i % members == m, so each baseline day's error
/// is measured by a model that never learnt it, as the day being judged
/// will be. In-sample errors are lower than any new day's, which puts the
/// threshold too low.
fn members(
    meta: &ModelMeta,
    rows: &[Vec<f32>],
    epochs: usize,
) -> Result<Vec<Autoencoder>, IntelError> {
    let count = meta.seeds.len();
    let held_out = |i: usize, m: usize| meta.spec.out_of_bag && count > 1 && i % count == m;
    let mut nets = Vec::new();
    for (m, &seed) in meta.seeds.iter().enumerate() {
        let train: Vec<Vec<f32>> = rows
            .iter()
            .enumerate()
            .filter(|(i, _)| !held_out(*i, m))
            .map(|(_, r)| r.clone())
            .collect();
        let mut net = Autoencoder::new(meta.columns.len() * 24, seed)?;
        net.train(
            &train,
            TrainOptions {
                epochs,
                learning_rate: 1e-3,
                seed,
            },
        )?;
        nets.push(net);
    }
    Ok(nets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn day(i: i64, netflix: f64) -> DayUsage {
        let mut slack = [0.0; 24];
        let mut tv = [0.0; 24];
        for (h, cell) in slack.iter_mut().enumerate().take(17).skip(9) {
            *cell = 5e6 * (1.0 + 0.05 * ((i + h as i64) % 3) as f64);
        }
        tv[20..23].fill(netflix);
        DayUsage::complete(
            NaiveDate::from_ymd_opt(2026, 6, 1).unwrap() + chrono::Duration::days(i),
            [("Slack".to_string(), slack), ("Netflix".to_string(), tv)],
        )
    }

    fn quick(kind: ModelKind) -> TrainSettings {
        TrainSettings {
            epochs: 20,
            ..TrainSettings::new(kind)
        }
    }

    #[test]
    fn scale_is_the_baseline_maximum_and_nothing_else() {
        let days: Vec<DayUsage> = (0..7).map(|i| day(i, 1e9 + i as f64 * 1e8)).collect();
        let refs: Vec<&DayUsage> = days.iter().collect();
        let original = Detector::train(&refs, &quick(ModelKind::Original)).unwrap();
        assert_eq!(original.meta.scale, 1.6e9);
        assert_eq!(original.meta.columns.len(), 2, "top 5 only: two apps here");
        let default = Detector::train(&refs, &quick(ModelKind::Default)).unwrap();
        assert!((default.meta.scale - (1.6e9 / LOG_UNIT).ln_1p()).abs() < 1e-9);
        assert_eq!(
            default.meta.columns.names.last().unwrap(),
            super::super::matrix::OTHER
        );
    }

    #[test]
    fn threshold_is_the_worst_baseline_error_times_the_factor() {
        let days: Vec<DayUsage> = (0..7).map(|i| day(i, 1e9)).collect();
        let refs: Vec<&DayUsage> = days.iter().collect();
        let mut s = quick(ModelKind::Default);
        s.threshold_factor = 2.0;
        let d = Detector::train(&refs, &s).unwrap();
        assert_eq!(d.meta.baseline_errors.len(), 7);
        let worst = fenced_worst(&d.meta.baseline_errors);
        assert!((d.meta.threshold - 2.0 * worst).abs() < 1e-12);
        // The original design takes the worst error as it is.
        let mut o = quick(ModelKind::Original);
        o.threshold_factor = 2.0;
        let d0 = Detector::train(&refs, &o).unwrap();
        let worst0 = d0.meta.baseline_errors.iter().copied().fold(0.0, f64::max);
        assert!((d0.meta.threshold - 2.0 * worst0).abs() < 1e-12);
        // A day like the baseline passes; films all night do not.
        assert!(!d.judge(&day(3, 1e9)).unwrap().anomalous());
        let mut night = day(8, 1e9);
        night.apps.get_mut("Netflix").unwrap()[..6].fill(1.5e9);
        assert!(d.judge(&night).unwrap().anomalous());
    }

    #[test]
    fn a_saved_detector_judges_the_same() {
        let days: Vec<DayUsage> = (0..7).map(|i| day(i, 1e9)).collect();
        let refs: Vec<&DayUsage> = days.iter().collect();
        let d = Detector::train(&refs, &quick(ModelKind::Default)).unwrap();
        let bytes = d.to_safetensors().unwrap();
        let meta: ModelMeta =
            serde_json::from_str(&serde_json::to_string(&d.meta).unwrap()).unwrap();
        let back = Detector::restore(meta, &bytes).unwrap();
        let probe = day(9, 2e9);
        assert_eq!(d.judge(&probe).unwrap(), back.judge(&probe).unwrap());
    }

    #[test]
    fn model_names_parse() {
        assert_eq!(
            "original".parse::<ModelKind>().unwrap(),
            ModelKind::Original
        );
        assert_eq!("default".parse::<ModelKind>().unwrap(), ModelKind::Default);
        assert!("fancy".parse::<ModelKind>().is_err());
    }
}
