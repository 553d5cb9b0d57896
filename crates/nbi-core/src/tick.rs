//! The Tick: what a source emits each interval, and its wire forms.

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// Bytes moved each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    #[serde(rename = "in")]
    pub bytes_in: u64,
    #[serde(rename = "out")]
    pub bytes_out: u64,
}

impl Flow {
    pub fn new(bytes_in: u64, bytes_out: u64) -> Flow {
        Flow {
            bytes_in,
            bytes_out,
        }
    }

    /// Adds `other`, saturating.
    pub fn add(&mut self, other: Flow) {
        self.bytes_in = self.bytes_in.saturating_add(other.bytes_in);
        self.bytes_out = self.bytes_out.saturating_add(other.bytes_out);
    }

    pub fn is_zero(&self) -> bool {
        self.bytes_in == 0 && self.bytes_out == 0
    }

    /// Both ways together, saturating.
    pub fn total(&self) -> u64 {
        self.bytes_in.saturating_add(self.bytes_out)
    }
}

/// An app's bytes per remote address: the part of its bytes whose other end
/// is known. Unconnected sockets (`*:*`) have none and count only in the
/// app's totals, so an app's destinations sum to at most its totals.
pub type Destinations = BTreeMap<IpAddr, Flow>;

/// Which network a byte went over, as the owner knows it: a kind and a
/// name, `wifi:Home`, `cell:pdp_ip0`, `vpn:utun3`, `router:f0:9f:c2:…`,
/// `if:eth1` (see [`crate::network`] for how each is found). 1 to
/// [`bounds::MAX_NETWORK_ID_BYTES`] bytes of printable text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct NetworkId(String);

impl NetworkId {
    /// # Errors
    /// An empty id, one longer than [`bounds::MAX_NETWORK_ID_BYTES`], or
    /// one with control characters, naming which.
    pub fn new(id: impl Into<String>) -> Result<NetworkId, TickParseError> {
        let id = id.into();
        if id.is_empty() || id.len() > bounds::MAX_NETWORK_ID_BYTES {
            return Err(TickParseError::NetworkId(format!(
                "{:?} has {} bytes (1 to {})",
                crate::human::cut(&id, 60),
                id.len(),
                bounds::MAX_NETWORK_ID_BYTES
            )));
        }
        if id.chars().any(char::is_control) {
            return Err(TickParseError::NetworkId(format!(
                "{:?} holds a control character",
                crate::human::cut(&id, 60)
            )));
        }
        Ok(NetworkId(id))
    }

    /// An id made from parts nbi produced itself (a kind and a name the
    /// OS gave): control characters become spaces and the whole is cut to
    /// the bound, so it is always valid.
    pub fn from_parts(kind: &str, name: &str) -> NetworkId {
        let mut id: String = format!("{kind}:{name}")
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if id.len() > bounds::MAX_NETWORK_ID_BYTES {
            let mut end = bounds::MAX_NETWORK_ID_BYTES;
            while !id.is_char_boundary(end) {
                end -= 1;
            }
            id.truncate(end);
        }
        NetworkId(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the first `:` (`wifi`, `cell`, …); empty without one.
    pub fn kind(&self) -> &str {
        self.0.split_once(':').map_or("", |(k, _)| k)
    }

    /// The part after the first `:`, or all of it.
    pub fn label(&self) -> &str {
        self.0.split_once(':').map_or(&self.0, |(_, n)| n)
    }
}

impl std::fmt::Display for NetworkId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for NetworkId {
    type Err = TickParseError;
    fn from_str(s: &str) -> Result<NetworkId, TickParseError> {
        NetworkId::new(s)
    }
}

impl<'de> Deserialize<'de> for NetworkId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        NetworkId::new(s).map_err(serde::de::Error::custom)
    }
}

/// An app's bytes per network: the part of its bytes whose network is
/// known. Sums to at most the app's totals.
pub type NetworkFlows = BTreeMap<NetworkId, Flow>;

/// One app's bytes with their breakdowns, as [`Tick::from_flows`] takes
/// them. A `(name, flow, destinations)` triple converts into one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppFlows {
    pub app: String,
    pub flow: Flow,
    pub to: Destinations,
    pub net: NetworkFlows,
}

impl From<(String, Flow, Destinations)> for AppFlows {
    fn from((app, flow, to): (String, Flow, Destinations)) -> AppFlows {
        AppFlows {
            app,
            flow,
            to,
            net: NetworkFlows::new(),
        }
    }
}

/// Per-app bytes and destinations being added up over an interval, by
/// sources that count socket by socket.
#[derive(Debug, Default)]
pub struct Tally(std::collections::HashMap<String, (Flow, Destinations, NetworkFlows)>);

impl Tally {
    /// Adds `flow` to `app`, and to its destination `remote` when the
    /// socket has one (an IPv4-mapped address counts as its IPv4 form).
    pub fn add(&mut self, app: String, flow: Flow, remote: Option<IpAddr>) {
        self.add_on(app, flow, remote, None);
    }

    /// Like [`Tally::add`], and to `network` when the socket's is known.
    pub fn add_on(
        &mut self,
        app: String,
        flow: Flow,
        remote: Option<IpAddr>,
        network: Option<&NetworkId>,
    ) {
        let e = self.0.entry(app).or_default();
        e.0.add(flow);
        if let Some(addr) = remote.map(|a| a.to_canonical()) {
            // An all-zero end is an unconnected socket: no destination.
            if !addr.is_unspecified() {
                e.1.entry(addr).or_default().add(flow);
            }
        }
        if let Some(net) = network {
            match e.2.get_mut(net) {
                Some(f) => f.add(flow),
                None => {
                    e.2.insert(net.clone(), flow);
                }
            }
        }
    }

