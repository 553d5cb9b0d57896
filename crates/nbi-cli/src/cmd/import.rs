//! `import`: a file of ticks straight into the store.

use anyhow::Context as _;
use nbi_core::source::replay::{CsvOptions, TickReader};
use nbi_core::source::SourceError;

use crate::args::{Global, ImportArgs};
use crate::context::Context;

const BATCH: usize = 5_000;

pub async fn import(global: &Global, args: ImportArgs) -> anyhow::Result<()> {
    let ctx = Context::load(global)?;
    let mut store = ctx.open_store()?;
    let csv = CsvOptions {
        date: args.date,
        tz: ctx.tz,
        host: ctx.config.host.clone(),
        interval_s: args.interval.max(1),
        drop_first_block: true,
    };
    let file = args.file.clone();
    // The same rules as every other way in: `run`, `replay` and `collect`.
    let counting = ctx.config.counting();
    let summary = tokio::task::spawn_blocking(move || -> anyhow::Result<Summary> {
        let reader = TickReader::open(&file, Some(csv))?;
        let mut s = Summary::default();
        let mut batch = Vec::with_capacity(BATCH);
        for item in reader {
            match item {
                Ok(t) => {
                    s.read += 1;
                    let (t, removed) = counting.apply(t);
                    s.left_out += removed as u64;
                    batch.push(t);
                    if batch.len() == BATCH {
                        s.add(store.write(&batch)?);
                        batch.clear();
                    }
                }
                Err(e @ SourceError::Input { .. }) => {
                    s.bad += 1;
                    tracing::warn!(error = %e, "skipping a line that is not a tick");
                }
                Err(e) => return Err(e.into()),
            }
        }
        s.add(store.write(&batch)?);
        Ok(s)
    })
    .await
    .context("import task")??;
    println!(
        "imported {} ticks from {} ({} new, {} already stored, {} added to a different tick of the same host and second, {} bad lines skipped, {} apps left out by the counting rules)",
        summary.read,
        args.file.display(),
        summary.written,
        summary.skipped,
        summary.merged,
        summary.bad,
        summary.left_out
    );
    Ok(())
}

#[derive(Default)]
struct Summary {
    read: u64,
    written: u64,
    skipped: u64,
    merged: u64,
    bad: u64,
    left_out: u64,
}

impl Summary {
    fn add(&mut self, r: nbi_core::store::WriteReport) {
        self.written += r.ticks_written as u64;
        self.skipped += r.ticks_skipped as u64;
        self.merged += r.ticks_merged as u64;
    }
}
