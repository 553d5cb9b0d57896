//! Trains the original design's autoencoder (120 inputs: 24 hours × the top
//! 5 apps, raw bytes divided by the baseline maximum) on N = 7, 30 and 60
//! synthetic baseline days, times the training, judges a set of test days,
//! and writes everything another implementation needs to repeat the same
//! run: initial weights, scaled rows, the row order of every epoch, and the
//! Candle results to compare with.
//!
//! `cargo run --release -p nbi-core --example torch_parity -- --out DIR`
//! writes `DIR/n{N}.json` and `DIR/n{N}_init.safetensors`;
//! `scripts/torch_parity.py DIR` repeats the runs in PyTorch.

use std::path::PathBuf;
use std::time::Instant;

use chrono::{Duration, NaiveDate};
use nbi_core::intel::autoencoder::{epoch_orders, Autoencoder, TrainOptions};
use nbi_core::intel::matrix::{Columns, DayUsage};
use nbi_core::synth::{is_workday, Generator, Scenario};
use serde_json::json;

const SIZES: [usize; 3] = [7, 30, 60];
const TEST_DAYS_PER_KIND: usize = 2;
const THRESHOLD_FACTOR: f64 = 1.5;

fn day(seed: u64, date: NaiveDate, scenario: Scenario) -> DayUsage {
    let mix = seed
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add((chrono::Datelike::num_days_from_ce(&date) as u64).wrapping_mul(0x94d0_49bb));
    DayUsage::complete(date, Generator::new(mix).scenario_day(date, scenario))
}

/// `n` workdays before `start`, oldest first (scenarios such as films
/// during work hours need a workday baseline).
fn baseline(seed: u64, start: NaiveDate, n: usize) -> Vec<DayUsage> {
    let mut days = Vec::new();
    let mut d = start - Duration::days(1);
    while days.len() < n {
        if is_workday(d) {
            days.push(day(seed, d, Scenario::Normal));
        }
        d -= Duration::days(1);
    }
    days.reverse();
    days
}

/// Workdays from `start` on, each of every scenario kind.
fn tests(seed: u64, start: NaiveDate) -> Vec<(Scenario, DayUsage)> {
    let mut out = Vec::new();
    let mut d = start;
    for round in 0..TEST_DAYS_PER_KIND {
        for (k, scenario) in Scenario::ALL.into_iter().enumerate() {
            while !is_workday(d) {
                d += Duration::days(1);
            }
            let salt = seed.wrapping_add(1 + (round * 100 + k) as u64);
            out.push((scenario, day(salt, d, scenario)));
            d += Duration::days(1);
        }
    }
    out
}

fn main() {
    nbi_core::intel::use_one_math_thread();
    let mut out = PathBuf::from("target/torch-parity");
    let mut epochs = 100usize;
    let mut seed = 7u64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out = args.next().expect("--out DIR").into(),
            "--epochs" => epochs = args.next().expect("--epochs N").parse().expect("epochs"),
            "--seed" => seed = args.next().expect("--seed N").parse().expect("seed"),
            _ => panic!("usage: torch_parity [--out DIR] [--epochs N] [--seed N]"),
        }
    }
    std::fs::create_dir_all(&out).expect("create the output directory");
    let start = NaiveDate::from_ymd_opt(2026, 9, 7).expect("date");
    for n in SIZES {
        let base = baseline(seed, start, n);
        let refs: Vec<&DayUsage> = base.iter().collect();
        // The original design: top 5 apps, no grouping, no "other" column.
        let columns = Columns::choose(&refs, 5, &[], false);
        assert_eq!(columns.len(), 5, "the synthetic person has at least 5 apps");
        let matrices: Vec<Vec<f64>> = base.iter().map(|d| columns.matrix(d).cells).collect();
        let max = matrices.iter().flatten().copied().fold(0.0f64, f64::max);
        let scale = if max > 0.0 { max } else { 1.0 };
        let scaled =
            |cells: &[f64]| -> Vec<f32> { cells.iter().map(|v| (v / scale) as f32).collect() };
        let rows: Vec<Vec<f32>> = matrices.iter().map(|m| scaled(m)).collect();
        let test_days = tests(seed, start);
        let test_rows: Vec<Vec<f32>> = test_days
            .iter()
            .map(|(_, d)| scaled(&columns.matrix(d).cells))
            .collect();

        let inputs = columns.len() * 24;
        let model_seed = seed.wrapping_add(n as u64);
        let opts = TrainOptions {
            epochs,
            learning_rate: 1e-3,
            seed: model_seed,
        };
        let mut net = Autoencoder::new(inputs, model_seed).expect("model");
        let init = net.to_safetensors().expect("initial weights");
        std::fs::write(out.join(format!("n{n}_init.safetensors")), init).expect("write weights");
        let orders = epoch_orders(rows.len(), opts);
        // Lets the other side check it loaded the weights the right way round.
        let initial_errors: Vec<f64> = rows.iter().map(|r| net.error(r).expect("error")).collect();

        let began = Instant::now();
        let last_loss = net.train(&rows, opts).expect("train");
        let seconds = began.elapsed().as_secs_f64();

        let baseline_errors: Vec<f64> = rows.iter().map(|r| net.error(r).expect("error")).collect();
        let threshold = baseline_errors.iter().copied().fold(0.0f64, f64::max) * THRESHOLD_FACTOR;
        let test_errors: Vec<f64> = test_rows
            .iter()
            .map(|r| net.error(r).expect("error"))
            .collect();
        let anomalous: Vec<bool> = test_errors.iter().map(|e| *e > threshold).collect();
        let doc = json!({
            "n": n,
            "inputs": inputs,
            "hidden": nbi_core::intel::autoencoder::HIDDEN,
            "epochs": epochs,
            "learning_rate": 1e-3,
            "adam": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
            "threshold_factor": THRESHOLD_FACTOR,
            "columns": columns.names,
            "scale": scale,
            "baseline_rows": rows,
            "test_rows": test_rows,
            "test_kinds": test_days.iter().map(|(s, _)| s.label()).collect::<Vec<_>>(),
            "test_should_flag": test_days.iter().map(|(s, _)| s.is_anomaly()).collect::<Vec<_>>(),
            "orders": orders,
            "candle": {
                "seconds": seconds,
                "initial_errors": initial_errors,
                "last_loss": last_loss,
                "baseline_errors": baseline_errors,
                "threshold": threshold,
                "test_errors": test_errors,
                "anomalous": anomalous,
            },
        });
        std::fs::write(
            out.join(format!("n{n}.json")),
            serde_json::to_vec(&doc).expect("json"),
        )
        .expect("write run");
        let flagged = anomalous.iter().filter(|a| **a).count();
        println!(
            "N={n:>2}: Candle trained {epochs} epochs in {seconds:.3} s, {flagged} of {} test days flagged",
            anomalous.len()
        );
    }
}