    /// What was added since the last call, for [`Tick::from_flows`].
    pub fn take(&mut self) -> Vec<AppFlows> {
        self.0
            .drain()
            .map(|(app, (flow, to, net))| AppFlows { app, flow, to, net })
            .collect()
    }
}

/// Bytes one application moved during one interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppUsage {
    pub app: String,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Where some of those bytes went; empty when the source does not say.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub to: Destinations,
    /// Over which networks some of those bytes went; empty when the source
    /// does not say.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub net: NetworkFlows,
}

impl AppUsage {
    /// An app's totals with no destinations.
    pub fn new(app: impl Into<String>, bytes_in: u64, bytes_out: u64) -> AppUsage {
        AppUsage {
            app: app.into(),
            bytes_in,
            bytes_out,
            to: Destinations::new(),
            net: NetworkFlows::new(),
        }
    }

    /// The sum over the destinations (saturating).
    pub fn to_sum(&self) -> Flow {
        sum_of(&self.to)
    }

    /// The sum over the networks (saturating).
    pub fn net_sum(&self) -> Flow {
        sum_of(&self.net)
    }

    /// This app's bytes over `network` alone; `None` when it moved nothing
    /// there.
    pub fn on_network(&self, network: &NetworkId) -> Option<AppUsage> {
        let f = self.net.get(network).filter(|f| !f.is_zero())?;
        Some(AppUsage {
            app: self.app.clone(),
            bytes_in: f.bytes_in,
            bytes_out: f.bytes_out,
            // Destinations are not kept per network: none is shown rather
            // than some of another network's.
            to: Destinations::new(),
            net: [(network.clone(), *f)].into(),
        })
    }
}

/// The sum of a breakdown's flows, saturating.
pub fn sum_of<K>(parts: &BTreeMap<K, Flow>) -> Flow {
    parts.values().fold(Flow::default(), |mut t, f| {
        t.add(*f);
        t
    })
}

/// One interval of per-application traffic on one host.
///
/// `at` is the interval start in UTC, whole seconds. Apps are unique within a
/// tick and apps with no traffic are left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tick {
    pub host: String,
    pub at: DateTime<Utc>,
    pub interval_s: u32,
    pub apps: Vec<AppUsage>,
}

impl Tick {
    /// Builds a tick from per-app totals, dropping apps with no traffic and
    /// ordering apps by name so equal ticks compare equal.
    pub fn from_totals(
        host: impl Into<String>,
        at: DateTime<Utc>,
        interval_s: u32,
        totals: impl IntoIterator<Item = (String, (u64, u64))>,
    ) -> Tick {
        Tick::from_flows(
            host,
            at,
            interval_s,
            totals
                .into_iter()
                .map(|(app, (i, o))| (app, Flow::new(i, o), Destinations::new())),
        )
    }

    /// Builds a tick from per-app totals and breakdowns, merging repeated
    /// apps, dropping apps, destinations and networks with no traffic, and
    /// ordering apps by name. An app's totals are raised to the sum of its
    /// destinations, or of its networks, where that is more (a source that
    /// saw a socket's bytes before its process's), so neither breakdown
    /// ever exceeds its app.
    pub fn from_flows<A: Into<AppFlows>>(
        host: impl Into<String>,
        at: DateTime<Utc>,
        interval_s: u32,
        apps: impl IntoIterator<Item = A>,
    ) -> Tick {
        let mut merged: BTreeMap<String, (Flow, Destinations, NetworkFlows)> = BTreeMap::new();
        for a in apps {
            let a: AppFlows = a.into();
            let e = merged.entry(a.app).or_default();
            e.0.add(a.flow);
            for (addr, f) in a.to {
                e.1.entry(addr).or_default().add(f);
            }
            for (net, f) in a.net {
                e.2.entry(net).or_default().add(f);
            }
        }
        let apps = merged
            .into_iter()
            .map(|(app, (flow, mut to, mut net))| {
                to.retain(|_, f| !f.is_zero());
                net.retain(|_, f| !f.is_zero());
                let (to_sum, net_sum) = (sum_of(&to), sum_of(&net));
                AppUsage {
                    app,
                    bytes_in: flow.bytes_in.max(to_sum.bytes_in).max(net_sum.bytes_in),
                    bytes_out: flow.bytes_out.max(to_sum.bytes_out).max(net_sum.bytes_out),
                    to,
                    net,
                }
            })
            .filter(|a| a.bytes_in > 0 || a.bytes_out > 0)
            .collect();
        Tick {
            host: host.into(),
            at: at.with_nanosecond_zero(),
            interval_s,
            apps,
        }
    }

