//! Command-line arguments.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};
use nbi_core::intel::detector::ModelKind;
use nbi_core::source::SourceKind;
use nbi_core::tick::NetworkId;

#[derive(Parser, Debug)]
#[command(
    name = "nbi",
    version,
    about = "Network Behavior Intelligence: per-application network usage, minute by minute",
    long_about = "Watches how much network each application uses every interval, stores it \
                  (SQLite by default), and shows it. Configuration: built-in defaults, then \
                  the config file, then NBI_* environment variables, then these flags."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// SQLite database (default: nbi.sqlite in the OS data directory)
    #[arg(long, global = true, env = "NBI_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Configuration file (default: config.toml in the OS config directory)
    #[arg(long, global = true, env = "NBI_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// This machine's name in ticks (default: the hostname)
    #[arg(long, global = true, value_name = "NAME")]
    pub host: Option<String>,
    /// Where ticks and verdicts are stored: the embedded SQLite file, or
    /// InfluxDB (`[influxdb]` in the config)
    #[arg(
        long,
        global = true,
        value_name = "sqlite|influx",
        default_value = "sqlite"
    )]
    pub store: StoreKind,
    /// Log filter, e.g. info, debug, nbi_core=trace
    #[arg(long, global = true, env = "NBI_LOG", default_value = "info")]
    pub log: String,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Sqlite,
    Influx,
}

/// Between the watcher and the collector.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BusKind {
    /// In the same process (`run`), or stdout/stdin NDJSON (`watch`/`collect`)
    #[default]
    Memory,
    /// The Kafka topic of `[kafka]` in the config; a watcher spools ticks on
    /// disk while the broker is away
    Kafka,
}

#[derive(Args, Debug, Clone, Default)]
pub struct BusArgs {
    /// memory: in-process (run), stdout (watch), stdin (collect); kafka: the
    /// `[kafka]` topic
    #[arg(long, value_name = "memory|kafka", default_value = "memory")]
    pub bus: BusKind,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Watch and collect into the store, in the foreground (Ctrl-C or SIGTERM flush and exit)
    Run(RunArgs),
    /// Watch and publish one tick per interval: NDJSON on stdout, or to Kafka with --bus kafka
    Watch(WatchArgs),
    /// Read ticks into the store: NDJSON from stdin (e.g. from `nbi watch`), or from Kafka with --bus kafka
    Collect(CollectArgs),
    /// Replay a file of ticks (NDJSON or nettop CSV) into the store, paced in time
    Replay(ReplayArgs),
    /// Import a file of ticks (NDJSON or nettop CSV) into the store, as fast as possible
    Import(ImportArgs),
    /// Per-app totals of a local day
    Today(TodayArgs),
    /// Per-app totals by local day or month over a range of days
    History(HistoryArgs),
    /// Per app, where its bytes went over a range of local days, largest first
    Destinations(DestinationsArgs),
    /// Write the stored ticks of a range of days as CSV or NDJSON
    Export(ExportArgs),
    /// The networks bytes went over, with their bytes; name one, or say whether it is metered
    Networks(NetworksArgs),
    /// Whether a watcher is running, its last tick, the data plan, and what the store holds
    Status(StatusArgs),
    /// Print the effective configuration as TOML
    Config,
    /// Write days of synthetic history for a made-up person into a separate demo database
    Demo(DemoArgs),
    /// Judge one local day against the learnt rhythm now, and store the verdict
    Detect(DetectArgs),
    /// List stored verdicts
    Verdicts(VerdictsArgs),
    /// Mark a judged day as normal, so later baselines may learn from it
    MarkNormal(MarkNormalArgs),
    /// "This is my new normal": baselines start on this judged day, for every kind of day
    NewNormal(MarkNormalArgs),
    /// Evaluate both models on seeded synthetic days: a confusion table per kind
    Eval(EvalArgs),
}

#[derive(Args, Debug, Clone, Default)]
pub struct SourceArgs {
    /// Where ticks come from [default: nettop on macOS, linux elsewhere]
    #[arg(long, value_name = "nettop|linux|replay")]
    pub source: Option<SourceKind>,
    /// Seconds per tick [default: 60]
    #[arg(long, value_name = "SECONDS")]
    pub interval: Option<u32>,
    /// The file a replay source reads (NDJSON ticks or nettop CSV)
    #[arg(long, value_name = "FILE")]
    pub replay_file: Option<PathBuf>,
    #[command(flatten)]
    pub pace: PaceArgs,
}

