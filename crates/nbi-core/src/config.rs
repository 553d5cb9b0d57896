//! Configuration: built-in defaults, then the TOML file, then `NBI_*`
//! environment variables, then command-line flags (applied by the caller).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Serialize};

use crate::counting::{carriers, CountingPolicy, SystemProcesses};
use crate::intel::IntelConfig;
use crate::source::SourceKind;

/// The effective configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// This machine's name in every tick; defaults to the hostname.
    pub host: String,
    /// IANA time zone for local days; defaults to the system's.
    pub timezone: String,
    pub source: SourceConfig,
    pub store: StoreConfig,
    pub collector: CollectorConfig,
    pub intel: IntelConfig,
    pub influxdb: InfluxDbConfig,
    pub kafka: KafkaConfig,
    pub ui: UiConfig,
}

/// The tray app.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UiConfig {
    /// Grafana's address (e.g. "http://127.0.0.1:3000/d/nbi"), opened by
    /// "Open Grafana"; empty: the menu item is disabled.
    pub grafana_url: String,
}

impl UiConfig {
    /// The Grafana address, when one is configured.
    pub fn grafana_url(&self) -> Option<&str> {
        Some(self.grafana_url.trim()).filter(|u| !u.is_empty())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let Some(url) = self.grafana_url() else {
            return Ok(());
        };
        let host = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or(""));
        match host {
            Some(h) if !h.is_empty() && !url.chars().any(char::is_whitespace) => Ok(()),
            _ => Err(ConfigError::Invalid(format!(
                "key `ui.grafana_url`: expected an http:// or https:// address such as \"http://127.0.0.1:3000\", found {url:?}"
            ))),
        }
    }
}

/// The Kafka bus (`--bus kafka`): where watchers publish and collectors read.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Bootstrap brokers, comma-separated ("host:port,host:port").
    pub brokers: String,
    pub topic: String,
    /// The collectors' consumer group.
    pub group: String,
    /// This collector's static member name in the group (Kafka's
    /// `group.instance.id`): a collector restarted after a crash takes its
    /// partitions back at once. Empty: `nbi-collect-<host>`. Two collectors
    /// on one machine need different names.
    pub instance: String,
    /// Partitions of the topic when nbi creates it (keyed by host).
    pub partitions: i32,
    pub replication: i32,
    /// none, gzip, snappy, lz4 or zstd.
    pub compression: String,
    /// Where a watcher keeps ticks until the broker has them; empty: `spool`
    /// beside the database.
    pub spool_dir: Option<PathBuf>,
    /// Largest spool on disk, in MiB; when full, the oldest ticks are dropped
    /// (counted and logged).
    pub spool_max_mb: u64,
    /// Passed to librdkafka as they are (`security.protocol`,
    /// `sasl.mechanisms`, `sasl.username`, `sasl.password`,
    /// `ssl.ca.location`, …). Values of keys naming a password or secret are
    /// never printed.
    pub options: std::collections::BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: "127.0.0.1:9092".into(),
            topic: "network-metrics".into(),
            group: "nbi-collector".into(),
            instance: String::new(),
            partitions: 3,
            replication: 1,
            compression: "lz4".into(),
            spool_dir: None,
            spool_max_mb: 256,
            options: Default::default(),
        }
    }
}

impl KafkaConfig {
    /// Whether a librdkafka option holds a secret (never printed or logged).
    pub fn is_secret(key: &str) -> bool {
        let k = key.to_ascii_lowercase();
        ["password", "secret", "token", "key.pem", "keystore"]
            .iter()
            .any(|s| k.contains(s))
    }

