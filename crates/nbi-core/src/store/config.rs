//! The `[store]` and `[influxdb]` sections of the configuration.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, Secret};

/// The `[store]` section: the embedded store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// The SQLite database file.
    pub db: PathBuf,
    /// Days the embedded store keeps every tick (minute data) for; older
    /// days keep their hourly and daily sums for ever. 0: keep every tick.
    pub keep_minutes_days: u32,
}

/// A season of minute detail: the Today view's curves, exports by the
/// minute. At 50 apps a year of every minute is a 257 MB file, a year
/// keeping minutes for 90 days 81 MB (`scripts/bench`).
pub const DEFAULT_KEEP_MINUTES_DAYS: u32 = 90;

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            db: crate::paths::default_db(),
            keep_minutes_days: DEFAULT_KEEP_MINUTES_DAYS,
        }
    }
}

/// The `[influxdb]` section: where `--store influx` writes and reads
/// (InfluxDB's v1-compatible API).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InfluxDbConfig {
    /// e.g. "http://127.0.0.1:8086"; empty when InfluxDB is not used.
    pub url: String,
    /// The database (the bucket on InfluxDB 2.x).
    pub database: String,
    /// The API token (or `token_file`, or NBI_INFLUXDB__TOKEN). Never printed.
    pub token: Option<Secret>,
    pub token_file: Option<PathBuf>,
    /// Points per write request.
    pub batch_points: usize,
}

impl Default for InfluxDbConfig {
    fn default() -> Self {
        InfluxDbConfig {
            url: String::new(),
            database: "nbi".into(),
            token: None,
            token_file: None,
            batch_points: 5000,
        }
    }
}

impl InfluxDbConfig {
    /// The token: `token` itself, else the first line of `token_file`.
    ///
    /// Errors: the file cannot be read ([`ConfigError::Unreadable`]) or
    /// holds no token ([`ConfigError::Invalid`], naming the key).
    pub fn resolved_token(&self) -> Result<Option<Secret>, ConfigError> {
        if let Some(t) = self
            .token
            .as_ref()
            .filter(|t| !t.expose().trim().is_empty())
        {
            return Ok(Some(Secret::new(t.expose().trim())));
        }
        let Some(path) = &self.token_file else {
            return Ok(None);
        };
        if crate::files::readable_by_others(path) {
            tracing::warn!(path = %path.display(), "the InfluxDB token file can be read by other users of this machine: chmod 600 it");
        }
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
            path: path.clone(),
            source,
        })?;
        let token = text.lines().next().unwrap_or("").trim().to_string();
        if token.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "key `influxdb.token_file`: {} holds no token",
                path.display()
            )));
        }
        Ok(Some(Secret::new(token)))
    }

    /// Checks the keys; an error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let url = self.url.trim();
        if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ConfigError::Invalid(format!(
                "key `influxdb.url`: expected an http:// or https:// address such as \"http://127.0.0.1:8086\", found {url:?}"
            )));
        }
        if self.batch_points == 0 {
            return Err(ConfigError::Invalid(
                "key `influxdb.batch_points`: expected at least 1".into(),
            ));
        }
        Ok(())
    }
}
