//! The effective configuration of one invocation: defaults, file, `NBI_*`
//! variables, then flags.

use std::path::PathBuf;

use anyhow::Context as _;
use chrono_tz::Tz;
use nbi_core::config::Config;
use nbi_core::source::SourceKind;
use nbi_core::store::influx::{InfluxConfig, InfluxStore};
use nbi_core::store::sqlite::SqliteStore;
use nbi_core::store::Store;

use crate::args::{Global, SourceArgs, StoreKind};

pub struct Context {
    pub config: Config,
    pub tz: Tz,
    pub store: StoreKind,
}

impl Context {
    pub fn load(global: &Global) -> anyhow::Result<Context> {
        let (file, explicit) = match &global.config {
            Some(p) => (Some(p.clone()), true),
            None => (nbi_core::paths::default_config(), false),
        };
        let mut config = Config::load(file.as_deref(), explicit)?;
        if let Some(db) = &global.db {
            config.store.db = db.clone();
        }
        if let Some(host) = &global.host {
            anyhow::ensure!(!host.trim().is_empty(), "--host: expected a non-empty name");
            config.host = host.clone();
        }
        let tz = config.tz()?;
        Ok(Context {
            config,
            tz,
            store: global.store,
        })
    }

    /// Commands that only work on the embedded store say so for `--store influx`.
    pub fn require_sqlite(&self, command: &str) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.store == StoreKind::Sqlite,
            "`nbi {command}` works on the embedded SQLite store; --store influx is for collect, import and today"
        );
        Ok(())
    }

    /// The store `--store` names, for reading and writing.
    pub fn open_store(&self) -> anyhow::Result<Box<dyn Store>> {
        match self.store {
            StoreKind::Sqlite => {
                let db = self.db();
                let store = SqliteStore::open(&db)
                    .with_context(|| format!("opening the store {}", db.display()))?;
                Ok(Box::new(store))
            }
            StoreKind::Influx => {
                let c = &self.config.influxdb;
                anyhow::ensure!(
                    !c.url.trim().is_empty(),
                    "--store influx needs the InfluxDB address: key `influxdb.url` in the config, or NBI_INFLUXDB__URL"
                );
                Ok(Box::new(InfluxStore::new(InfluxConfig {
                    url: c.url.trim().to_string(),
                    database: c.database.clone(),
                    token: c.resolved_token()?,
                    batch_points: c.batch_points.max(1),
                })))
            }
        }
    }

    pub fn apply_source(&mut self, args: &SourceArgs) -> anyhow::Result<SourceKind> {
        if let Some(kind) = args.source {
            self.config.source.kind = kind;
        }
        if let Some(interval) = args.interval {
            anyhow::ensure!(
                (1..=3600).contains(&interval),
                "--interval: expected 1 to 3600 seconds, found {interval}"
            );
            self.config.source.interval = interval;
        }
        Ok(self.config.source.kind)
    }

    pub fn db(&self) -> PathBuf {
        self.config.store.db.clone()
    }

    /// Where the running pipeline keeps its small state files (pid files).
    pub fn state_dir(&self) -> anyhow::Result<PathBuf> {
        let db = self.db();
        let dir = db
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map(|d| d.to_path_buf())
            .unwrap_or_else(|| PathBuf::from("."));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating the data directory {}", dir.display()))?;
        Ok(dir)
    }
}