    /// The options with secret values replaced, for printing.
    pub fn printable_options(&self) -> std::collections::BTreeMap<String, String> {
        self.options
            .iter()
            .map(|(k, v)| {
                let v = if Self::is_secret(k) {
                    "(set)".to_string()
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect()
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad =
            |key: &str, what: &str| Err(ConfigError::Invalid(format!("key `kafka.{key}`: {what}")));
        if self.brokers.split(',').all(|b| b.trim().is_empty()) {
            return bad("brokers", "expected host:port[,host:port…]");
        }
        if self.topic.trim().is_empty() {
            return bad("topic", "expected a topic name");
        }
        if self.group.trim().is_empty() {
            return bad("group", "expected a consumer group name");
        }
        if self.partitions < 1 || self.replication < 1 {
            return bad(
                "partitions",
                "partitions and replication must be at least 1",
            );
        }
        if !["none", "gzip", "snappy", "lz4", "zstd"].contains(&self.compression.as_str()) {
            return bad(
                "compression",
                &format!(
                    "expected none, gzip, snappy, lz4 or zstd, found {:?}",
                    self.compression
                ),
            );
        }
        if self.spool_max_mb == 0 {
            return bad("spool_max_mb", "expected at least 1 MiB");
        }
        Ok(())
    }
}

impl std::fmt::Debug for KafkaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaConfig")
            .field("brokers", &self.brokers)
            .field("topic", &self.topic)
            .field("group", &self.group)
            .field("instance", &self.instance)
            .field("partitions", &self.partitions)
            .field("replication", &self.replication)
            .field("compression", &self.compression)
            .field("spool_dir", &self.spool_dir)
            .field("spool_max_mb", &self.spool_max_mb)
            .field("options", &self.printable_options())
            .finish()
    }
}

/// Where `--store influx` writes and reads (InfluxDB's v1-compatible API).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InfluxDbConfig {
    /// e.g. "http://127.0.0.1:8086"; empty when InfluxDB is not used.
    pub url: String,
    /// The database (the bucket on InfluxDB 2.x).
    pub database: String,
    /// The API token (or `token_file`, or NBI_INFLUXDB__TOKEN). Never printed.
    #[serde(skip_serializing)]
    pub token: Option<String>,
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

impl std::fmt::Debug for InfluxDbConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InfluxDbConfig")
            .field("url", &self.url)
            .field("database", &self.database)
            .field("token", &self.token.as_ref().map(|_| "(set)"))
            .field("token_file", &self.token_file)
            .field("batch_points", &self.batch_points)
            .finish()
    }
}

impl InfluxDbConfig {
    /// The token: `token` itself, else the first line of `token_file`.
    pub fn resolved_token(&self) -> Result<Option<String>, ConfigError> {
        if let Some(t) = self.token.as_ref().filter(|t| !t.trim().is_empty()) {
            return Ok(Some(t.trim().to_string()));
        }
        let Some(path) = &self.token_file else {
            return Ok(None);
        };
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
        Ok(Some(token))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourceConfig {
    pub kind: SourceKind,
    /// Seconds per tick.
    pub interval: u32,
    /// Count traffic whose two ends are both on this machine (a local dev
    /// server, a database, a model server). Left out by default.
    pub include_loopback: bool,
    /// macOS's own daemons and Linux's system users: "count" (under their
    /// own names) or "leave_out". Told by executable path and user, never pid.
    pub system_processes: SystemProcesses,
    /// Changes to the built-in list of tunnel carriers (VPN clients).
    pub carriers: CarrierEdits,
    /// Process or app names never counted, besides the carriers.
    pub exclude: BTreeSet<String>,
    /// Replaced by `system_processes`: read from older files and turned
    /// into it (a pid does not say what a process is).
    #[serde(default, skip_serializing)]
    pub min_pid: Option<u32>,
    /// The nettop program (macOS).
    pub nettop: PathBuf,
    /// Internal poll of the Linux source, in milliseconds.
    pub linux_poll_ms: u64,
    /// Use the kernel's TCP destroy notifications when allowed (root or
    /// CAP_NET_ADMIN): the final bytes of every closed connection.
    pub linux_destroy_events: bool,
    /// Count traffic of connections whose process was never seen under this
    /// name (e.g. "(unknown)"); left out when empty.
    pub linux_unattributed_app: String,
}

/// Names added to and removed from the built-in tunnel carriers
/// (`nbi config` lists the result).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CarrierEdits {
    /// Process, executable or app names of further VPN clients.
    pub add: BTreeSet<String>,
    /// Built-in names to count after all.
    pub remove: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// The SQLite database file.
    pub db: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CollectorConfig {
    /// Most ticks written in one transaction.
    pub batch_max: usize,
    /// Longest a tick waits in memory before it is written, in milliseconds.
    pub linger_ms: u64,
    /// Ticks the in-process bus holds before sources wait.
    pub bus_capacity: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: local_hostname(),
            timezone: system_timezone(),
            source: SourceConfig::default(),
            store: StoreConfig::default(),
            collector: CollectorConfig::default(),
            intel: IntelConfig::default(),
            influxdb: InfluxDbConfig::default(),
            kafka: KafkaConfig::default(),
            ui: UiConfig::default(),
        }
    }
}

