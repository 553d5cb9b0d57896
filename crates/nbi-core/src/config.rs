//! Configuration: built-in defaults, then the TOML file, then `NBI_*`
//! environment variables, then command-line flags (applied by the caller).
//!
//! Each part owns its section — its keys, its defaults, its checks, and how
//! it is built: [`SourceConfig`] (`[source]`), [`StoreConfig`] (`[store]`),
//! [`InfluxDbConfig`] (`[influxdb]`), [`KafkaConfig`] (`[kafka]`),
//! [`CollectorConfig`] (`[collector]`), [`IntelConfig`] (`[intel]`),
//! [`UiConfig`] (`[ui]`), [`PlanConfig`] (`[plan]`). This module puts them together, reads them, and
//! turns keys of older versions into their replacements with a note.

use std::path::Path;
use std::time::Duration;

use chrono_tz::Tz;
use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Serialize};

mod error;
mod secret;
mod system;

pub use error::ConfigError;
pub use secret::{Secret, SECRET_SHOWN_AS};
pub use system::{local_hostname, system_timezone, system_tz};

pub use crate::bus::KafkaConfig;
pub use crate::collector::CollectorConfig;
use crate::counting::{CountingPolicy, SystemProcesses};
pub use crate::destination::DestinationsConfig;
pub use crate::intel::IntelConfig;
pub use crate::plan::{PlanConfig, Plans};
pub use crate::source::SourceConfig;
pub use crate::store::{InfluxDbConfig, StoreConfig};
pub use crate::view::UiConfig;

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
    /// `[[plan]]` entries, or one `[plan]`.
    #[serde(skip_serializing_if = "Plans::is_empty")]
    pub plan: Plans,
    pub destinations: DestinationsConfig,
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
            plan: Plans::default(),
            destinations: DestinationsConfig::default(),
        }
    }
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
                    "destinations",
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
        self.source.validate()?;
        self.collector.validate()?;
        self.influxdb.validate()?;
        self.intel.validate().map_err(ConfigError::Invalid)?;
        self.kafka.validate()?;
        self.ui.validate()?;
        self.plan.validate()?;
        self.destinations.validate()?;
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
        self.source.interval()
    }

    /// The counting policy of `[source]`: what is left out wherever ticks
    /// enter.
    pub fn counting(&self) -> CountingPolicy {
        self.source.counting()
    }

    /// The effective configuration as TOML, as `nbi config` prints it
    /// (secrets as "(set)").
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot print: {e}\n"))
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

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
        assert!(
            c.kafka
                .options
                .exposed()
                .any(|kv| kv == ("sasl.password", "hunter2")),
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
            c.influxdb
                .resolved_token()
                .unwrap()
                .as_ref()
                .map(Secret::expose),
            Some("s3cret")
        );
        assert!(!c.to_toml().contains("s3cret"), "{}", c.to_toml());
        assert!(!format!("{c:?}").contains("s3cret"));
        let from_file = InfluxDbConfig {
            token: None,
            ..c.influxdb.clone()
        };
        assert_eq!(
            from_file
                .resolved_token()
                .unwrap()
                .as_ref()
                .map(Secret::expose),
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

    /// The example configuration of the first release's README: every key
    /// is still read, and the one that was replaced says so.
    #[test]
    fn a_configuration_of_the_first_release_still_loads() {
        let d = tempfile::tempdir().unwrap();
        let p = write(&d, include_str!("../tests/fixtures/config/0.1-readme.toml"));
        let mut c = Config::load(Some(&p), true, &ConfigEnv::default()).unwrap();
        assert_eq!(c.host, "mbp");
        assert_eq!(c.source.interval, 60);
        assert_eq!(c.collector.batch_max, 500);
        assert_eq!(c.kafka.topic, "network-metrics");
        assert_eq!(c.influxdb.batch_points, 5000);
        assert!(c.source.exclude.contains("MacPacketTunnel"));
        // min_pid = 1000 asked to leave system daemons out.
        assert_eq!(c.source.system_processes, SystemProcesses::LeaveOut);
        assert!(c.migrate().is_empty(), "migrated once, at load");
        let mut raw: Config =
            toml::from_str::<toml::Value>(include_str!("../tests/fixtures/config/0.1-readme.toml"))
                .ok()
                .and_then(|v| v.try_into().ok())
                .expect("the file itself parses into the new keys");
        let notes = raw.migrate();
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].contains("source.min_pid") && notes[0].contains("source.system_processes")
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
