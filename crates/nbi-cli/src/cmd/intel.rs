//! `detect`, `verdicts`, `mark-normal` and `eval`: the learnt rhythm.

use nbi_core::store::VerdictStore;
use std::io::IsTerminal as _;

use anyhow::Context as _;
use chrono::{NaiveDate, Utc};
use nbi_core::evaluation::synthetic::{self as eval, EvalOptions};
use nbi_core::intel::detector::ModelKind;
use nbi_core::intel::verdict::{Status, Verdict};
use nbi_core::intel::{self, parse_verdict};
use serde::Serialize;

use crate::args::{DetectArgs, EvalArgs, Global, MarkNormalArgs, VerdictsArgs};
use crate::context::Context;

/// The store's connections, when something has been stored.
fn existing_stores(ctx: &Context) -> anyhow::Result<nbi_core::store::connections::Stores> {
    anyhow::ensure!(
        ctx.rt.open_readers()?.is_some(),
        "no data yet: nothing stored at {} (start watching with `nbi run`)",
        ctx.db().display()
    );
    Ok(ctx.rt.open_stores()?)
}

pub fn detect(global: &Global, args: DetectArgs) -> anyhow::Result<()> {
    let ctx = Context::load_with(global, |c| {
        if let Some(model) = args.model {
            c.intel.model = model;
        }
        Ok(())
    })?;
    let stores = existing_stores(&ctx)?;
    let verdict = parse_verdict(&ctx.rt.judge_day(&stores, args.day)?)?;
    if args.json {
        println!("{}", serde_json::to_string(&verdict)?);
    } else {
        print_verdict(&verdict);
    }
    Ok(())
}

fn print_verdict(v: &Verdict) {
    let kind = match v.day_kind {
        intel::baseline::DayKind::Workday => "workday",
        intel::baseline::DayKind::DayOff => "day-off",
    };
    match (v.status, v.error, v.threshold) {
        (Status::Normal | Status::Anomalous, Some(e), Some(t)) => println!(
            "{}: {} (error {:.5} {} threshold {:.5}; {} {kind} baseline days; model {})",
            v.day.format("%a %d %b %Y"),
            v.status,
            e,
            if e > t { ">" } else { "≤" },
            t,
            v.baseline_days,
            v.model
        ),
        _ => println!("{}", v.summary),
    }
    for e in &v.explanation {
        println!(
            "  {} {:02}:00–{:02}:00: {}, typically {}",
            e.app,
            e.from_hour,
            e.to_hour,
            nbi_core::human::bytes(e.bytes),
            nbi_core::human::bytes(e.typical_bytes)
        );
    }
}

#[derive(Serialize)]
struct StoredVerdict {
    #[serde(flatten)]
    verdict: Verdict,
    marked_normal: bool,
    judged_at: chrono::DateTime<Utc>,
}

