//! The seeded evaluation of the detector, small but meaningful: a few
//! 30-day baselines and a few days of every kind.

use nbi_core::evaluation::synthetic::{run, EvalOptions};
use nbi_core::intel::detector::ModelKind;
use nbi_core::synth::Scenario;

#[test]
fn the_default_model_flags_every_anomaly_and_nothing_benign() {
    let report = run(&EvalOptions {
        model: ModelKind::Default,
        days_per_kind: 4,
        ..EvalOptions::default()
    })
    .unwrap();
    let table = report.table();
    println!("{table}");
    assert_eq!(report.kinds.len(), Scenario::ALL.len());
    assert_eq!(report.test_days(), 4 * Scenario::ALL.len());
    for k in &report.kinds {
        assert_eq!(k.total(), 4, "{table}");
        if k.should_flag {
            assert_eq!(k.flagged, 4, "recall on {}:\n{table}", k.label);
        } else {
            assert_eq!(k.flagged, 0, "false alarm on {}:\n{table}", k.label);
        }
    }
    assert!(report.goal_met());
}

#[test]
fn the_evaluation_repeats_exactly() {
    let opts = EvalOptions {
        model: ModelKind::Original,
        days_per_kind: 1,
        epochs: 10,
        ..EvalOptions::default()
    };
    let a = run(&opts).unwrap();
    let b = run(&opts).unwrap();
    assert_eq!(a.kinds, b.kinds);
}
