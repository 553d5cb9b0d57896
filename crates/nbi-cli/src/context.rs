//! The effective configuration of one invocation — defaults, file, `NBI_*`
//! variables, then flags — and the runtime it makes.

use std::path::PathBuf;

use anyhow::Context as _;
use chrono_tz::Tz;
use nbi_core::config::{Config, ConfigEnv};
use nbi_core::runtime::{self, Runtime};
use nbi_core::source::{SourceKind, SourceSpec};
use nbi_core::store::{Store, StoreError, UsageQuery};

use crate::args::{BusKind, Global, SourceArgs, StoreKind};

#[derive(Clone)]
pub struct Context {
    pub config: Config,
    pub tz: Tz,
    pub store: StoreKind,
    pub rt: Runtime,
}

impl Context {
    pub fn load(global: &Global) -> anyhow::Result<Context> {
        Context::load_with(global, |_| Ok(()))
    }

    /// Like [`Context::load`], with `adjust` applying a command's own flags
    /// to the configuration before it is checked.
    pub fn load_with(
        global: &Global,
        adjust: impl FnOnce(&mut Config) -> anyhow::Result<()>,
    ) -> anyhow::Result<Context> {
        let (file, explicit) = match &global.config {
            Some(p) => (Some(p.clone()), true),
            None => (nbi_core::paths::default_config(), false),
        };
        let mut config = Config::load(file.as_deref(), explicit, &ConfigEnv::from_process())?;
        if let Some(db) = &global.db {
            config.store.db = db.clone();
        }
        if let Some(host) = &global.host {
            anyhow::ensure!(!host.trim().is_empty(), "--host: expected a non-empty name");
            config.host = host.clone();
        }
        adjust(&mut config)?;
        let rt = Runtime::new(config.clone(), store_kind(global.store))?;
        Ok(Context {
            tz: rt.tz(),
            config,
            store: global.store,
            rt,
        })
    }

    /// The configuration with `--source` and `--interval` applied, and the
    /// source they name (a replay of `--replay-file`, or a live source).
    pub fn with_source(
        global: &Global,
        args: &SourceArgs,
    ) -> anyhow::Result<(Context, SourceSpec)> {
        let ctx = Context::load_with(global, |c| {
            if let Some(kind) = args.source {
                c.source.kind = kind;
            }
            if let Some(interval) = args.interval {
                anyhow::ensure!(
                    (1..=3600).contains(&interval),
                    "--interval: expected 1 to 3600 seconds, found {interval}"
                );
                c.source.interval = interval;
            }
            Ok(())
        })?;
        let kind = ctx.config.source.kind;
        let spec = if kind == SourceKind::Replay {
            let file = args
                .replay_file
                .clone()
                .context("--source replay needs --replay-file FILE")?;
            ctx.rt.replay_source(file, args.pace.speed, args.pace.date)
        } else {
            anyhow::ensure!(
                args.replay_file.is_none(),
                "--replay-file is only for --source replay"
            );
            ctx.rt.live_source(kind)?
        };
        Ok((ctx, spec))
    }

    /// Commands that only work on the embedded store say so for `--store influx`.
    pub fn require_sqlite(&self, command: &str) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.store == StoreKind::Sqlite,
            "`nbi {command}` works on the embedded SQLite store only"
        );
        Ok(())
    }

    /// How the store is named in logs and status.
    pub fn store_name(&self) -> String {
        self.rt.store_name()
    }

    /// The store `--store` names, for reading and writing.
    pub fn open_store(&self) -> anyhow::Result<Box<dyn Store>> {
        self.rt
            .open_store()
            .with_context(|| format!("opening the store {}", self.store_name()))
    }

    /// Runs `f` on a read-only connection to the store (blocking); `None`
    /// when nothing is stored yet (no SQLite file, or one being created).
    pub fn read<T>(&self, f: impl FnOnce(&dyn UsageQuery) -> T) -> anyhow::Result<Option<T>> {
        let Some(readers) = self.rt.open_readers()? else {
            return Ok(None);
        };
        match readers.with(|s| f(s)) {
            Ok(v) => Ok(Some(v)),
            Err(StoreError::NotInitialized { .. }) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("opening the store {}", self.store_name())),
        }
    }

    pub fn db(&self) -> PathBuf {
        self.config.store.db.clone()
    }
}

pub fn store_kind(s: StoreKind) -> runtime::StoreKind {
    match s {
        StoreKind::Sqlite => runtime::StoreKind::Sqlite,
        StoreKind::Influx => runtime::StoreKind::Influx,
    }
}

pub fn bus_kind(b: BusKind) -> runtime::BusKind {
    match b {
        BusKind::Memory => runtime::BusKind::Memory,
        BusKind::Kafka => runtime::BusKind::Kafka,
    }
}
