//! `history` and `export`: usage over ranges of local days.

use std::io::Write;

use anyhow::Context as _;
use chrono::{Days, NaiveDate, Utc};
use nbi_core::export::{self, ExportFormat, ExportQuery, ExportReport};
use nbi_core::history::{self, Granularity, History, HistoryQuery};
use nbi_core::human;
use nbi_core::store::HostFilter;

use crate::args::{By, DestinationsArgs, ExportArgs, ExportFormatArg, Global, HistoryArgs};
use crate::context::Context;

pub fn history(global: &Global, args: HistoryArgs) -> anyhow::Result<()> {
    let ctx = Context::load(global)?;
    let to = args.to.unwrap_or_else(|| today(&ctx));
    let from = args
        .from
        .unwrap_or_else(|| to.checked_sub_days(Days::new(29)).unwrap_or(to));
    anyhow::ensure!(
        from <= to,
        "--from {from} is after --to {to}: the range ends before it starts"
    );
    let query = HistoryQuery {
        host: host_filter(&ctx, args.all_hosts),
        from,
        to,
        by: match args.by {
            By::Day | By::Network => Granularity::Day,
            By::Month => Granularity::Month,
        },
        app: args.app,
        network: args.network.clone(),
    };
    if args.by == By::Network {
        return history_by_network(&ctx, &query, args.json);
    }
    let history = ctx
        .read(|s| history::read(s, &query, ctx.tz))?
        .transpose()?
        .unwrap_or(History {
            from,
            to,
            by: query.by,
            rows: Vec::new(),
        });
    if args.json {
        println!("{}", serde_json::to_string(&history)?);
        return Ok(());
    }
    print_history(&ctx, &query, &history);
    Ok(())
}

/// `history --by network`: each local day's bytes per network.
fn history_by_network(ctx: &Context, query: &HistoryQuery, json: bool) -> anyhow::Result<()> {
    use nbi_core::network::report::{self, NetworkHistory};
    let found = ctx
        .read(|s| report::history(s, query, Granularity::Day, ctx.tz))?
        .transpose()?
        .unwrap_or(NetworkHistory {
            from: query.from,
            to: query.to,
            by: "network",
            rows: Vec::new(),
        });
    if json {
        println!("{}", serde_json::to_string(&found)?);
        return Ok(());
    }
    let what = query.app.as_deref().unwrap_or("every app");
    println!(
        "{what} per network, {} to {} ({})",
        query.from, query.to, ctx.tz
    );
    if found.rows.is_empty() {
        println!("no traffic in this range");
        return Ok(());
    }
    let width = found
        .rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(7)
        .max(7);
    println!(
        "{:<10}  {:<width$}  {:<7}  {:>9}  {:>9}  {:>9}",
        "day", "network", "metered", "in", "out", "total"
    );
    for r in &found.rows {
        println!(
            "{:<10}  {:<width$}  {:<7}  {:>9}  {:>9}  {:>9}",
            r.period.to_string(),
            r.name,
            if r.metered { "yes" } else { "no" },
            human::bytes(r.bytes_in),
            human::bytes(r.bytes_out),
            human::bytes(r.bytes_in.saturating_add(r.bytes_out))
        );
    }
    Ok(())
}

pub fn destinations(global: &Global, args: DestinationsArgs) -> anyhow::Result<()> {
    use nbi_core::destination::report::{self, Destinations, DestinationsQuery};
    let ctx = Context::load(global)?;
    let to = args.to.unwrap_or_else(|| today(&ctx));
    let from = args.from.unwrap_or(to);
    anyhow::ensure!(
        from <= to,
        "--from {from} is after --to {to}: the range ends before it starts"
    );
    let query = DestinationsQuery {
        host: host_filter(&ctx, args.all_hosts),
        from,
        to,
        app: args.app,
    };
    // The runtime loaded the address table the configuration names (and
    // said so when it could not).
    let namer = &ctx.rt.config().intel.names;
    let names = ctx.rt.names();
    let found = ctx
        .read(|s| report::read(s, &query, ctx.tz, namer, names.as_ref()))?
        .transpose()?
        .unwrap_or(Destinations {
            from,
            to,
            rows: Vec::new(),
        });
    if args.json {
        println!("{}", serde_json::to_string(&found)?);
        return Ok(());
    }
    let what = query.app.as_deref().unwrap_or("every app");
    println!(
        "where {what} sent and received, {from} to {to} ({})",
        ctx.tz
    );
    if found.rows.is_empty() {
        println!("no destinations recorded in this range");
        return Ok(());
    }
    let app_w = found
        .rows
        .iter()
        .map(|r| r.app.chars().count())
        .max()
        .unwrap_or(3)
        .max(3);
    let dest_w = found
        .rows
        .iter()
        .map(|r| r.destination.chars().count())
        .max()
        .unwrap_or(11)
        .clamp(11, 48);
    let addr_w = found
        .rows
        .iter()
        .map(|r| r.address.to_string().len())
        .max()
        .unwrap_or(7)
        .max(7);
    println!(
        "{:<app_w$}  {:<dest_w$}  {:<addr_w$}  {:>9}  {:>9}  host name",
        "app", "destination", "address", "in", "out"
    );
    for r in &found.rows {
        println!(
            "{:<app_w$}  {:<dest_w$}  {:<addr_w$}  {:>9}  {:>9}  {}",
            r.app,
            human::cut(&r.destination, 48),
            r.address.to_string(),
            human::bytes(r.bytes_in),
            human::bytes(r.bytes_out),
            r.host.as_deref().unwrap_or("")
        );
    }
    println!("{}", nbi_core::destination::table::ATTRIBUTION);
    Ok(())
}