    /// The identity of this tick's content (interval and per-app bytes, not
    /// host or time): equal for a redelivery, different for another
    /// message that lands on the same host and second. FNV-1a, stable
    /// across versions and machines.
    pub fn digest(&self) -> u64 {
        const PRIME: u64 = 0x0100_0000_01b3;
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for &b in bytes {
                h = (h ^ u64::from(b)).wrapping_mul(PRIME);
            }
        };
        eat(&self.interval_s.to_le_bytes());
        for a in &self.apps {
            eat(a.app.as_bytes());
            eat(&[0]);
            eat(&a.bytes_in.to_le_bytes());
            eat(&a.bytes_out.to_le_bytes());
            // Ticks without breakdowns keep the digest they always had.
            for (addr, f) in &a.to {
                eat(b"@");
                eat(addr.to_string().as_bytes());
                eat(&f.bytes_in.to_le_bytes());
                eat(&f.bytes_out.to_le_bytes());
            }
            for (net, f) in &a.net {
                eat(b"#");
                eat(net.as_str().as_bytes());
                eat(&[0]);
                eat(&f.bytes_in.to_le_bytes());
                eat(&f.bytes_out.to_le_bytes());
            }
        }
        h
    }

    /// The tick as seen over `network` alone: each app's bytes there, apps
    /// that moved nothing there left out. The interval is kept: the
    /// watcher ran whichever network was in use.
    pub fn on_network(&self, network: &NetworkId) -> Tick {
        Tick {
            host: self.host.clone(),
            at: self.at,
            interval_s: self.interval_s,
            apps: self
                .apps
                .iter()
                .filter_map(|a| a.on_network(network))
                .collect(),
        }
    }

    /// The same tick without destinations (`source.destinations = false`,
    /// or a store that keeps none).
    pub fn without_destinations(mut self) -> Tick {
        for a in &mut self.apps {
            a.to.clear();
        }
        self
    }

    /// Bytes in of every app (saturating: it never wraps).
    pub fn total_in(&self) -> u64 {
        self.apps
            .iter()
            .fold(0, |t, a| t.saturating_add(a.bytes_in))
    }

    /// Bytes out of every app (saturating).
    pub fn total_out(&self) -> u64 {
        self.apps
            .iter()
            .fold(0, |t, a| t.saturating_add(a.bytes_out))
    }

    /// The message JSON of the design (a superset of the original project's
    /// `{timestamp, app_usage}`), one line, no trailing newline.
    pub fn to_json(&self) -> String {
        let msg = WireMessage {
            schema: Some(SCHEMA_VERSION),
            host: Some(self.host.clone()),
            timestamp: self.at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            interval_s: Some(self.interval_s),
            app_usage: AppUsageMap(
                self.apps
                    .iter()
                    .map(|a| {
                        (
                            a.app.clone(),
                            WireUsage {
                                bytes_in: a.bytes_in,
                                bytes_out: a.bytes_out,
                                to: WireDestinations(a.to.iter().map(|(k, v)| (*k, *v)).collect()),
                                net: WireNetworks(
                                    a.net.iter().map(|(k, v)| (k.clone(), *v)).collect(),
                                ),
                            },
                        )
                    })
                    .collect(),
            ),
        };
        // Serialising plain strings and integers cannot fail.
        serde_json::to_string(&msg).unwrap_or_default()
    }

    /// Parses the message JSON, including the original format (no `schema`,
    /// `host` or `interval_s`; naive local timestamps with microseconds).
    pub fn from_json(text: &str) -> Result<Tick, TickParseError> {
        Self::from_json_in(text, &chrono::Local)
    }

    /// Like [`Tick::from_json`], reading naive (original-format) timestamps
    /// as local time of `zone` (a collector reads them in the watcher's zone,
    /// which the configuration names, not in its own).
    pub fn from_json_in<Z: TimeZone>(text: &str, zone: &Z) -> Result<Tick, TickParseError> {
        Self::from_json_near(text, zone, None)
    }

    /// Like [`Tick::from_json_in`]; a naive timestamp in the hour that a
    /// fall-back repeats is read as its first occurrence not before `near`
    /// (the previous message's time, or the broker's), see
    /// [`parse_timestamp_near`].
    pub fn from_json_near<Z: TimeZone>(
        text: &str,
        zone: &Z,
        near: Option<DateTime<Utc>>,
    ) -> Result<Tick, TickParseError> {
        if text.len() > bounds::MAX_LINE_BYTES {
            return Err(TickParseError::TooLong(text.len()));
        }
        let msg: WireMessage = serde_json::from_str(text)
            .map_err(|e| TickParseError::Json(crate::human::cut(&e.to_string(), 200).into()))?;
        if let Some(v) = msg.schema {
            if v > SCHEMA_VERSION {
                return Err(TickParseError::Schema(v));
            }
        }
        let at = parse_timestamp_near(&msg.timestamp, zone, near)?;
        let interval_s = msg.interval_s.unwrap_or(60);
        let host = msg.host.unwrap_or_else(|| DEFAULT_HOST.to_string());
        let tick = Tick {
            host,
            at,
            interval_s,
            apps: Vec::new(),
        };
        tick.check_head()?;
        let apps = msg.app_usage.0;
        for (app, usage) in &apps {
            tick.check_app(app, usage.bytes_in, usage.bytes_out)?;
            let total = Flow::new(usage.bytes_in, usage.bytes_out);
            let to: Destinations = usage.to.0.iter().copied().collect();
            check_destinations(app, total, &to)?;
            let net: NetworkFlows = usage.net.0.iter().cloned().collect();
            check_networks(app, total, &net)?;
        }
        Ok(Tick::from_flows(
            tick.host,
            at,
            interval_s,
            apps.into_iter().map(|(app, v)| AppFlows {
                app,
                flow: Flow::new(v.bytes_in, v.bytes_out),
                to: v.to.0.into_iter().collect(),
                net: v.net.0.into_iter().collect(),
            }),
        ))
    }

    /// Checks the tick against [`bounds`]: its time, interval and host, and
    /// each app's name and counts. Every way ticks come in from outside
    /// (a message, a file, a broker) passes through this.
    ///
    /// # Errors
    /// The first bound broken, naming it.
    pub fn check(&self) -> Result<(), TickParseError> {
        self.check_head()?;
        if self.apps.len() > bounds::MAX_APPS {
            return Err(TickParseError::TooManyApps(self.apps.len()));
        }
        for a in &self.apps {
            self.check_app(&a.app, a.bytes_in, a.bytes_out)?;
            check_destinations(&a.app, Flow::new(a.bytes_in, a.bytes_out), &a.to)?;
            check_networks(&a.app, Flow::new(a.bytes_in, a.bytes_out), &a.net)?;
        }
        Ok(())
    }

    fn check_head(&self) -> Result<(), TickParseError> {
        let ts = self.at.timestamp();
        if !(bounds::FIRST_TS..bounds::END_TS).contains(&ts) {
            return Err(TickParseError::OutOfRange(self.at.to_rfc3339()));
        }
        if self.interval_s == 0 || self.interval_s > bounds::MAX_INTERVAL_S {
            return Err(TickParseError::Interval(self.interval_s));
        }
        if self.host.is_empty() {
            return Err(TickParseError::Host);
        }
        if self.host.len() > bounds::MAX_NAME_BYTES {
            return Err(TickParseError::Name {
                what: "host",
                bytes: self.host.len(),
            });
        }
        Ok(())
    }

    fn check_app(&self, app: &str, bytes_in: u64, bytes_out: u64) -> Result<(), TickParseError> {
        if app.is_empty() {
            return Err(TickParseError::EmptyApp);
        }
        if app.len() > bounds::MAX_NAME_BYTES {
            return Err(TickParseError::Name {
                what: "app",
                bytes: app.len(),
            });
        }
        let most = u64::from(self.interval_s).saturating_mul(bounds::MAX_BYTES_PER_SECOND);
        if bytes_in.max(bytes_out) > most {
            return Err(TickParseError::Count {
                app: crate::human::cut(app, 60).into(),
                bytes: bytes_in.max(bytes_out),
                interval_s: self.interval_s,
            });
        }
        Ok(())
    }
}