impl Default for SourceConfig {
    fn default() -> Self {
        SourceConfig {
            kind: SourceKind::platform_default(),
            interval: 60,
            include_loopback: false,
            system_processes: SystemProcesses::Count,
            carriers: CarrierEdits::default(),
            exclude: BTreeSet::new(),
            min_pid: None,
            nettop: PathBuf::from("nettop"),
            linux_poll_ms: 250,
            linux_destroy_events: true,
            linux_unattributed_app: String::new(),
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            db: crate::paths::default_db(),
        }
    }
}

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig {
            batch_max: 500,
            linger_ms: 1000,
            bus_capacity: 4096,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    Missing(PathBuf),
    #[error("configuration file {path}: {source}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Whether an `NBI_` variable (prefix removed) sets a configuration key:
/// `HOST`, `TIMEZONE`, or a key of a section such as `SOURCE__INTERVAL`.
/// Others (`NBI_LOG`, `NBI_DB`, …) belong to the command line.
fn is_config_env_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    match key.split_once("__").or_else(|| key.split_once('.')) {
        Some((section, rest)) => {
            !rest.is_empty()
                && [
                    "source",
                    "store",
                    "collector",
                    "intel",
                    "influxdb",
                    "kafka",
                    "ui",
                ]
                .contains(&section)
        }
        None => ["host", "timezone"].contains(&key.as_str()),
    }
}

/// The `NBI_*` variables that set configuration keys (`NBI_HOST`,
/// `NBI_SOURCE__INTERVAL`, …), taken once: a program reads its own
/// environment with [`ConfigEnv::from_process`], a test passes exactly the
/// variables it means (none: [`ConfigEnv::default`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigEnv {
    /// Variable names without `NBI_`, as given, with their values.
    vars: std::collections::BTreeMap<String, String>,
}

