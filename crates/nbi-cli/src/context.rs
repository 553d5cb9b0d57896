//! The effective configuration of one invocation: defaults, file, `NBI_*`
//! variables, then flags.

use std::path::PathBuf;

use anyhow::Context as _;
use chrono_tz::Tz;
use nbi_core::config::{Config, ConfigEnv};
use nbi_core::source::SourceKind;
use nbi_core::store::influx::{InfluxConfig, InfluxStore};
use nbi_core::store::sqlite::SqliteStore;
use nbi_core::store::Store;

use crate::args::{Global, SourceArgs, StoreKind};

#[derive(Clone)]
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
        let mut config = Config::load(file.as_deref(), explicit, &ConfigEnv::from_process())?;
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
            "`nbi {command}` works on the embedded SQLite store only"
        );
        Ok(())
    }

    /// Opens the store `--store` names; for SQLite, only when the file
    /// exists (`None` otherwise: nothing stored yet).
    pub fn open_existing_store(&self) -> anyhow::Result<Option<Box<dyn Store>>> {
        if self.store == StoreKind::Sqlite && !self.db().exists() {
            return Ok(None);
        }
        self.open_store().map(Some)
    }

    /// How the store is named in logs and status.
    pub fn store_name(&self) -> String {
        match self.store {
            StoreKind::Sqlite => self.db().display().to_string(),
            StoreKind::Influx => format!(
                "InfluxDB {} database {}",
                self.config.influxdb.url, self.config.influxdb.database
            ),
        }
    }

    /// Opens the store again whenever asked (the nightly judge opens it
    /// per run, on its own thread).
    pub fn store_opener(
        &self,
    ) -> anyhow::Result<
        impl Fn() -> Result<Box<dyn Store>, nbi_core::store::StoreError> + Send + Sync + Clone + 'static,
    > {
        // Resolve the token once: a missing token file is an error now, not at midnight.
        let ctx = self.clone();
        ctx.open_store()?;
        Ok(move || match ctx.store {
            StoreKind::Sqlite => {
                SqliteStore::open(&ctx.db()).map(|s| Box::new(s) as Box<dyn Store>)
            }
            StoreKind::Influx => ctx
                .open_store()
                .map_err(|e| nbi_core::store::StoreError::Query(format!("{e:#}"))),
        })
    }

    /// The Kafka settings of `[kafka]`.
    pub fn kafka(&self) -> nbi_core::bus::kafka::KafkaSettings {
        nbi_core::bus::kafka::KafkaSettings::from_config(&self.config.kafka, &self.config.host)
    }

    /// Where a watcher spools ticks for Kafka.
    pub fn spool_dir(&self) -> anyhow::Result<PathBuf> {
        match &self.config.kafka.spool_dir {
            Some(d) if !d.as_os_str().is_empty() => Ok(d.clone()),
            _ => Ok(self.state_dir()?.join("spool")),
        }
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
                let store = InfluxStore::new(InfluxConfig {
                    url: c.url.trim().to_string(),
                    database: c.database.clone(),
                    token: c.resolved_token()?,
                    batch_points: c.batch_points.max(1),
                })
                .with_zone(self.tz);
                Ok(Box::new(store))
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