#[derive(Args, Debug, Clone, Default)]
pub struct PaceArgs {
    /// Replay time compression: 60 plays one minute per second; 0 as fast as possible
    #[arg(long, default_value_t = 0.0)]
    pub speed: f64,
    /// Local date of a nettop CSV capture (nettop prints only the time of day)
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = local_day)]
    pub date: Option<NaiveDate>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub bus: BusArgs,
    /// Show a native notification when a day is judged unusual
    #[arg(long)]
    pub notify: bool,
    /// Do not judge days (no nightly detection, no catch-up on start)
    #[arg(long, conflicts_with = "notify")]
    pub no_detect: bool,
}

#[derive(Args, Debug)]
pub struct WatchArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub bus: BusArgs,
}

#[derive(Args, Debug)]
pub struct CollectArgs {
    #[command(flatten)]
    pub bus: BusArgs,
}

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// NDJSON ticks or a nettop CSV capture
    pub file: PathBuf,
    #[command(flatten)]
    pub pace: PaceArgs,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// NDJSON ticks or a nettop CSV capture
    pub file: PathBuf,
    /// Local date of a nettop CSV capture (nettop prints only the time of day)
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = local_day)]
    pub date: Option<NaiveDate>,
    /// Seconds between samples of a nettop CSV capture without a time column
    #[arg(long, default_value_t = 60)]
    pub interval: u32,
}

#[derive(Args, Debug)]
pub struct TodayArgs {
    /// Print JSON: {"day": "YYYY-MM-DD", "apps": [{"app", "bytes_in", "bytes_out"}]}
    #[arg(long)]
    pub json: bool,
    /// Another local day instead of today
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = local_day)]
    pub day: Option<NaiveDate>,
    /// Sum over every host in the store, not only this one
    #[arg(long)]
    pub all_hosts: bool,
    /// Only the bytes over this network (its id as `nbi networks` shows it)
    #[arg(long, value_name = "ID", value_parser = network_id)]
    pub network: Option<NetworkId>,
}

/// How history is summed.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Day,
    Month,
    /// Per network and local day
    Network,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// First local day [default: 29 days before --to]
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = local_day)]
    pub from: Option<NaiveDate>,
    /// Last local day [default: today]
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = local_day)]
    pub to: Option<NaiveDate>,
    /// One row per app per local day, per calendar month, or per network per local day
    #[arg(long, value_name = "day|month|network", default_value = "day")]
    pub by: By,
    /// Only this app (its name as `nbi today` shows it)
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
    /// Print JSON: {"from", "to", "by", "rows": [{"period", "app", "bytes_in", "bytes_out"}]};
    /// by network, rows of {"period", "network", "name", "metered", "bytes_in", "bytes_out"}
    #[arg(long)]
    pub json: bool,
    /// Sum over every host in the store, not only this one
    #[arg(long)]
    pub all_hosts: bool,
    /// Only the bytes over this network (its id as `nbi networks` shows it)
    #[arg(long, value_name = "ID", value_parser = network_id)]
    pub network: Option<NetworkId>,
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct NetworksArgs {
    #[command(subcommand)]
    pub action: Option<NetworksAction>,
    /// First local day [default: --to]
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = local_day)]
    pub from: Option<NaiveDate>,
    /// Last local day [default: today]
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = local_day)]
    pub to: Option<NaiveDate>,
    /// Print JSON: {"from", "to", "networks": [{"id", "name", "metered", "first_seen", "last_seen", "bytes_in", "bytes_out"}]}
    #[arg(long)]
    pub json: bool,
    /// Sum over every host in the store, not only this one
    #[arg(long)]
    pub all_hosts: bool,
}

#[derive(Subcommand, Debug)]
pub enum NetworksAction {
    /// Give a network a name of your own ("" gives back the OS's)
    Name {
        #[arg(value_parser = network_id)]
        id: NetworkId,
        name: String,
    },
    /// Say whether a network is metered (auto: as the OS says)
    Metered {
        #[arg(value_parser = network_id)]
        id: NetworkId,
        #[arg(value_name = "on|off|auto")]
        metered: Metered,
    },
}