impl ConfigEnv {
    /// This process's `NBI_*` configuration variables.
    pub fn from_process() -> ConfigEnv {
        ConfigEnv::from_pairs(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    /// The configuration variables among `pairs` (full names, `NBI_HOST`);
    /// other names are ignored.
    pub fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> ConfigEnv
    where
        K: Into<String>,
        V: Into<String>,
    {
        let vars = pairs
            .into_iter()
            .filter_map(|(k, v)| {
                let k: String = k.into();
                let key = k.strip_prefix("NBI_")?.trim().to_string();
                is_config_env_key(&key).then(|| (key, v.into()))
            })
            .collect();
        ConfigEnv { vars }
    }

    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }
}

impl Provider for ConfigEnv {
    fn metadata(&self) -> Metadata {
        // Errors name the variable as it is spelt: NBI_SOURCE__INTERVAL.
        Metadata::named("`NBI_` environment variable(s)").interpolater(|_: &Profile, k: &[&str]| {
            let keys: Vec<String> = k.iter().map(|k| k.to_ascii_uppercase()).collect();
            format!("NBI_{}", keys.join("__"))
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for (k, v) in &self.vars {
            let key = k.to_ascii_lowercase().replace("__", ".");
            if key.split('.').any(str::is_empty) {
                continue;
            }
            // As figment's own Env: "30" is a number, "[a, b]" a list.
            let value: Value = v.trim().parse().unwrap_or_else(|e| match e {});
            if let Some(nested) = figment::util::nest(&key, value).into_dict() {
                for (k, v) in nested {
                    merge_value(&mut dict, k, v);
                }
            }
        }
        Ok(Profile::Default.collect(dict))
    }
}

/// Merges `value` under `key`, joining dictionaries key by key.
fn merge_value(dict: &mut Dict, key: String, value: Value) {
    match (dict.get_mut(&key), value) {
        (Some(Value::Dict(_, into)), Value::Dict(_, from)) => {
            for (k, v) in from {
                merge_value(into, k, v);
            }
        }
        (_, value) => {
            dict.insert(key, value);
        }
    }
}

impl Config {
    /// Loads defaults, then `file` (required when `explicit`, else optional),
    /// then the `NBI_*` variables of `env` (`NBI_HOST`, `NBI_SOURCE__INTERVAL`, …).
    ///
    /// Errors: [`ConfigError::Missing`] for an explicit file that does not
    /// exist, [`ConfigError::Unreadable`], and [`ConfigError::Invalid`]
    /// naming the key, where its value came from and what was expected.
    pub fn load(
        file: Option<&Path>,
        explicit: bool,
        env: &ConfigEnv,
    ) -> Result<Config, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            match std::fs::metadata(path) {
                Ok(_) => {
                    // Read it first so an unreadable file is an error, not "no file".
                    std::fs::read(path).map_err(|source| ConfigError::Unreadable {
                        path: path.to_path_buf(),
                        source,
                    })?;
                    fig = fig.merge(Toml::file_exact(path));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if explicit {
                        return Err(ConfigError::Missing(path.to_path_buf()));
                    }
                }
                Err(source) => {
                    return Err(ConfigError::Unreadable {
                        path: path.to_path_buf(),
                        source,
                    })
                }
            }
        }
        fig = fig.merge(env.clone());
        let mut config: Config = fig
            .extract()
            .map_err(|e| ConfigError::Invalid(describe(e)))?;
        for note in config.migrate() {
            tracing::warn!("configuration: {note}");
        }
        config.validate()?;
        Ok(config)
    }

    /// Turns keys of older versions into their replacements; returns one
    /// note per key, saying what replaced it.
    pub fn migrate(&mut self) -> Vec<String> {
        let mut notes = Vec::new();
        if let Some(min_pid) = self.source.min_pid.take() {
            if min_pid > 0 {
                self.source.system_processes = SystemProcesses::LeaveOut;
                notes.push(format!(
                    "key `source.min_pid` ({min_pid}) is replaced by `source.system_processes`: \
                     system processes are now told by their executable and user, not their pid \
                     (on macOS login items have low pids); read as system_processes = \"leave_out\""
                ));
            } else {
                notes.push(
                    "key `source.min_pid` is replaced by `source.system_processes` \
                     (\"count\", the default, or \"leave_out\"); 0 kept everything: read as \"count\""
                        .to_string(),
                );
            }
        }
        notes
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.host.trim().is_empty() {
            return Err(ConfigError::Invalid(
                "key `host`: expected a non-empty name".into(),
            ));
        }
        self.tz()?;
        if self.source.interval == 0 || self.source.interval > 3600 {
            return Err(ConfigError::Invalid(format!(
                "key `source.interval`: expected 1 to 3600 seconds, found {}",
                self.source.interval
            )));
        }
        if self.collector.batch_max == 0 {
            return Err(ConfigError::Invalid(
                "key `collector.batch_max`: expected at least 1".into(),
            ));
        }
        if self.source.linux_poll_ms < 10 {
            return Err(ConfigError::Invalid(format!(
                "key `source.linux_poll_ms`: expected at least 10 ms, found {}",
                self.source.linux_poll_ms
            )));
        }
        self.intel.validate().map_err(ConfigError::Invalid)?;
        self.kafka.validate()?;
        self.ui.validate()?;
        Ok(())
    }

    /// The time zone local days are counted in.
    pub fn tz(&self) -> Result<Tz, ConfigError> {
        self.timezone.parse::<Tz>().map_err(|_| {
            ConfigError::Invalid(format!(
                "key `timezone`: expected an IANA time zone such as \"Europe/Berlin\", found {:?}",
                self.timezone
            ))
        })
    }

    pub fn interval(&self) -> Duration {
        Duration::from_secs(u64::from(self.source.interval))
    }

