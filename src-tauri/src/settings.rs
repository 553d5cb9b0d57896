//! What the app runs with: the same configuration file as `nbi` (see
//! `nbi config`), and, for demos and tests, a few environment variables:
//!
//! - `NBI_CONFIG`: the configuration file (else the OS default);
//! - `NBI_DB`: the database (else `store.db`);
//! - `NBI_APP_REPLAY_FILE`: watch a recorded file (NDJSON ticks or a nettop
//!   CSV capture) instead of this machine; `NBI_APP_REPLAY_SPEED` paces it
//!   (60: one minute-tick a second; 0: as fast as it can be stored).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono_tz::Tz;
use nbi_core::app::AppFilter;
use nbi_core::config::Config;
use nbi_core::pipeline::SourceSpec;
use nbi_core::source::replay::{CsvOptions, ReplayConfig};
use nbi_core::source::SourceKind;

pub const ENV_CONFIG: &str = "NBI_CONFIG";
pub const ENV_DB: &str = "NBI_DB";
pub const ENV_REPLAY_FILE: &str = "NBI_APP_REPLAY_FILE";
pub const ENV_REPLAY_SPEED: &str = "NBI_APP_REPLAY_SPEED";

#[derive(Debug, Clone)]
pub struct Settings {
    pub config: Config,
    pub tz: Tz,
    pub db: PathBuf,
    pub source: SourceSpec,
    /// Show a notification for an unusual day.
    pub notify: bool,
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

impl Settings {
    /// The configuration file and the environment, as the app starts.
    pub fn from_env() -> anyhow::Result<Settings> {
        let (file, explicit) = match env_path(ENV_CONFIG) {
            Some(p) => (Some(p), true),
            None => (nbi_core::paths::default_config(), false),
        };
        let mut config = Config::load(file.as_deref(), explicit)?;
        if let Some(db) = env_path(ENV_DB) {
            config.store.db = db;
        }
        let replay = match env_path(ENV_REPLAY_FILE) {
            None => None,
            Some(file) => {
                let speed = match std::env::var(ENV_REPLAY_SPEED) {
                    Ok(s) if !s.trim().is_empty() => s
                        .trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite() && *v >= 0.0)
                        .with_context(|| {
                            format!("{ENV_REPLAY_SPEED}: expected a number ≥ 0, found {s:?}")
                        })?,
                    _ => 1.0,
                };
                Some((file, speed))
            }
        };
        Settings::new(config, replay)
    }

    /// Settings for `config`, watching `replay` (a file and its speed) when
    /// given, else the source the configuration names.
    pub fn new(config: Config, replay: Option<(PathBuf, f64)>) -> anyhow::Result<Settings> {
        let tz = config.tz()?;
        let db = config.store.db.clone();
        let source = match replay {
            Some((path, speed)) => SourceSpec::Replay(ReplayConfig {
                path,
                csv: Some(CsvOptions {
                    date: None,
                    tz,
                    host: config.host.clone(),
                    interval_s: config.source.interval,
                    drop_first_block: true,
                }),
                speed,
            }),
            None => {
                let kind = config.source.kind;
                anyhow::ensure!(
                    kind != SourceKind::Replay,
                    "key `source.kind`: replay needs a file: set {ENV_REPLAY_FILE}"
                );
                let state_dir = state_dir(&db)?;
                SourceSpec::live(&config, kind, &state_dir)
                    .with_context(|| format!("source {kind} cannot run live"))?
            }
        };
        Ok(Settings {
            config,
            tz,
            db,
            source,
            notify: true,
        })
    }

    pub fn host(&self) -> &str {
        &self.config.host
    }

    pub fn grafana_url(&self) -> Option<&str> {
        self.config.ui.grafana_url()
    }

    /// A recording was filtered when it was made: keep what it holds.
    pub fn filter(&self) -> AppFilter {
        let mut f = self.config.filter();
        if self.source.kind() == SourceKind::Replay {
            f.min_pid = 0;
        }
        f
    }
}

/// The database's directory (created), where the source keeps its files.
fn state_dir(db: &Path) -> anyhow::Result<PathBuf> {
    let dir = db
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("creating the data directory {}", dir.display()))?;
    Ok(dir)
}
