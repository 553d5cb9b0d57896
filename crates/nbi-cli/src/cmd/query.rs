//! `today`, `status` and `config`: reading what is stored.

use nbi_core::store::UsageQuery;
use std::path::Path;

use anyhow::Context as _;
use chrono::{DateTime, Local, Utc};
use nbi_core::runtime::status::{self, RunStatus};
use nbi_core::store::sqlite::SqliteStore;
use nbi_core::store::HostFilter;
use serde::Serialize;

use crate::args::{Global, StatusArgs, StoreKind, TodayArgs};
use crate::context::Context;
use nbi_core::human;
use nbi_core::plan::PlanUsage;

#[derive(Serialize)]
struct TodayJson {
    day: String,
    apps: Vec<nbi_core::store::AppTotal>,
}

/// Opens the store for reading; `None` when nothing has been stored yet.
fn open_existing(db: &Path) -> anyhow::Result<Option<SqliteStore>> {
    if !db.exists() {
        return Ok(None);
    }
    match SqliteStore::open_read_only(db) {
        Ok(s) => Ok(Some(s)),
        // Created this very moment by a starting watcher: nothing in it yet.
        Err(nbi_core::store::StoreError::NotInitialized { .. }) => Ok(None),
        Err(e) => Err(e).with_context(|| format!("opening the store {}", db.display())),
    }
}

pub fn today(global: &Global, args: TodayArgs) -> anyhow::Result<()> {
    let ctx = Context::load(global)?;
    let db = ctx.db();
    let day = args
        .day
        .unwrap_or_else(|| Utc::now().with_timezone(&ctx.tz).date_naive());
    let host = if args.all_hosts {
        HostFilter::All
    } else {
        HostFilter::One(ctx.config.host.clone())
    };
    let totals = |s: &dyn nbi_core::store::UsageQuery| match &args.network {
        None => s.day_totals(&host, day, ctx.tz),
        Some(net) => nbi_core::network::report::day_totals_on(s, &host, day, ctx.tz, net),
    };
    let (store, apps) = match ctx.store {
        StoreKind::Influx => (None, totals(ctx.open_store()?.as_ref())?),
        StoreKind::Sqlite => {
            let store = open_existing(&db)?;
            let apps = match &store {
                Some(s) => totals(s)?,
                None => Vec::new(),
            };
            (store, apps)
        }
    };
    if args.json {
        let out = TodayJson {
            day: day.format("%Y-%m-%d").to_string(),
            apps,
        };
        println!("{}", serde_json::to_string(&out)?);
        return Ok(());
    }
    if let Some(label) = store.as_ref().and_then(|s| s.meta("label").ok().flatten()) {
        println!("[{label} data: {}]", db.display());
    }
    let who = match &host {
        HostFilter::All => "all hosts".to_string(),
        HostFilter::One(h) => h.clone(),
    };
    let over = args
        .network
        .as_ref()
        .map(|n| format!(", over {n}"))
        .unwrap_or_default();
    println!("{} ({who}, {}{over})", day.format("%a %d %b %Y"), ctx.tz);
    if store.is_none() && ctx.store == StoreKind::Sqlite {
        println!(
            "no data yet: nothing stored at {} (start watching with `nbi run`)",
            db.display()
        );
        return Ok(());
    }
    if apps.is_empty() {
        println!("no traffic recorded on this day");
        return Ok(());
    }
    let width = apps
        .iter()
        .map(|a| a.app.chars().count())
        .max()
        .unwrap_or(3)
        .max(3);
    println!(
        "{:<width$}  {:>9}  {:>9}  {:>9}",
        "app", "in", "out", "total"
    );
    let (mut ti, mut to) = (0u64, 0u64);
    for a in &apps {
        ti += a.bytes_in;
        to += a.bytes_out;
        println!(
            "{:<width$}  {:>9}  {:>9}  {:>9}",
            a.app,
            human::bytes(a.bytes_in),
            human::bytes(a.bytes_out),
            human::bytes(a.bytes_in + a.bytes_out)
        );
    }
    println!(
        "{:<width$}  {:>9}  {:>9}  {:>9}",
        "total",
        human::bytes(ti),
        human::bytes(to),
        human::bytes(ti + to)
    );
    Ok(())
}

#[derive(Serialize)]
struct StatusJson {
    running: bool,
    db: String,
    run: Option<RunStatus>,
    store: Option<nbi_core::store::StoreSummary>,
    /// The first plan; absent without a plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    plan: Option<PlanUsage>,
    /// Every plan, in configuration order.
    plans: Vec<PlanUsage>,
}