    /// The counting policy of `[source]`: what is left out wherever ticks
    /// enter.
    pub fn counting(&self) -> CountingPolicy {
        let s = &self.source;
        let carriers = carriers::built_in_names()
            .filter(|n| !s.carriers.remove.contains(*n))
            .map(str::to_string)
            .chain(s.carriers.add.iter().cloned())
            .collect::<Vec<_>>();
        CountingPolicy::new(s.include_loopback, s.system_processes, carriers, &s.exclude)
    }

    /// The effective configuration as TOML, as `nbi config` prints it.
    pub fn to_toml(&self) -> String {
        let mut printable = self.clone();
        printable.kafka.options = self.kafka.printable_options();
        toml::to_string_pretty(&printable).unwrap_or_else(|e| format!("# cannot print: {e}\n"))
    }
}

/// figment names the key and the file; say what was expected in one line.
fn describe(e: figment::Error) -> String {
    e.into_iter()
        .map(|e| {
            let key = if e.path.is_empty() {
                String::new()
            } else {
                format!("key `{}`: ", e.path.join("."))
            };
            let origin = e
                .metadata
                .as_ref()
                .map(|m| match &m.source {
                    Some(src) => format!(" (from {src})"),
                    // The environment names the variable itself.
                    None if !e.path.is_empty() => {
                        let keys: Vec<&str> = e.path.iter().map(String::as_str).collect();
                        let profile = e.profile.clone().unwrap_or_default();
                        format!(" (from {} {})", m.name, m.interpolate(&profile, &keys))
                    }
                    None => format!(" (from {})", m.name),
                })
                .unwrap_or_default();
            format!("{key}{}{origin}", e.kind)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

pub fn local_hostname() -> String {
    let name = gethostname::gethostname().to_string_lossy().into_owned();
    let short = name.split('.').next().unwrap_or("").trim().to_string();
    if short.is_empty() {
        "localhost".to_string()
    } else {
        short
    }
}

/// The system's zone, as [`system_timezone`] names it.
pub fn system_tz() -> Tz {
    system_timezone().parse().unwrap_or(Tz::UTC)
}

/// The system's IANA zone (the `TZ` variable first), UTC when unknown.
pub fn system_timezone() -> String {
    if let Ok(tz) = std::env::var("TZ") {
        let tz = tz.trim_start_matches(':');
        if tz.parse::<Tz>().is_ok() {
            return tz.to_string();
        }
    }
    iana_time_zone::get_timezone()
        .ok()
        .filter(|z| z.parse::<Tz>().is_ok())
        .unwrap_or_else(|| "UTC".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
        let p = dir.path().join("config.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn file_values_override_defaults() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            &d,
            "host = \"mbp\"\ntimezone = \"Europe/Berlin\"\n[source]\ninterval = 30\nexclude = []\n",
        );
        let c = Config::load(Some(&p), true, &ConfigEnv::default()).unwrap();
        assert_eq!(c.host, "mbp");
        assert_eq!(c.source.interval, 30);
        assert!(c.source.exclude.is_empty());
        assert_eq!(c.tz().unwrap(), chrono_tz::Europe::Berlin);
        assert_eq!(c.collector.batch_max, 500, "unset keys keep defaults");
    }

    #[test]
    fn errors_name_the_file_the_key_and_what_was_expected() {
        let d = tempfile::tempdir().unwrap();
        let p = write(&d, "[source]\ninterval = \"soon\"\n");
        let e = Config::load(Some(&p), true, &ConfigEnv::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("source.interval"), "{e}");
        assert!(e.contains("config.toml"), "{e}");
        assert!(e.contains("u32") || e.contains("integer"), "{e}");

        let p = write(&d, "[source]\nintervall = 5\n");
        let e = Config::load(Some(&p), true, &ConfigEnv::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("intervall"), "{e}");

        let p = write(&d, "[source\n");
        let e = Config::load(Some(&p), true, &ConfigEnv::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("config.toml"), "{e}");

        let p = write(&d, "timezone = \"Mars/Olympus\"\n");
        let e = Config::load(Some(&p), true, &ConfigEnv::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("timezone") && e.contains("Mars/Olympus"), "{e}");

        let missing = d.path().join("nope.toml");
        assert!(matches!(
            Config::load(Some(&missing), true, &ConfigEnv::default()),
            Err(ConfigError::Missing(_))
        ));
        assert!(Config::load(Some(&missing), false, &ConfigEnv::default()).is_ok());
    }

    #[test]
    fn environment_variables_win_over_the_file_and_are_named_in_errors() {
        let d = tempfile::tempdir().unwrap();
        let p = write(&d, "host = \"mbp\"\n[source]\ninterval = 30\n");
        let env = ConfigEnv::from_pairs([
            ("NBI_HOST", "studio"),
            ("NBI_SOURCE__INTERVAL", "15"),
            ("NBI_LOG", "debug"),
            ("HOST", "elsewhere"),
        ]);
        let c = Config::load(Some(&p), true, &env).unwrap();
        assert_eq!((c.host.as_str(), c.source.interval), ("studio", 15));
        let without = Config::load(Some(&p), true, &ConfigEnv::default()).unwrap();
        assert_eq!(
            (without.host.as_str(), without.source.interval),
            ("mbp", 30)
        );

        let bad = ConfigEnv::from_pairs([("NBI_SOURCE__INTERVAL", "soon")]);
        let e = Config::load(None, false, &bad).unwrap_err().to_string();
        assert!(e.contains("NBI_SOURCE__INTERVAL"), "{e}");
        assert!(ConfigEnv::from_pairs([("NBI_DB", "/x"), ("PATH", "/bin")]).is_empty());
    }

    #[test]
    fn env_keys_are_told_from_other_variables() {
        assert!(is_config_env_key("HOST"));
        assert!(is_config_env_key("SOURCE__INTERVAL"));
        assert!(is_config_env_key("source.include_loopback"));
        assert!(!is_config_env_key("SOURCE"));
        assert!(!is_config_env_key("LOG"));
        assert!(!is_config_env_key("FAKE_NETTOP_CAPTURE"));
    }

    #[test]
    fn the_kafka_section_is_read_checked_and_its_secrets_never_printed() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            &d,
            "[kafka]\nbrokers = \"10.0.0.5:9092, 10.0.0.6:9092\"\ntopic = \"t\"\ncompression = \"zstd\"\n\
             [kafka.options]\n\"sasl.username\" = \"nbi\"\n\"sasl.password\" = \"hunter2\"\n",
        );
        let c = Config::load(Some(&p), true, &ConfigEnv::default()).unwrap();
        assert_eq!(c.kafka.topic, "t");
        assert_eq!(c.kafka.compression, "zstd");
        assert_eq!(
            c.kafka.options["sasl.password"], "hunter2",
            "passed through as it is"
        );
        let printed = c.to_toml();
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("sasl.username"), "{printed}");
        assert!(!format!("{c:?}").contains("hunter2"));

        let bad = write(&d, "[kafka]\ncompression = \"brotli\"\n");
        let e = Config::load(Some(&bad), true, &ConfigEnv::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("kafka.compression") && e.contains("brotli"),
            "{e}"
        );
        let bad = write(&d, "[kafka]\nbrokers = \" , \"\n");
        let e = Config::load(Some(&bad), true, &ConfigEnv::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("kafka.brokers"), "{e}");
        let bad = write(&d, "[kafka]\nspool_max_mb = 0\n");
        let e = Config::load(Some(&bad), true, &ConfigEnv::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("kafka.spool_max_mb"), "{e}");
    }

    #[test]
    fn the_influx_token_is_never_printed_and_can_come_from_a_file() {
        let d = tempfile::tempdir().unwrap();
        let tok = d.path().join("token");
        std::fs::write(&tok, "from-file\n").unwrap();
        let p = write(
            &d,
            &format!(
                "[influxdb]\nurl = \"http://127.0.0.1:8086\"\ntoken = \"s3cret\"\ntoken_file = {:?}\n",
                tok.display().to_string()
            ),
        );
        let c = Config::load(Some(&p), true, &ConfigEnv::default()).unwrap();
        assert_eq!(
            c.influxdb.resolved_token().unwrap().as_deref(),
            Some("s3cret")
        );
        assert!(!c.to_toml().contains("s3cret"), "{}", c.to_toml());
        assert!(!format!("{c:?}").contains("s3cret"));
        let from_file = InfluxDbConfig {
            token: None,
            ..c.influxdb.clone()
        };
        assert_eq!(
            from_file.resolved_token().unwrap().as_deref(),
            Some("from-file")
        );
        let missing = InfluxDbConfig {
            token: None,
            token_file: Some(d.path().join("nope")),
            ..c.influxdb
        };
        assert!(missing
            .resolved_token()
            .unwrap_err()
            .to_string()
            .contains("nope"));
    }

    #[test]
    fn the_grafana_address_is_checked() {
        let d = tempfile::tempdir().unwrap();
        let c = Config::load(None, false, &ConfigEnv::default()).unwrap();
        assert_eq!(c.ui.grafana_url(), None, "none by default");
        let p = write(
            &d,
            "[ui]\ngrafana_url = \" https://grafana.example:3000/d/nbi \"\n",
        );
        let c = Config::load(Some(&p), true, &ConfigEnv::default()).unwrap();
        assert_eq!(
            c.ui.grafana_url(),
            Some("https://grafana.example:3000/d/nbi")
        );
        for bad in ["grafana:3000", "ftp://g", "http://", "http://g /d"] {
            let p = write(&d, &format!("[ui]\ngrafana_url = {bad:?}\n"));
            let e = Config::load(Some(&p), true, &ConfigEnv::default())
                .unwrap_err()
                .to_string();
            assert!(e.contains("ui.grafana_url") && e.contains(bad), "{e}");
        }
        assert!(is_config_env_key("UI__GRAFANA_URL"));
    }

    #[test]
    fn the_old_min_pid_key_is_read_as_the_system_process_rule_with_a_note() {
        let d = tempfile::tempdir().unwrap();
        let p = write(&d, "[source]\nmin_pid = 1000\n");
        let c = Config::load(Some(&p), true, &ConfigEnv::default()).unwrap();
        assert_eq!(c.source.system_processes, SystemProcesses::LeaveOut);
        assert_eq!(c.source.min_pid, None);
        assert!(!c.to_toml().contains("min_pid"), "{}", c.to_toml());
        let p = write(&d, "[source]\nmin_pid = 0\n");
        let c = Config::load(Some(&p), true, &ConfigEnv::default()).unwrap();
        assert_eq!(c.source.system_processes, SystemProcesses::Count);

        let mut c = Config::default();
        c.source.min_pid = Some(500);
        let notes = c.migrate();
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("source.system_processes"), "{notes:?}");
        assert!(c.migrate().is_empty(), "once");
    }

