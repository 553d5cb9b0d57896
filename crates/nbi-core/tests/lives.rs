//! Lives judged day by day as `nbi run` judges them, with the default
//! settings.
//!
//! A made-up year (`nbi eval --year`, seed 1): every injected anomaly
//! flagged, at most one false alarm in any month, each change of routine
//! learnt within a week with one notice.
//!
//! Real lives: public series with labelled days (`../shared/corpus/nab/`,
//! or `NBI_NAB_DIR`): every labelled surge it could judge flagged, at most
//! one false alarm per 30 ordinary days, and no day flagged only for using
//! less (see `nbi_core::evaluation::nab`). Without the corpus that test
//! says so and passes: the corpus is not part of this repository.

use std::path::PathBuf;

use nbi_core::evaluation::nab;
use nbi_core::evaluation::year::{self, Injection, Life, LifePlan};
use nbi_core::intel::IntelConfig;

fn corpus_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("NBI_NAB_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/nab"),
    };
    if dir.join("labels/combined_labels.json").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: no NAB corpus at {} (set NBI_NAB_DIR to its directory)",
            dir.display()
        );
        None
    }
}

/// Judges every series (two at a time: one math thread each) and checks
/// the goals: each judged surge flagged, no day flagged only for using
/// less, and at most one false alarm per 30 ordinary days over the corpus
/// (a series of 35 ordinary days says little on its own: one day is 0.86
/// per 30), each series' own rate printed.
#[test]
fn real_lives_surges_flagged_few_false_alarms_never_for_less() {
    let Some(dir) = corpus_dir() else {
        return;
    };
    nbi_core::intel::use_one_math_thread();
    let work = tempfile::tempdir().unwrap();
    let queue = std::sync::Mutex::new(nab::SERIES.to_vec());
    let reports = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| loop {
                let Some(series) = queue.lock().unwrap().pop() else {
                    return;
                };
                let report = nab::run(
                    &dir,
                    &series,
                    &IntelConfig::default(),
                    work.path(),
                    |_, _| {},
                )
                .unwrap();
                reports.lock().unwrap().push(report);
            });
        }
    });
    let mut reports = reports.into_inner().unwrap();
    reports.sort_by(|a, b| a.series.cmp(&b.series));
    let tables: String = reports.iter().map(|r| r.table()).collect();
    println!("{tables}");
    assert_eq!(reports.len(), nab::SERIES.len());
    for r in &reports {
        assert!(r.judged > 40, "days were judged:\n{tables}");
        let (flagged, surges) = r.surges();
        assert!(surges > 0, "{} has a judged surge:\n{tables}", r.series);
        assert_eq!(flagged, surges, "every surge flagged:\n{tables}");
        assert!(
            r.flagged_for_less.is_empty(),
            "no day flagged only for using less:\n{tables}"
        );
    }
    let summary = nab::summary(&reports);
    println!("{summary}");
    let (alarms, ordinary) = nab::false_alarms(&reports);
    assert!(
        alarms * 30 <= ordinary,
        "at most one false alarm per 30 ordinary days: {summary}\n{tables}"
    );
    assert!(nab::goal_met(&reports), "{summary}");
}

#[test]
fn a_year_of_life_every_injected_anomaly_flagged() {
    nbi_core::intel::use_one_math_thread();
    let work = tempfile::tempdir().unwrap();
    let config = IntelConfig {
        seed: 1,
        ..IntelConfig::default()
    };
    let report = year::run(&LifePlan::year(1), &config, work.path(), |_, _| {}).unwrap();
    let table = report.table();
    println!("{table}");
    assert_eq!(report.recall(), (21, 21), "{table}");
    assert!(report.goal_met(), "{table}");
    // An upload to an organisation never sent to is flagged and told with
    // where it went; the nightly backup to a new one is learnt.
    let new_place: Vec<&str> = report
        .caught
        .iter()
        .filter(|c| c.life == Life::Injected(Injection::UploadToNewDestination))
        .map(|c| c.summary.as_str())
        .collect();
    assert_eq!(new_place.len(), 3, "{table}");
    for s in new_place {
        assert!(s.contains("LLC Digital Network (RU)"), "{s}");
    }
    let backups = report
        .changes
        .iter()
        .find(|c| c.label.contains("new destination"))
        .expect("the lasting change of destinations");
    assert_eq!(backups.notices, 1, "{table}");
}
