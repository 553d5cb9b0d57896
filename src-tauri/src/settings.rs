//! What the app runs with: the same configuration file as `nbi` (see
//! `nbi config`), and, for demos and tests, a few environment variables:
//!
//! - `NBI_CONFIG`: the configuration file (else the OS default);
//! - `NBI_DB`: the database (else `store.db`);
//! - `NBI_APP_REPLAY_FILE`: watch a recorded file (NDJSON ticks or a nettop
//!   CSV capture) instead of this machine; `NBI_APP_REPLAY_SPEED` paces it
//!   (60: one minute-tick a second; 0: as fast as it can be stored).

use std::path::PathBuf;

use anyhow::Context as _;
use chrono_tz::Tz;
use nbi_core::config::{Config, ConfigEnv};
use nbi_core::intel::IntelConfig;
use nbi_core::runtime::{Runtime, StoreKind};
use nbi_core::source::{SourceKind, SourceSpec};

pub const ENV_CONFIG: &str = "NBI_CONFIG";
pub const ENV_DB: &str = "NBI_DB";
pub const ENV_REPLAY_FILE: &str = "NBI_APP_REPLAY_FILE";
pub const ENV_REPLAY_SPEED: &str = "NBI_APP_REPLAY_SPEED";

#[derive(Debug, Clone)]
pub struct Settings {
    pub rt: Runtime,
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
        let mut config = Config::load(file.as_deref(), explicit, &ConfigEnv::from_process())?;
        if let Some(db) = env_path(ENV_DB) {
            config.store.db = db;
        }
        let replay = match env_path(ENV_REPLAY_FILE) {
            None => None,
            Some(file) => {
                let speed = std::env::var(ENV_REPLAY_SPEED).ok();
                Some((file, replay_speed(speed.as_deref())?))
            }
        };
        Settings::new(config, replay)
    }

    /// Settings for `config`, watching `replay` (a file and its speed) when
    /// given, else the source the configuration names. The app writes to
    /// the embedded store.
    pub fn new(config: Config, replay: Option<(PathBuf, f64)>) -> anyhow::Result<Settings> {
        let kind = config.source.kind;
        let rt = Runtime::new(config, StoreKind::Sqlite)?;
        let source = match replay {
            Some((path, speed)) => rt.replay_source(path, speed, None),
            None => {
                anyhow::ensure!(
                    kind != SourceKind::Replay,
                    "key `source.kind`: replay needs a file: set {ENV_REPLAY_FILE}"
                );
                rt.live_source(kind)
                    .with_context(|| format!("source {kind} cannot run live"))?
            }
        };
        Ok(Settings {
            rt,
            source,
            notify: true,
        })
    }

    pub fn host(&self) -> &str {
        self.rt.host()
    }

    pub fn tz(&self) -> Tz {
        self.rt.tz()
    }

    pub fn intel(&self) -> &IntelConfig {
        &self.rt.config().intel
    }

    pub fn grafana_url(&self) -> Option<&str> {
        self.rt.config().ui.grafana_url()
    }
}

/// The replay's pace: 1 (real time) when not given.
fn replay_speed(text: Option<&str>) -> anyhow::Result<f64> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(1.0),
        Some(t) => t
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .with_context(|| format!("{ENV_REPLAY_SPEED}: expected a number ≥ 0, found {t:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config(dir: &Path) -> Config {
        let mut c = Config {
            host: "mbp".into(),
            timezone: "Europe/Berlin".into(),
            ..Config::default()
        };
        c.store.db = dir.join("data/nbi.sqlite");
        c
    }

    #[test]
    fn a_replay_is_watched_as_recorded_and_paced() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ticks.ndjson");
        let s = Settings::new(config(dir.path()), Some((file.clone(), 60.0))).unwrap();
        match &s.source {
            SourceSpec::Replay(r) => assert_eq!((&r.path, r.speed), (&file, 60.0)),
            other => panic!("{other:?}"),
        }
        assert_eq!(s.tz(), chrono_tz::Europe::Berlin);
        assert_eq!(s.rt.db(), dir.path().join("data/nbi.sqlite"));
        assert_eq!(s.grafana_url(), None);
        assert!(s.notify);
    }

    #[test]
    fn live_sources_and_their_mistakes() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(dir.path());
        c.source.kind = SourceKind::Linux;
        c.ui.grafana_url = "http://127.0.0.1:3000".into();
        let s = Settings::new(c.clone(), None).unwrap();
        assert_eq!(s.source.kind(), SourceKind::Linux);
        assert_eq!(s.grafana_url(), Some("http://127.0.0.1:3000"));
        assert!(
            dir.path().join("data").is_dir(),
            "the data directory is made"
        );
        c.source.kind = SourceKind::Replay;
        let e = Settings::new(c, None).unwrap_err().to_string();
        assert!(e.contains(ENV_REPLAY_FILE), "{e}");
    }

    #[test]
    fn replay_speeds_are_numbers_from_zero_up() {
        assert_eq!(replay_speed(None).unwrap(), 1.0);
        assert_eq!(replay_speed(Some(" ")).unwrap(), 1.0);
        assert_eq!(replay_speed(Some("600")).unwrap(), 600.0);
        assert_eq!(replay_speed(Some("0")).unwrap(), 0.0);
        for bad in ["-1", "fast", "NaN", "inf"] {
            let e = replay_speed(Some(bad)).unwrap_err().to_string();
            assert!(e.contains(ENV_REPLAY_SPEED) && e.contains(bad), "{e}");
        }
    }
}