    #[test]
    fn the_counting_policy_comes_from_the_source_section() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            &d,
            "[source]\ninclude_loopback = true\nsystem_processes = \"leave_out\"\nexclude = [\"Dropbox\"]\n\
             [source.carriers]\nadd = [\"CorpVPN\"]\nremove = [\"openvpn\"]\n",
        );
        let c = Config::load(Some(&p), true, &ConfigEnv::default()).unwrap();
        let policy = c.counting();
        assert!(policy.counts_loopback());
        assert_eq!(policy.system_processes(), SystemProcesses::LeaveOut);
        assert!(policy.judge_name("CorpVPN").is_err());
        assert!(policy.judge_name("Dropbox").is_err());
        assert!(
            policy.judge_name("openvpn").is_ok(),
            "removed from the list"
        );
        assert!(policy.judge_name("vpnagentd").is_err(), "the rest stays");
        let defaults = Config::default().counting();
        assert_eq!(defaults, CountingPolicy::default());

        let bad = write(&d, "[source]\nsystem_processes = \"hide\"\n");
        let e = Config::load(Some(&bad), true, &ConfigEnv::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("source.system_processes") && e.contains("hide"),
            "{e}"
        );
    }

    #[test]
    fn printed_config_reads_back_the_same() {
        let c = Config::default();
        let d = tempfile::tempdir().unwrap();
        let p = write(&d, &c.to_toml());
        assert_eq!(
            Config::load(Some(&p), true, &ConfigEnv::default()).unwrap(),
            c
        );
    }
}