/// An app's destinations: at most [`bounds::MAX_DESTINATIONS`], summing to
/// at most its totals.
fn check_destinations(app: &str, total: Flow, to: &Destinations) -> Result<(), TickParseError> {
    if to.len() > bounds::MAX_DESTINATIONS {
        return Err(TickParseError::TooManyDestinations {
            app: crate::human::cut(app, 60).into(),
            count: to.len(),
        });
    }
    let sum = sum_of(to);
    if sum.bytes_in > total.bytes_in || sum.bytes_out > total.bytes_out {
        return Err(TickParseError::DestinationsAboveTotal {
            app: crate::human::cut(app, 60).into(),
            to: sum,
            total,
        });
    }
    Ok(())
}

/// An app's networks: at most [`bounds::MAX_NETWORKS`], summing to at
/// most its totals.
fn check_networks(app: &str, total: Flow, net: &NetworkFlows) -> Result<(), TickParseError> {
    if net.len() > bounds::MAX_NETWORKS {
        return Err(TickParseError::TooManyNetworks {
            app: crate::human::cut(app, 60).into(),
            count: net.len(),
        });
    }
    let sum = sum_of(net);
    if sum.bytes_in > total.bytes_in || sum.bytes_out > total.bytes_out {
        return Err(TickParseError::NetworksAboveTotal {
            app: crate::human::cut(app, 60).into(),
            net: sum,
            total,
        });
    }
    Ok(())
}

/// What a tick may hold: beyond any of these a message is refused, with
/// an error naming what is wrong, and the messages around it are kept.
pub mod bounds {
    /// The earliest interval start: 1970-01-01T00:00:00Z.
    pub const FIRST_TS: i64 = 0;
    /// Interval starts are before 2200-01-01T00:00:00Z.
    pub const END_TS: i64 = 7_258_118_400;
    /// The longest interval: a day.
    pub const MAX_INTERVAL_S: u32 = 86_400;
    /// The longest app or host name, in bytes.
    pub const MAX_NAME_BYTES: usize = 1024;
    /// The most apps in one tick.
    pub const MAX_APPS: usize = 100_000;
    /// No link moves more, each way: 100 GB/s (800 Gbit/s).
    pub const MAX_BYTES_PER_SECOND: u64 = 100_000_000_000;
    /// The most destinations of one app in one tick.
    pub const MAX_DESTINATIONS: usize = 10_000;
    /// The most networks of one app in one tick.
    pub const MAX_NETWORKS: usize = 64;
    /// The longest network id, in bytes.
    pub const MAX_NETWORK_ID_BYTES: usize = 256;
    /// The longest line read as a message or a row, in bytes.
    pub const MAX_LINE_BYTES: usize = 16 << 20;
}

