//! `demo`: synthetic history for a made-up person, in a separate database.

use anyhow::Context as _;
use chrono::{Duration, Utc};
use nbi_core::store::{TickWriter, UsageQuery};
use nbi_core::synth::Generator;

use crate::args::{DemoArgs, Global};
use crate::context::Context;

pub fn demo(global: &Global, args: DemoArgs) -> anyhow::Result<()> {
    let ctx = Context::load(global)?;
    ctx.require_sqlite("demo")?;
    anyhow::ensure!(
        (1..=3650).contains(&args.days),
        "--days: expected 1 to 3650, found {}",
        args.days
    );
    let db = global.db.clone().unwrap_or_else(nbi_core::paths::demo_db);
    let refuse = || {
        anyhow::anyhow!(
            "refusing to write demo data into {}: it is (or may become) your real history; pick another --db",
            db.display()
        )
    };
    if db == nbi_core::paths::default_db() {
        return Err(refuse());
    }
    let mut store = nbi_core::store::sqlite::SqliteStore::open(&db)
        .with_context(|| format!("opening the store {}", db.display()))?;
    // A database with history that is not labelled DEMO is someone's real data.
    if store.meta("label")?.as_deref() != Some("DEMO") && store.summary()?.ticks > 0 {
        return Err(refuse());
    }
    store.set_meta("label", "DEMO")?;
    let now = Utc::now();
    let today = now.with_timezone(&ctx.tz).date_naive();
    let mut gen = Generator::new(args.seed);
    let (mut ticks, mut written) = (0usize, 0usize);
    for back in (0..args.days).rev() {
        let day = today - Duration::days(i64::from(back));
        let day_ticks = gen.day_ticks(&ctx.config.host, day, ctx.tz, Some(now));
        ticks += day_ticks.len();
        written += store
            .write(&day_ticks)
            .with_context(|| format!("writing demo day {day}"))?
            .ticks_written;
    }
    println!(
        "DEMO: wrote {} days of synthetic history for a made-up person ({} ticks, {} new) to {}",
        args.days,
        ticks,
        written,
        db.display()
    );
    println!("try: nbi today --db {}", db.display());
    Ok(())
}