/// The owner's word on a network's metering.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metered {
    On,
    Off,
    /// Back to what the OS says
    Auto,
}

#[derive(Args, Debug)]
pub struct DestinationsArgs {
    /// First local day [default: --to]
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = local_day)]
    pub from: Option<NaiveDate>,
    /// Last local day [default: today]
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = local_day)]
    pub to: Option<NaiveDate>,
    /// Only this app (its name as `nbi today` shows it)
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
    /// Print JSON: {"from", "to", "rows": [{"app", "destination", "address", "org", "country", "bytes_in", "bytes_out"}]}
    #[arg(long)]
    pub json: bool,
    /// Sum over every host in the store, not only this one
    #[arg(long)]
    pub all_hosts: bool,
}

/// The file format of an export.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormatArg {
    /// timestamp,host,app,bytes_in,bytes_out: one row per app per tick
    Csv,
    /// one tick message per line, as `nbi import` reads it
    Ndjson,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// First local day
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = local_day)]
    pub from: NaiveDate,
    /// Last local day [default: today]
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = local_day)]
    pub to: Option<NaiveDate>,
    #[arg(long, value_name = "csv|ndjson", default_value = "csv")]
    pub format: ExportFormatArg,
    /// Only this app's traffic
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
    /// Only the bytes over this network (its id as `nbi networks` shows it)
    #[arg(long, value_name = "ID", value_parser = network_id)]
    pub network: Option<NetworkId>,
    /// Write to this file instead of stdout (replaced only once complete)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Every host in the store, not only this one
    #[arg(long)]
    pub all_hosts: bool,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Days of history to write, ending now
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Seed of the made-up person's randomness
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

#[derive(Args, Debug)]
pub struct DetectArgs {
    /// The local day to judge [default: yesterday, the last complete day]
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = local_day)]
    pub day: Option<NaiveDate>,
    /// Print the verdict as JSON
    #[arg(long)]
    pub json: bool,
    /// Which model judges [default: from the configuration, else default]
    #[arg(long, value_name = "default|original")]
    pub model: Option<ModelKind>,
}

#[derive(Args, Debug)]
pub struct VerdictsArgs {
    /// Print JSON: an array of verdicts, each with `marked_normal`
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct MarkNormalArgs {
    /// The judged local day
    #[arg(value_name = "YYYY-MM-DD", value_parser = local_day)]
    pub day: NaiveDate,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Test days of each of the 7 kinds
    #[arg(long, default_value_t = 30)]
    pub days_per_kind: usize,
    /// Evaluate only this model [default: both]
    #[arg(long, value_name = "default|original")]
    pub model: Option<ModelKind>,
    /// Baseline days of the test day's kind
    #[arg(long, default_value_t = 30)]
    pub baseline_days: usize,
    /// Seed of the synthetic days and of the models
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Judge a seeded year of a made-up life instead, day by day as `nbi run`
    /// would (holidays, vacation, travel, lasting changes, injected
    /// anomalies): false alarms per month, recall per kind, days of alarms
    /// after a change. Minutes per model.
    #[arg(long, conflicts_with = "nab")]
    pub year: bool,
    /// Judge real public series with labelled days instead: the Numenta
    /// Anomaly Benchmark's directory (its `data/` and `labels/`), each
    /// series one app's hourly bytes judged day by day with the default
    /// settings; per series the labelled days flagged and the false alarms
    /// per 30 ordinary days. Minutes.
    #[arg(long, value_name = "DIR")]
    pub nab: Option<std::path::PathBuf>,
    /// Print the reports as JSON
    #[arg(long)]
    pub json: bool,
}

/// A local day between 1970-01-01 and 2199-12-31: the days a tick can be
/// on (see `nbi_core::tick::bounds`). Anything else is a usage error.
fn network_id(text: &str) -> Result<NetworkId, String> {
    NetworkId::new(text).map_err(|e| e.to_string())
}

fn local_day(text: &str) -> Result<NaiveDate, String> {
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|e| format!("expected a day as YYYY-MM-DD: {e}"))?;
    let first = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(NaiveDate::MIN);
    let last = NaiveDate::from_ymd_opt(2199, 12, 31).unwrap_or(NaiveDate::MAX);
    if day < first || day > last {
        return Err(format!(
            "expected a day from {first} to {last}, found {day}"
        ));
    }
    Ok(day)
}