/// The host of original-format messages, which carry none.
pub const DEFAULT_HOST: &str = "default";
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TickParseError {
    #[error("not a tick message: {0}")]
    Json(String),
    #[error("unsupported schema version {0} (this build reads up to {SCHEMA_VERSION})")]
    Schema(u32),
    #[error("timestamp {0:?} is neither RFC 3339 nor an ISO 8601 local date-time")]
    Timestamp(String),
    #[error("timestamp {0} is outside 1970–2199")]
    OutOfRange(String),
    #[error("interval_s must be 1 to {max}, found {0}", max = bounds::MAX_INTERVAL_S)]
    Interval(u32),
    #[error("host must not be empty")]
    Host,
    #[error("an app name must not be empty")]
    EmptyApp,
    #[error("{what} name of {bytes} bytes (at most {max})", max = bounds::MAX_NAME_BYTES)]
    Name { what: &'static str, bytes: usize },
    #[error("{0} apps in one tick (at most {max})", max = bounds::MAX_APPS)]
    TooManyApps(usize),
    #[error("app {app:?} moved {bytes} bytes in {interval_s} s: more than any link can")]
    Count {
        app: String,
        bytes: u64,
        interval_s: u32,
    },
    #[error("a line of {0} bytes (at most {max})", max = bounds::MAX_LINE_BYTES)]
    TooLong(usize),
    #[error("app {app:?} has {count} destinations in one tick (at most {max})", max = bounds::MAX_DESTINATIONS)]
    TooManyDestinations { app: String, count: usize },
    #[error("the destinations of app {app:?} sum to {} B in, {} B out: more than its {} B in, {} B out", to.bytes_in, to.bytes_out, total.bytes_in, total.bytes_out)]
    DestinationsAboveTotal { app: String, to: Flow, total: Flow },
    #[error("network id {0}")]
    NetworkId(String),
    #[error("app {app:?} has {count} networks in one tick (at most {max})", max = bounds::MAX_NETWORKS)]
    TooManyNetworks { app: String, count: usize },
    #[error("the networks of app {app:?} sum to {} B in, {} B out: more than its {} B in, {} B out", net.bytes_in, net.bytes_out, total.bytes_in, total.bytes_out)]
    NetworksAboveTotal { app: String, net: Flow, total: Flow },
}

#[derive(Serialize, Deserialize)]
struct WireMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    schema: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    host: Option<String>,
    timestamp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    interval_s: Option<u32>,
    app_usage: AppUsageMap,
}

/// The `app_usage` object: its apps in order, each once (a message that
/// names an app twice is refused rather than one of them silently kept),
/// at most [`bounds::MAX_APPS`].
#[derive(Default)]
struct AppUsageMap(Vec<(String, WireUsage)>);

impl Serialize for AppUsageMap {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for AppUsageMap {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = AppUsageMap;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of apps and their bytes")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<AppUsageMap, A::Error> {
                let mut seen = std::collections::HashSet::new();
                let mut apps = Vec::new();
                while let Some(app) = map.next_key::<String>()? {
                    if apps.len() == bounds::MAX_APPS {
                        return Err(serde::de::Error::custom(format!(
                            "more than {} apps in one tick",
                            bounds::MAX_APPS
                        )));
                    }
                    if !seen.insert(app.clone()) {
                        return Err(serde::de::Error::custom(format!(
                            "app {:?} appears twice",
                            crate::human::cut(&app, 60)
                        )));
                    }
                    let usage: WireUsage = map.next_value()?;
                    apps.push((app, usage));
                }
                Ok(AppUsageMap(apps))
            }
        }
        d.deserialize_map(Visitor)
    }
}

#[derive(Serialize, Deserialize)]
struct WireUsage {
    #[serde(rename = "in")]
    bytes_in: u64,
    #[serde(rename = "out")]
    bytes_out: u64,
    /// Readers of schema 1 before destinations ignore this key.
    #[serde(default, skip_serializing_if = "WireDestinations::is_empty")]
    to: WireDestinations,
    /// Likewise.
    #[serde(default, skip_serializing_if = "WireNetworks::is_empty")]
    net: WireNetworks,
}

/// The `net` object: network ids and their bytes, each id once, at most
/// [`bounds::MAX_NETWORKS`].
#[derive(Default)]
struct WireNetworks(Vec<(NetworkId, Flow)>);

impl WireNetworks {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for WireNetworks {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k.as_str(), v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for WireNetworks {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = WireNetworks;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of network ids and their bytes")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<WireNetworks, A::Error> {
                let mut seen = std::collections::HashSet::new();
                let mut net = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if net.len() == bounds::MAX_NETWORKS {
                        return Err(serde::de::Error::custom(format!(
                            "more than {} networks of one app",
                            bounds::MAX_NETWORKS
                        )));
                    }
                    let id = NetworkId::new(key).map_err(serde::de::Error::custom)?;
                    if !seen.insert(id.clone()) {
                        return Err(serde::de::Error::custom(format!(
                            "network {id} appears twice"
                        )));
                    }
                    net.push((id, map.next_value::<Flow>()?));
                }
                Ok(WireNetworks(net))
            }
        }
        d.deserialize_map(Visitor)
    }
}

/// The `to` object: remote addresses and their bytes, each address once
/// (`"::1"` and `"0::1"` are one), at most [`bounds::MAX_DESTINATIONS`].
#[derive(Default)]
struct WireDestinations(Vec<(IpAddr, Flow)>);

impl WireDestinations {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for WireDestinations {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(&k.to_string(), v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for WireDestinations {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = WireDestinations;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of remote addresses and their bytes")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<WireDestinations, A::Error> {
                let mut seen = std::collections::HashSet::new();
                let mut to = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if to.len() == bounds::MAX_DESTINATIONS {
                        return Err(serde::de::Error::custom(format!(
                            "more than {} destinations of one app",
                            bounds::MAX_DESTINATIONS
                        )));
                    }
                    let addr: IpAddr = key.parse().map_err(|_| {
                        serde::de::Error::custom(format!(
                            "destination {:?} is not an IP address",
                            crate::human::cut(&key, 60)
                        ))
                    })?;
                    if !seen.insert(addr) {
                        return Err(serde::de::Error::custom(format!(
                            "destination {addr} appears twice"
                        )));
                    }
                    to.push((addr, map.next_value::<Flow>()?));
                }
                Ok(WireDestinations(to))
            }
        }
        d.deserialize_map(Visitor)
    }
}