fn print_history(ctx: &Context, query: &HistoryQuery, h: &History) {
    let who = match &query.host {
        HostFilter::All => "all hosts".to_string(),
        HostFilter::One(h) => h.clone(),
    };
    let what = query.app.as_deref().unwrap_or("every app");
    println!(
        "{what}, {} to {} by {} ({who}, {})",
        h.from,
        h.to,
        match h.by {
            Granularity::Day => "day",
            Granularity::Month => "month",
        },
        ctx.tz
    );
    if h.rows.is_empty() {
        println!("no traffic recorded in this range");
        return;
    }
    let width = h
        .rows
        .iter()
        .map(|r| r.app.chars().count())
        .max()
        .unwrap_or(3)
        .max(5);
    println!(
        "{:<10}  {:<width$}  {:>9}  {:>9}  {:>9}",
        "period", "app", "in", "out", "total"
    );
    let mut last = None;
    for r in &h.rows {
        let period = r.period.to_string();
        let shown = if last.as_ref() == Some(&period) {
            String::new()
        } else {
            period.clone()
        };
        println!(
            "{:<10}  {:<width$}  {:>9}  {:>9}  {:>9}",
            shown,
            r.app,
            human::bytes(r.bytes_in),
            human::bytes(r.bytes_out),
            human::bytes(r.total())
        );
        last = Some(period);
    }
    let (i, o) = h.totals();
    println!(
        "{:<10}  {:<width$}  {:>9}  {:>9}  {:>9}",
        "total",
        "",
        human::bytes(i),
        human::bytes(o),
        human::bytes(i.saturating_add(o))
    );
}

pub fn export(global: &Global, args: ExportArgs) -> anyhow::Result<()> {
    let ctx = Context::load(global)?;
    let to = args.to.unwrap_or_else(|| today(&ctx));
    anyhow::ensure!(
        args.from <= to,
        "--from {} is after --to {to}: the range ends before it starts",
        args.from
    );
    let query = ExportQuery {
        host: host_filter(&ctx, args.all_hosts),
        from: args.from,
        to,
        app: args.app,
        network: args.network,
    };
    let format = match args.format {
        ExportFormatArg::Csv => ExportFormat::Csv,
        ExportFormatArg::Ndjson => ExportFormat::Ndjson,
    };
    let report = match &args.out {
        Some(path) => export::to_file(path, |out| write_export(&ctx, &query, format, out))
            .with_context(|| "--out")?,
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            write_export(&ctx, &query, format, &mut out)?
        }
    };
    eprintln!(
        "nbi: exported {} ticks ({} app rows), {} to {}{}",
        report.ticks,
        report.rows,
        query.from,
        query.to,
        args.out
            .as_ref()
            .map(|p| format!(", to {}", p.display()))
            .unwrap_or_default()
    );
    Ok(())
}

fn write_export(
    ctx: &Context,
    query: &ExportQuery,
    format: ExportFormat,
    out: &mut dyn Write,
) -> anyhow::Result<ExportReport> {
    match ctx.read(|s| export::write(s, query, ctx.tz, format, out))? {
        Some(r) => Ok(r?),
        // Nothing stored yet: an empty export (a CSV still has its header).
        None => {
            if format == ExportFormat::Csv {
                writeln!(out, "{}", export::HEADER.join(","))?;
            }
            Ok(ExportReport::default())
        }
    }
}

pub(crate) fn today(ctx: &Context) -> NaiveDate {
    Utc::now().with_timezone(&ctx.tz).date_naive()
}

pub(crate) fn host_filter(ctx: &Context, all_hosts: bool) -> HostFilter {
    if all_hosts {
        HostFilter::All
    } else {
        HostFilter::One(ctx.config.host.clone())
    }
}