pub fn status(global: &Global, args: StatusArgs) -> anyhow::Result<()> {
    let ctx = Context::load(global)?;
    let db = ctx.db();
    let run = RunStatus::read(&status::status_path(&db));
    let running = run
        .as_ref()
        .is_some_and(|r| r.is_live() && r.pid != std::process::id());
    let store_name = ctx.store_name();
    let store = match ctx.store {
        StoreKind::Sqlite => match open_existing(&db)? {
            Some(s) => Some(s.summary()?),
            None => None,
        },
        StoreKind::Influx => Some(ctx.open_store()?.summary()?),
    };
    let plans = plan_usages(&ctx)?;
    if args.json {
        let out = StatusJson {
            running,
            db: db.display().to_string(),
            run,
            store,
            plan: plans.first().cloned(),
            plans,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    match &run {
        Some(r) if running => {
            let state = serde_json::to_value(&r.source.state)
                .ok()
                .and_then(|v| v.get("state").and_then(|s| s.as_str()).map(str::to_string))
                .unwrap_or_default();
            println!("source: {} ({state}), pid {}", r.source.source, r.pid);
            if let nbi_core::source::SourceState::Failing { reason } = &r.source.state {
                println!("  not watching: {reason}");
            }
            if let Some(mode) = r.source.mode {
                println!("  mode: {mode} ({})", mode.describe());
            }
            if let Some(note) = &r.source.mode_note {
                println!("  {note}");
            }
            if let Some(u) = r.source.unattributed {
                println!(
                    "  unattributed in the last interval: {} in, {} out (headers, and what no app's sockets account for)",
                    human::bytes(u.bytes_in),
                    human::bytes(u.bytes_out)
                );
            }
            println!("last tick: {}", when(r.source.last_tick));
            if let Some(bus) = &r.bus {
                println!(
                    "kafka: {}, {} ticks sent, {} waiting in the spool{}",
                    if bus.connected {
                        "connected"
                    } else {
                        "broker unreachable"
                    },
                    bus.sent,
                    bus.spooled,
                    if bus.dropped > 0 {
                        format!(", {} dropped (spool full)", bus.dropped)
                    } else {
                        String::new()
                    }
                );
            }
            println!(
                "collector: {} ticks stored this run{}",
                r.collector.ticks_written,
                r.collector
                    .last_error
                    .as_ref()
                    .map(|e| format!(", retrying: {e}"))
                    .unwrap_or_default()
            );
        }
        Some(r) => println!(
            "not running (last run pid {} stopped; last tick {})",
            r.pid,
            when(r.source.last_tick)
        ),
        None => println!("not running"),
    }
    match store {
        Some(s) => {
            println!("store: {store_name}");
            println!(
                "  {} ticks, {} app samples, hosts: {}",
                s.ticks,
                s.samples,
                s.hosts.join(", ")
            );
            println!("  from {} to {}", when(s.first_tick), when(s.last_tick));
            if let Some(bytes) = s.file_bytes {
                println!(
                    "  file: {}{}",
                    human::bytes(bytes),
                    s.minute_data_from
                        .map(|t| format!(
                            "; every minute kept from {}, hourly sums before",
                            t.with_timezone(&ctx.tz).format("%Y-%m-%d")
                        ))
                        .unwrap_or_default()
                );
            }
            if s.merged_ticks > 0 {
                println!(
                    "  {} ticks arrived for a host and second already stored with other traffic (two machines under one name?) and were added to it",
                    s.merged_ticks
                );
            }
        }
        None => println!("store: {} (not created yet)", db.display()),
    }
    for p in &plans {
        let over = if p.all_networks {
            String::new()
        } else if p.networks.is_empty() {
            " (no network it counts seen yet)".to_string()
        } else {
            let ids: Vec<&str> = p.networks.iter().map(|n| n.as_str()).collect();
            format!(" over {}", ids.join(", "))
        };
        println!(
            "{}{over}: {} of {} used ({:.0} %), {} to {}",
            p.name,
            human::bytes(p.used_bytes),
            human::bytes(p.limit_bytes),
            (p.fraction() * 100.0).floor(),
            p.period_start,
            p.period_end
        );
    }
    Ok(())
}

/// Each data plan's current period; empty without a plan. Nothing stored
/// yet is a period with nothing used.
fn plan_usages(ctx: &Context) -> anyhow::Result<Vec<PlanUsage>> {
    if let Some(usages) = ctx.read(|s| ctx.rt.plan_usages(s))? {
        return Ok(usages?);
    }
    let today = Utc::now().with_timezone(&ctx.tz).date_naive();
    Ok(ctx
        .config
        .plan
        .active()
        .filter_map(|p| p.usage_of(today, 0))
        .collect())
}

fn when(t: Option<DateTime<Utc>>) -> String {
    match t {
        Some(t) => {
            let ago = (Utc::now() - t).num_seconds();
            format!(
                "{} ({})",
                t.with_timezone(&Local).format("%Y-%m-%d %H:%M:%S"),
                if ago < 120 {
                    format!("{ago} s ago")
                } else if ago < 7200 {
                    format!("{} min ago", ago / 60)
                } else {
                    format!("{} h ago", ago / 3600)
                }
            )
        }
        None => "never".to_string(),
    }
}

pub fn config(global: &Global) -> anyhow::Result<()> {
    let ctx = Context::load(global)?;
    print!("{}", ctx.config.to_toml());
    // What the keys of [source] make of it, as comments: the file stays valid TOML.
    println!("\n# Counting: what is left out wherever ticks enter");
    for line in ctx.config.counting().describe().lines() {
        println!("#   {line}");
    }
    Ok(())
}