/// RFC 3339 with an offset, or a naive ISO 8601 date-time taken as local time
/// (what Python's `datetime.now().isoformat()` writes).
pub fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, TickParseError> {
    parse_timestamp_in(text, &chrono::Local)
}

/// RFC 3339, or a naive ISO 8601 date-time read as local time of `zone`.
pub fn parse_timestamp_in<Z: TimeZone>(
    text: &str,
    zone: &Z,
) -> Result<DateTime<Utc>, TickParseError> {
    parse_timestamp_near(text, zone, None)
}

/// Like [`parse_timestamp_in`]; of a local time that occurs twice (the hour
/// a fall-back repeats) the first occurrence not before `near` is taken
/// (within five minutes), else the earlier one.
/// A local time that never occurs (skipped by a spring-forward) is an error.
pub fn parse_timestamp_near<Z: TimeZone>(
    text: &str,
    zone: &Z,
    near: Option<DateTime<Utc>>,
) -> Result<DateTime<Utc>, TickParseError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f"))
        .map_err(|_| TickParseError::Timestamp(crate::human::cut(text, 60).into()))?;
    let found = match zone.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        chrono::LocalResult::Ambiguous(a, b) => {
            let (a, b) = (a.with_timezone(&Utc), b.with_timezone(&Utc));
            // Time goes on: the first occurrence not before `near` (give or
            // take a few minutes of disorder), else the nearer one.
            let slack = chrono::Duration::minutes(5);
            Some(match near {
                Some(n) if a >= n - slack => a,
                Some(n) if b >= n - slack => b,
                Some(n) if (b - n).abs() < (a - n).abs() => b,
                _ => a,
            })
        }
        chrono::LocalResult::None => None,
    };
    found.ok_or_else(|| TickParseError::Timestamp(crate::human::cut(text, 60).into()))
}

/// Reads tick messages in order, keeping for each host the time of its last
/// one, so that naive timestamps in the hour a fall-back repeats land on
/// the right occurrence (01:59 then 01:00 is one minute later, not 59
/// minutes earlier).
#[derive(Debug, Clone)]
pub struct TickDecoder<Z: TimeZone> {
    zone: Z,
    last: std::collections::HashMap<String, DateTime<Utc>>,
}

impl<Z: TimeZone> TickDecoder<Z> {
    pub fn new(zone: Z) -> TickDecoder<Z> {
        TickDecoder {
            zone,
            last: std::collections::HashMap::new(),
        }
    }

    /// Decodes one message. `sent` is when the broker took it (Kafka's own
    /// timestamp), which beats the previous message as a guide.
    pub fn decode(
        &mut self,
        text: &str,
        sent: Option<DateTime<Utc>>,
    ) -> Result<Tick, TickParseError> {
        // The host is needed before the time: peek at it cheaply.
        let host = serde_json::from_str::<HostOnly>(text)
            .ok()
            .and_then(|h| h.host)
            .unwrap_or_else(|| DEFAULT_HOST.to_string());
        let near = sent.or_else(|| self.last.get(&host).copied());
        let tick = Tick::from_json_near(text, &self.zone, near)?;
        self.last.insert(tick.host.clone(), tick.at);
        Ok(tick)
    }
}

#[derive(Deserialize)]
struct HostOnly {
    #[serde(default)]
    host: Option<String>,
}

trait WholeSeconds {
    fn with_nanosecond_zero(self) -> Self;
}