pub fn verdicts(global: &Global, args: VerdictsArgs) -> anyhow::Result<()> {
    let ctx = Context::load(global)?;
    let db = ctx.db();
    let (first, last) = (
        NaiveDate::from_ymd_opt(1, 1, 1).unwrap_or(NaiveDate::MIN),
        NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX),
    );
    let records = match ctx.store {
        crate::args::StoreKind::Sqlite if db.exists() => {
            nbi_core::store::sqlite::SqliteStore::open_read_only(&db)
                .with_context(|| format!("opening the store {}", db.display()))?
                .verdicts(&ctx.config.host, first, last)?
        }
        crate::args::StoreKind::Sqlite => Vec::new(),
        crate::args::StoreKind::Influx => {
            ctx.open_store()?.verdicts(&ctx.config.host, first, last)?
        }
    };
    let list = records
        .iter()
        .map(|r| {
            Ok(StoredVerdict {
                verdict: parse_verdict(r)?,
                marked_normal: r.marked_normal,
                judged_at: r.judged_at,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if args.json {
        println!("{}", serde_json::to_string(&list)?);
        return Ok(());
    }
    if list.is_empty() {
        println!("no verdicts yet (judge a day with `nbi detect`)");
    }
    for v in &list {
        println!(
            "{} {:<17} {}{}",
            v.verdict.day,
            v.verdict.status.name(),
            v.verdict.summary,
            if v.marked_normal {
                "  [marked normal]"
            } else {
                ""
            }
        );
    }
    Ok(())
}

pub fn mark_normal(global: &Global, args: MarkNormalArgs) -> anyhow::Result<()> {
    let ctx = Context::load(global)?;
    let stores = existing_stores(&ctx)?;
    let marked = ctx.rt.mark_normal(&stores, args.day)?;
    anyhow::ensure!(
        marked.is_some(),
        "{} has no verdict to mark (judge it with `nbi detect --day {}`)",
        args.day,
        args.day
    );
    println!(
        "{} marked normal: later baselines may learn from it",
        args.day
    );
    Ok(())
}

pub fn new_normal(global: &Global, args: MarkNormalArgs) -> anyhow::Result<()> {
    let ctx = Context::load(global)?;
    let stores = existing_stores(&ctx)?;
    let marked = ctx.rt.new_normal(&stores, args.day)?;
    println!(
        "new normal from {}: baselines start on it; {marked} judged day(s) from it marked normal",
        args.day
    );
    Ok(())
}

pub fn eval(args: EvalArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.days_per_kind >= 1,
        "--days-per-kind: expected at least 1"
    );
    anyhow::ensure!(
        args.baseline_days >= 7,
        "--baseline-days: expected at least 7, found {}",
        args.baseline_days
    );
    let models: Vec<ModelKind> = match args.model {
        Some(m) => vec![m],
        None => ModelKind::ALL.to_vec(),
    };
    let show_progress = !args.json && std::io::stderr().is_terminal();
    if args.year {
        return eval_year(&models, args.seed, args.json, show_progress);
    }
    if let Some(dir) = &args.nab {
        return eval_nab(dir, args.json, show_progress);
    }
    let mut reports = Vec::new();
    for model in models {
        let opts = EvalOptions {
            model,
            days_per_kind: args.days_per_kind,
            baseline_days: args.baseline_days,
            seed: args.seed,
            ..EvalOptions::default()
        };
        let report = eval::run_with_progress(&opts, |done, of| {
            if show_progress {
                eprint!("\r{model}: {done}/{of} trials");
            }
        })?;
        if show_progress {
            eprintln!();
        }
        if !args.json {
            println!("{}", report.table());
        }
        reports.push(report);
    }
    if args.json {
        println!("{}", serde_json::to_string(&reports)?);
    }
    Ok(())
}

/// `nbi eval --nab DIR`: the default settings judge each real series.
fn eval_nab(dir: &std::path::Path, json: bool, show_progress: bool) -> anyhow::Result<()> {
    use nbi_core::evaluation::nab;
    let work = tempfile::tempdir()?;
    let config = nbi_core::intel::IntelConfig::default();
    let mut reports = Vec::new();
    for series in &nab::SERIES {
        let report = nab::run(dir, series, &config, work.path(), |done, of| {
            if show_progress {
                eprint!("\r{}: day {done} of {of}", series.key);
            }
        })
        .with_context(|| format!("the series {} under {}", series.key, dir.display()))?;
        if show_progress {
            eprintln!();
        }
        if !json {
            print!("{}", report.table());
        }
        reports.push(report);
    }
    if json {
        println!("{}", serde_json::to_string(&reports)?);
    } else {
        println!("{}", nab::summary(&reports));
    }
    Ok(())
}

/// `nbi eval --year`: each model judges the same year of life.
fn eval_year(
    models: &[ModelKind],
    seed: u64,
    json: bool,
    show_progress: bool,
) -> anyhow::Result<()> {
    let plan = nbi_core::evaluation::year::LifePlan::year(seed);
    let dir = tempfile::tempdir()?;
    let mut reports = Vec::new();
    for &model in models {
        let config = nbi_core::intel::IntelConfig {
            model,
            seed,
            ..Default::default()
        };
        let report = nbi_core::evaluation::year::run(&plan, &config, dir.path(), |done, of| {
            if show_progress {
                eprint!("\r{model}: day {done} of {of}");
            }
        })?;
        if show_progress {
            eprintln!();
        }
        if !json {
            println!("{}", report.table());
        }
        reports.push(report);
    }
    if json {
        println!("{}", serde_json::to_string(&reports)?);
    }
    Ok(())
}