impl WholeSeconds for DateTime<Utc> {
    fn with_nanosecond_zero(self) -> Self {
        DateTime::from_timestamp(self.timestamp(), 0).unwrap_or(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip() {
        let t = Tick::from_totals(
            "mbp",
            DateTime::from_timestamp(1_783_779_780, 0).unwrap(),
            60,
            [("Slack".to_string(), (1200, 340))],
        );
        let text = t.to_json();
        assert_eq!(
            text,
            r#"{"schema":1,"host":"mbp","timestamp":"2026-07-11T14:23:00Z","interval_s":60,"app_usage":{"Slack":{"in":1200,"out":340}}}"#
        );
        assert_eq!(Tick::from_json(&text).unwrap(), t);
    }

    #[test]
    fn destinations_round_trip_and_are_checked() {
        let line = r#"{"schema":1,"host":"mbp","timestamp":"2026-07-11T14:23:00Z","interval_s":60,"app_usage":{"Safari":{"in":1200,"out":340,"to":{"17.57.144.84":{"in":1000,"out":300},"2606:4700::6810":{"in":100,"out":0}}}}}"#;
        let t = Tick::from_json(line).unwrap();
        let to: Vec<String> = t.apps[0].to.keys().map(|a| a.to_string()).collect();
        assert_eq!(to, vec!["17.57.144.84", "2606:4700::6810"]);
        assert_eq!(t.apps[0].to_sum(), Flow::new(1100, 300));
        assert_eq!(Tick::from_json(&t.to_json()).unwrap(), t);
        assert!(t
            .to_json()
            .contains(r#""to":{"17.57.144.84":{"in":1000,"out":300}"#));
        assert_ne!(
            t.digest(),
            t.clone().without_destinations().digest(),
            "destinations are part of a message's content"
        );
        let plain = Tick::from_json(
            r#"{"timestamp":"2026-07-11T14:23:00Z","app_usage":{"Safari":{"in":1,"out":2}}}"#,
        )
        .unwrap();
        assert!(plain.apps[0].to.is_empty());
        assert!(!plain.to_json().contains("\"to\""), "no empty `to`");
        let bad = |to: &str| {
            let line = format!(
                r#"{{"timestamp":"2026-07-11T14:23:00Z","app_usage":{{"Safari":{{"in":10,"out":10,"to":{to}}}}}}}"#
            );
            Tick::from_json(&line).unwrap_err().to_string()
        };
        assert!(bad(r#"{"example.com":{"in":1,"out":1}}"#).contains("not an IP address"));
        assert!(bad(r#"{"::1":{"in":1,"out":1},"0::1":{"in":1,"out":1}}"#).contains("twice"));
        assert!(bad(r#"{"192.0.2.1":{"in":11,"out":1}}"#).contains("more than its"));
    }

    #[test]
    fn networks_round_trip_and_are_checked() {
        let line = r#"{"schema":1,"host":"mbp","timestamp":"2026-07-11T14:23:00Z","interval_s":60,"app_usage":{"Safari":{"in":1200,"out":340,"net":{"wifi:Home":{"in":1000,"out":300},"cell:pdp_ip0":{"in":200,"out":0}}}}}"#;
        let t = Tick::from_json(line).unwrap();
        let ids: Vec<&str> = t.apps[0].net.keys().map(NetworkId::as_str).collect();
        assert_eq!(ids, vec!["cell:pdp_ip0", "wifi:Home"]);
        assert_eq!(t.apps[0].net_sum(), Flow::new(1200, 300));
        assert_eq!(Tick::from_json(&t.to_json()).unwrap(), t);
        assert!(t
            .to_json()
            .contains(r#""net":{"cell:pdp_ip0":{"in":200,"out":0}"#));
        let mut plain = t.clone();
        plain.apps[0].net.clear();
        assert_ne!(t.digest(), plain.digest(), "networks are content");
        let home = NetworkId::new("wifi:Home").unwrap();
        let on = t.on_network(&home);
        assert_eq!((on.total_in(), on.total_out()), (1000, 300));
        assert!(t
            .on_network(&NetworkId::new("if:eth9").unwrap())
            .apps
            .is_empty());
        let bad = |net: &str| {
            let line = format!(
                r#"{{"timestamp":"2026-07-11T14:23:00Z","app_usage":{{"Safari":{{"in":10,"out":10,"net":{net}}}}}}}"#
            );
            Tick::from_json(&line).unwrap_err().to_string()
        };
        assert!(bad(r#"{"":{"in":1,"out":1}}"#).contains("network id"));
        assert!(bad(r#"{"wifi:a\u0007":{"in":1,"out":1}}"#).contains("control"));
        assert!(bad(r#"{"a":{"in":1,"out":1},"a":{"in":1,"out":1}}"#).contains("twice"));
        assert!(bad(r#"{"a":{"in":11,"out":1}}"#).contains("more than its"));
        assert_eq!(
            NetworkId::from_parts("wifi", "caf\u{e9}\n").as_str(),
            "wifi:caf\u{e9} "
        );
        assert_eq!(
            NetworkId::from_parts("x", &"\u{e9}".repeat(300))
                .as_str()
                .len(),
            256
        );
    }

    #[test]
    fn a_source_whose_sockets_saw_more_than_its_process_keeps_every_byte() {
        let at = DateTime::from_timestamp(1_783_779_780, 0).unwrap();
        let to: Destinations = [("192.0.2.1".parse().unwrap(), Flow::new(50, 5))].into();
        let t = Tick::from_flows("h", at, 60, [("curl".to_string(), Flow::new(40, 9), to)]);
        assert_eq!((t.apps[0].bytes_in, t.apps[0].bytes_out), (50, 9));
        assert!(t.check().is_ok());
    }

    #[test]
    fn original_format_is_read_as_local_time_on_host_default() {
        let t = Tick::from_json(
            r#"{"timestamp": "2024-03-01T10:15:30.123456", "app_usage": {"Spotify": {"in": 5, "out": 7}, "Idle": {"in": 0, "out": 0}}}"#,
        )
        .unwrap();
        assert_eq!(t.host, "default");
        assert_eq!(t.interval_s, 60);
        assert_eq!(t.apps.len(), 1, "zero-traffic apps are dropped");
        let local = t.at.with_timezone(&chrono::Local);
        assert_eq!(local.format("%H:%M:%S").to_string(), "10:15:30");
    }

    #[test]
    fn the_repeated_hour_of_a_fall_back_is_read_in_order() {
        // Europe/Berlin, 25 Oct 2026: 03:00 CEST becomes 02:00 CET, so
        // 02:00–02:59 happens twice (00:00Z–00:59Z, then 01:00Z–01:59Z).
        let zone = chrono_tz::Europe::Berlin;
        let line = |t: &str| {
            format!(r#"{{"timestamp": "{t}", "app_usage": {{"Spotify": {{"in": 5, "out": 7}}}}}}"#)
        };
        let mut d = TickDecoder::new(zone);
        let times: Vec<String> = [
            "2026-10-25T01:59:00",
            "2026-10-25T02:30:00",
            "2026-10-25T02:59:00",
            "2026-10-25T02:00:00",
            "2026-10-25T02:30:00",
            "2026-10-25T03:00:00",
        ]
        .iter()
        .map(|t| d.decode(&line(t), None).unwrap().at.to_rfc3339())
        .collect();
        assert_eq!(
            times,
            vec![
                "2026-10-24T23:59:00+00:00",
                "2026-10-25T00:30:00+00:00",
                "2026-10-25T00:59:00+00:00",
                "2026-10-25T01:00:00+00:00",
                "2026-10-25T01:30:00+00:00",
                "2026-10-25T02:00:00+00:00",
            ],
            "the second 02:30 is an hour after the first"
        );
        // A broker's timestamp settles it without a previous message.
        let sent: DateTime<Utc> = "2026-10-25T01:30:02Z".parse().unwrap();
        let mut fresh = TickDecoder::new(zone);
        let t = fresh
            .decode(&line("2026-10-25T02:30:00"), Some(sent))
            .unwrap();
        assert_eq!(t.at.to_rfc3339(), "2026-10-25T01:30:00+00:00");
        // A time the spring-forward skipped never happened.
        assert!(fresh.decode(&line("2026-03-29T02:30:00"), None).is_err());
    }

    #[test]
    fn the_digest_is_stable_and_tells_contents_apart() {
        let at = DateTime::from_timestamp(1_783_779_780, 0).unwrap();
        let t =
            |bytes: u64| Tick::from_totals("mbp", at, 60, [("Slack".to_string(), (bytes, 340))]);
        // Stored by one version, compared by the next: it must never change.
        assert_eq!(format!("{:016x}", t(1200).digest()), "c40a0c808b98144e");
        assert_ne!(t(1200).digest(), t(1201).digest());
        let other_host = Tick {
            host: "studio".into(),
            ..t(1200)
        };
        assert_eq!(other_host.digest(), t(1200).digest(), "content only");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            "",
            "{",
            "null",
            r#"{"timestamp":"yesterday","app_usage":{}}"#,
            r#"{"timestamp":"2024-03-01T10:15:30Z","app_usage":{"a":{"in":-1,"out":0}}}"#,
            r#"{"schema":99,"timestamp":"2024-03-01T10:15:30Z","app_usage":{}}"#,
            r#"{"timestamp":"2024-03-01T10:15:30Z","interval_s":0,"app_usage":{}}"#,
        ] {
            assert!(Tick::from_json(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn messages_beyond_the_bounds_are_refused_naming_what_is_wrong() {
        let msg = |ts: &str, interval: u32, host: &str, apps: &str| {
            format!(
                r#"{{"schema":1,"host":"{host}","timestamp":"{ts}","interval_s":{interval},"app_usage":{{{apps}}}}}"#
            )
        };
        let ok = r#""Slack":{"in":5,"out":7}"#;
        let long = "x".repeat(bounds::MAX_NAME_BYTES + 1);
        let most = 60 * bounds::MAX_BYTES_PER_SECOND;
        let cases = [
            (
                msg("1969-12-31T23:59:00Z", 60, "h", ok),
                "outside 1970–2199",
            ),
            (
                msg("2200-01-01T00:00:00Z", 60, "h", ok),
                "outside 1970–2199",
            ),
            (
                msg("2026-07-11T14:23:00Z", 86_401, "h", ok),
                "interval_s must be 1 to 86400",
            ),
            (
                msg("2026-07-11T14:23:00Z", 60, &long, ok),
                "host name of 1025 bytes",
            ),
            (
                msg(
                    "2026-07-11T14:23:00Z",
                    60,
                    "h",
                    &format!(r#""{long}":{{"in":1,"out":1}}"#),
                ),
                "app name of 1025 bytes",
            ),
            (
                msg(
                    "2026-07-11T14:23:00Z",
                    60,
                    "h",
                    r#""Slack":{"in":1,"out":1},"Slack":{"in":2,"out":2}"#,
                ),
                "\"Slack\" appears twice",
            ),
            (
                msg(
                    "2026-07-11T14:23:00Z",
                    60,
                    "h",
                    &format!(r#""Slack":{{"in":{},"out":0}}"#, most + 1),
                ),
                "more than any link can",
            ),
            (
                msg("2026-07-11T14:23:00Z", 60, "h", r#""":{"in":1,"out":1}"#),
                "must not be empty",
            ),
        ];
        for (text, says) in &cases {
            let e = Tick::from_json(text).unwrap_err().to_string();
            assert!(e.contains(says), "{e:?} should say {says:?}");
            assert!(
                e.len() < 400,
                "an error quotes little of its input: {} bytes",
                e.len()
            );
        }
        // Just inside every bound: a tick.
        let name = "y".repeat(bounds::MAX_NAME_BYTES);
        let edge = msg(
            "2199-12-31T23:59:00Z",
            bounds::MAX_INTERVAL_S,
            &name,
            &format!(
                r#""{name}":{{"in":{},"out":0}}"#,
                u64::from(bounds::MAX_INTERVAL_S) * bounds::MAX_BYTES_PER_SECOND
            ),
        );
        assert!(Tick::from_json(&edge).is_ok());
        let too_long = " ".repeat(bounds::MAX_LINE_BYTES + 1);
        assert!(matches!(
            Tick::from_json(&too_long),
            Err(TickParseError::TooLong(_))
        ));
    }
}
