//! What the tray app shows, shaped as its window reads it (the IPC contract
//! in `ui/src/api.ts`): a day's curve per top app, verdicts with the
//! owner's mark, recent days, the watcher's status, the tray glance and the
//! tray icon's state. Kept here, beside the store and the intelligence, so
//! that the app itself stays a thin shell.

use crate::config::ConfigError;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::intel::matrix::OTHER;
use crate::intel::verdict::{Status, Verdict};
use crate::intel::{parse_verdict, IntelError};
use crate::source::{SourceState, SourceStatus};
use crate::store::{HostFilter, Store, StoreError, VerdictRecord};

/// The `[ui]` section: the tray app.
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

    /// Checks the keys; an error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
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

/// Apps drawn on their own; the rest are summed into "Other apps".
pub const TOP_APPS: usize = 5;

/// One app's (or "Other apps"') bytes per slot, with its totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppCurve {
    pub app: String,
    pub bytes_in: Vec<u64>,
    pub bytes_out: Vec<u64>,
    pub total_in: u64,
    pub total_out: u64,
}

/// A local day's traffic per app, in slots of `step_s` seconds from local
/// midnight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCurve {
    pub day: NaiveDate,
    /// IANA zone of the day.
    pub timezone: String,
    /// Unix seconds of the first slot.
    pub start: i64,
    pub step_s: u32,
    pub slots: usize,
    /// The slot holding `now` when the day is today.
    pub now_slot: Option<usize>,
    /// The top apps by total, largest first, then "Other apps" if any.
    pub apps: Vec<AppCurve>,
}

/// The curve of local `day` at `step_minutes` (1–60) slots, as of `now`.
pub fn day_curve<S: Store + ?Sized>(
    store: &S,
    host: &str,
    day: NaiveDate,
    tz: Tz,
    step_minutes: u32,
    now: DateTime<Utc>,
) -> Result<DayCurve, StoreError> {
    let curve = store.day_curve(&HostFilter::One(host.to_string()), day, tz, step_minutes)?;
    let step_s = step_minutes * 60;
    let slots = curve.buckets;
    let start = curve.start.timestamp();
    let since = now.timestamp() - start;
    let now_slot = (since >= 0)
        .then(|| (since / i64::from(step_s)) as usize)
        .filter(|s| *s < slots);
    let mut apps: Vec<AppCurve> = Vec::new();
    let mut other: Option<AppCurve> = None;
    // The store answers largest first.
    for c in curve.apps {
        if apps.len() < TOP_APPS && c.app != OTHER {
            apps.push(app_curve(c.app, c.bytes_in, c.bytes_out));
            continue;
        }
        let o = other
            .get_or_insert_with(|| app_curve(OTHER.to_string(), vec![0; slots], vec![0; slots]));
        for (sum, v) in o.bytes_in.iter_mut().zip(&c.bytes_in) {
            *sum = sum.saturating_add(*v);
        }
        for (sum, v) in o.bytes_out.iter_mut().zip(&c.bytes_out) {
            *sum = sum.saturating_add(*v);
        }
    }
    if let Some(o) = other {
        apps.push(app_curve(o.app, o.bytes_in, o.bytes_out));
    }
    Ok(DayCurve {
        day,
        timezone: tz.name().to_string(),
        start,
        step_s,
        slots,
        now_slot,
        apps,
    })
}

fn app_curve(app: String, bytes_in: Vec<u64>, bytes_out: Vec<u64>) -> AppCurve {
    let sum = |v: &[u64]| v.iter().fold(0u64, |a, b| a.saturating_add(*b));
    AppCurve {
        app,
        total_in: sum(&bytes_in),
        total_out: sum(&bytes_out),
        bytes_in,
        bytes_out,
    }
}

/// A stored verdict as the window shows it: the verdict (as `nbi detect
/// --json` prints it) and whether the owner marked the day normal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictView {
    #[serde(flatten)]
    pub verdict: Verdict,
    pub marked_normal: bool,
}

impl VerdictView {
    pub fn from_record(record: &VerdictRecord) -> Result<VerdictView, IntelError> {
        Ok(VerdictView {
            verdict: parse_verdict(record)?,
            marked_normal: record.marked_normal,
        })
    }
}

/// The verdict of `day`, or of the last judged day when `day` is `None`.
pub fn verdict<S: Store + ?Sized>(
    store: &S,
    host: &str,
    day: Option<NaiveDate>,
) -> Result<Option<VerdictView>, IntelError> {
    let record = match day {
        Some(day) => store.verdict(host, day)?,
        None => store.recent_verdicts(host, 1)?.into_iter().next(),
    };
    record.as_ref().map(VerdictView::from_record).transpose()
}

/// One judged day in the list of recent days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub day: NaiveDate,
    pub status: Status,
    pub summary: String,
    pub marked_normal: bool,
}

/// The `limit` latest judged days, newest first. A verdict that cannot be
/// read still appears, with its status and no summary.
pub fn history<S: Store + ?Sized>(
    store: &S,
    host: &str,
    limit: usize,
) -> Result<Vec<HistoryEntry>, StoreError> {
    Ok(store
        .recent_verdicts(host, limit)?
        .into_iter()
        .map(|r| HistoryEntry {
            summary: parse_verdict(&r).map(|v| v.summary).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "unreadable verdict");
                String::new()
            }),
            day: r.day,
            status: r.status,
            marked_normal: r.marked_normal,
        })
        .collect())
}

/// The watcher's status as the window shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusView {
    /// starting, watching, paused, failing or stopped.
    pub state: String,
    /// Why it is failing.
    pub reason: Option<String>,
    pub last_tick: Option<DateTime<Utc>>,
    pub source: String,
    pub host: String,
    pub grafana_url: Option<String>,
    /// The plan of the network in use (else the first plan): its current
    /// period; `None` without a plan.
    pub plan: Option<crate::plan::PlanUsage>,
    /// Every plan's current period, in configuration order.
    #[serde(default)]
    pub plans: Vec<crate::plan::PlanUsage>,
    /// The network that carried bytes last, when the source knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkInUse>,
    /// Why the source sees less than it could (the Linux source counting
    /// TCP only), when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode_note: Option<String>,
}

impl StatusView {
    pub fn new(status: &SourceStatus, host: &str, grafana_url: Option<&str>) -> StatusView {
        let (state, reason) = match &status.state {
            SourceState::Starting => ("starting", None),
            SourceState::Watching => ("watching", None),
            SourceState::Paused => ("paused", None),
            SourceState::Failing { reason } => ("failing", Some(reason.clone())),
            // A replay at its end has stopped watching as much as a stopped source.
            SourceState::Stopped | SourceState::Finished => ("stopped", None),
        };
        StatusView {
            state: state.to_string(),
            reason,
            last_tick: status.last_tick,
            source: status.source.to_string(),
            host: host.to_string(),
            grafana_url: grafana_url.map(str::to_string),
            plan: None,
            plans: Vec::new(),
            network: None,
            mode_note: status.mode_note.clone(),
        }
    }

    /// With the plans' usage and the network in use: `plan` is the first
    /// plan that counts that network (a plan of named networks before one
    /// of every network), else the first plan.
    pub fn with_plans(
        self,
        plans: Vec<crate::plan::PlanUsage>,
        network: Option<NetworkInUse>,
    ) -> StatusView {
        let plan = plan_in_use(&plans, network.as_ref()).cloned();
        StatusView {
            plan,
            plans,
            network,
            ..self
        }
    }
}

/// The plan the glance shows: the first that counts `network` by name or
/// as metered, else the first of every network, else the first plan.
pub fn plan_in_use<'a>(
    plans: &'a [crate::plan::PlanUsage],
    network: Option<&NetworkInUse>,
) -> Option<&'a crate::plan::PlanUsage> {
    network
        .and_then(|n| {
            let counts = |p: &&crate::plan::PlanUsage| {
                p.networks.iter().any(|id| id.as_str() == n.id) || (p.metered && n.metered)
            };
            plans
                .iter()
                .find(counts)
                .or_else(|| plans.iter().find(|p| p.all_networks))
        })
        .or_else(|| plans.first())
}

/// The network in use, as the glance shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkInUse {
    pub id: String,
    pub name: String,
    pub metered: bool,
}

/// What the tray icon shows, most urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrayState {
    /// Not watching, and not by the owner's choice.
    Failing,
    /// The last judged day was unusual and not marked normal.
    Anomalous,
    Paused,
    Normal,
}

impl TrayState {
    pub fn of(source: &SourceState, last_verdict: Option<&VerdictRecord>) -> TrayState {
        let anomalous =
            last_verdict.is_some_and(|v| v.status == Status::Anomalous && !v.marked_normal);
        match source {
            SourceState::Failing { .. } => TrayState::Failing,
            _ if anomalous => TrayState::Anomalous,
            SourceState::Paused => TrayState::Paused,
            _ => TrayState::Normal,
        }
    }

    /// A word for the tooltip.
    pub fn describe(self) -> &'static str {
        match self {
            TrayState::Failing => "not watching",
            TrayState::Anomalous => "unusual day",
            TrayState::Paused => "paused",
            TrayState::Normal => "watching",
        }
    }
}

/// Today's totals, for the tray.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Glance {
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Percent of the data plan used this billing period (rounded down),
    /// with a plan.
    pub plan_percent: Option<u64>,
    /// The name of the network in use, when known.
    pub network: Option<String>,
}

impl Glance {
    /// "↓1.2G ↑84M", then the network in use ("· iPhone") and the percent
    /// of its plan used ("· plan 64%").
    pub fn text(&self) -> String {
        let mut text = format!(
            "↓{} ↑{}",
            crate::human::compact(self.bytes_in),
            crate::human::compact(self.bytes_out)
        );
        if let Some(n) = &self.network {
            text.push_str(&format!(" · {}", crate::human::cut(n, 24)));
        }
        if let Some(p) = self.plan_percent {
            text.push_str(&format!(" · plan {p}%"));
        }
        text
    }

    /// With the network in use.
    pub fn with_network(self, network: Option<&NetworkInUse>) -> Glance {
        Glance {
            network: network.map(|n| n.name.clone()),
            ..self
        }
    }

    /// With the plan's usage.
    pub fn with_plan(self, plan: Option<&crate::plan::PlanUsage>) -> Glance {
        Glance {
            plan_percent: plan.map(|p| (p.fraction() * 100.0).floor() as u64),
            ..self
        }
    }
}

/// The totals of `host`'s local day holding `now`.
pub fn glance<S: Store + ?Sized>(
    store: &S,
    host: &str,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Glance, StoreError> {
    let today = now.with_timezone(&tz).date_naive();
    let totals = store.day_totals(&HostFilter::One(host.to_string()), today, tz)?;
    Ok(totals.iter().fold(Glance::default(), |g, t| Glance {
        bytes_in: g.bytes_in.saturating_add(t.bytes_in),
        bytes_out: g.bytes_out.saturating_add(t.bytes_out),
        ..Glance::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceKind;
    use crate::store::sqlite::SqliteStore;
    use crate::store::{TickWriter, VerdictStore};
    use crate::tick::Tick;
    use chrono::Duration;

    fn berlin() -> Tz {
        "Europe/Berlin".parse().unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// Seven apps in one minute of 14 Jul 2026 (local 10:00 in Berlin):
    /// app i moves (i + 1) × 1000 in and i out.
    fn seeded() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
        let apps = (0..7u64).map(|i| (format!("app{i}"), ((i + 1) * 1000, i)));
        s.write(&[Tick::from_totals("h", at("2026-07-14T08:00:00Z"), 60, apps)])
            .unwrap();
        s.write(&[Tick::from_totals(
            "h",
            at("2026-07-14T08:07:00Z"),
            60,
            [("app6".to_string(), (600u64, 5u64))],
        )])
        .unwrap();
        (dir, s)
    }

    #[test]
    fn the_curve_keeps_five_apps_and_sums_the_rest() {
        let (_d, s) = seeded();
        let day = NaiveDate::from_ymd_opt(2026, 7, 14).unwrap();
        let now = at("2026-07-14T13:32:10Z");
        let c = day_curve(&s, "h", day, berlin(), 5, now).unwrap();
        assert_eq!(c.timezone, "Europe/Berlin");
        assert_eq!(c.start, at("2026-07-13T22:00:00Z").timestamp());
        assert_eq!((c.step_s, c.slots), (300, 288));
        // 15:32 local is slot 15 × 12 + 6.
        assert_eq!(c.now_slot, Some(186));
        let names: Vec<&str> = c.apps.iter().map(|a| a.app.as_str()).collect();
        assert_eq!(
            names,
            ["app6", "app5", "app4", "app3", "app2", "Other apps"]
        );
        let top = &c.apps[0];
        assert_eq!((top.total_in, top.total_out), (7600, 11));
        // 10:00 and 10:05 local: slots 120 and 121.
        assert_eq!((top.bytes_in[120], top.bytes_in[121]), (7000, 600));
        let other = &c.apps[5];
        assert_eq!((other.total_in, other.total_out), (3000, 1));
        assert_eq!(other.bytes_in.len(), 288);
        let all: u64 = c.apps.iter().fold(0, |t, a| t.saturating_add(a.total_in));
        assert_eq!(all, 28_000 + 600);
        // Another day: no now, no apps.
        let before = day_curve(&s, "h", day - Duration::days(1), berlin(), 1, now).unwrap();
        assert_eq!((before.slots, before.now_slot), (1440, None));
        assert!(before.apps.is_empty());
        assert!(day_curve(&s, "h", day, berlin(), 0, now).is_err());
        let g = glance(&s, "h", berlin(), now).unwrap();
        assert_eq!((g.bytes_in, g.bytes_out), (28_600, 26));
        assert_eq!(g.text(), "↓29K ↑26B");
        let plan = crate::plan::PlanConfig {
            limit: Some(crate::plan::DataSize(50_000)),
            ..crate::plan::PlanConfig::default()
        }
        .usage_of(day, 41_999)
        .unwrap();
        assert_eq!(
            g.clone().with_plan(Some(&plan)).text(),
            "↓29K ↑26B · plan 83%"
        );
        assert_eq!(g.clone().with_plan(None).text(), "↓29K ↑26B");
        let iphone = NetworkInUse {
            id: "wifi:iPhone".into(),
            name: "iPhone".into(),
            metered: true,
        };
        assert_eq!(
            g.clone()
                .with_plan(Some(&plan))
                .with_network(Some(&iphone))
                .text(),
            "↓29K ↑26B · iPhone · plan 83%"
        );
    }

    #[test]
    fn the_json_matches_what_the_window_reads() {
        let (_d, s) = seeded();
        let day = NaiveDate::from_ymd_opt(2026, 7, 14).unwrap();
        let c = day_curve(&s, "h", day, berlin(), 5, at("2026-07-20T00:00:00Z")).unwrap();
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["day"], "2026-07-14");
        assert!(v["now_slot"].is_null());
        assert!(v["apps"][0]["bytes_in"].is_array());
        assert!(v["apps"][0]["total_out"].is_u64());
        let status = SourceStatus {
            source: SourceKind::Replay,
            state: SourceState::Failing {
                reason: "no file".into(),
            },
            last_tick: Some(at("2026-07-14T13:31:00Z")),
            ticks: 3,
            mode: None,
            mode_note: None,
            unattributed: None,
        };
        let v = serde_json::to_value(StatusView::new(&status, "mbp", None)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "state": "failing", "reason": "no file", "last_tick": "2026-07-14T13:31:00Z",
                "source": "replay", "host": "mbp", "grafana_url": null, "plan": null,
                "plans": []
            })
        );
        // The plan shown is the one that counts the network in use.
        let plan = |name: &str, nets: &[&str], metered: bool| {
            crate::plan::PlanConfig {
                name: name.into(),
                limit: Some(crate::plan::DataSize(100)),
                networks: nets
                    .iter()
                    .map(|n| crate::tick::NetworkId::new(*n).unwrap())
                    .collect(),
                metered,
                ..crate::plan::PlanConfig::default()
            }
            .usage_of("2026-07-14".parse().unwrap(), 10)
            .unwrap()
        };
        let plans = vec![
            plan("Everything", &[], false),
            plan("Home", &["wifi:Home"], false),
            plan("Phone", &[], true),
        ];
        let using = |id: &str, metered: bool| {
            StatusView::new(&status, "mbp", None)
                .with_plans(
                    plans.clone(),
                    Some(NetworkInUse {
                        id: id.into(),
                        name: id.into(),
                        metered,
                    }),
                )
                .plan
                .map(|p| p.name)
        };
        assert_eq!(using("wifi:Home", false).as_deref(), Some("Home"));
        assert_eq!(using("wifi:iPhone", true).as_deref(), Some("Phone"));
        assert_eq!(using("if:eth0", false).as_deref(), Some("Everything"));
        let finished = SourceStatus {
            state: SourceState::Finished,
            ..status
        };
        assert_eq!(
            StatusView::new(&finished, "mbp", Some("http://g")).state,
            "stopped"
        );
    }

    fn record(day: &str, status: &str, marked: bool, json: &str) -> VerdictRecord {
        VerdictRecord {
            host: "h".into(),
            day: day.parse().unwrap(),
            status: status.parse().unwrap(),
            judged_at: Utc::now(),
            verdict_json: json.into(),
            model: None,
            model_meta: None,
            marked_normal: marked,
        }
    }

    #[test]
    fn verdicts_carry_the_mark_and_history_survives_a_bad_one() {
        let (_d, mut s) = seeded();
        assert!(verdict(&s, "h", None).unwrap().is_none());
        let v = Verdict {
            day: "2026-07-13".parse().unwrap(),
            status: Status::Anomalous,
            error: Some(0.5),
            threshold: Some(0.1),
            baseline_days: 14,
            baseline: vec![],
            day_kind: crate::intel::baseline::DayKind::Workday,
            apps: vec!["Slack".into()],
            explanation: vec![],
            uncollected_hours: 0,
            model: Default::default(),
            summary: "Mon 13 Jul: Slack 03:00–04:00".into(),
            routine: None,
            routine_ended: None,
            hours_judged: None,
            quiet: false,
        };
        let json = serde_json::to_string(&v).unwrap();
        s.put_verdict(&record("2026-07-13", "anomalous", false, &json))
            .unwrap();
        s.put_verdict(&record("2026-07-12", "normal", false, "not json"))
            .unwrap();
        let last = verdict(&s, "h", None).unwrap().unwrap();
        assert_eq!(last.verdict, v);
        assert!(!last.marked_normal);
        let value = serde_json::to_value(&last).unwrap();
        assert_eq!(value["status"], "anomalous");
        assert_eq!(value["marked_normal"], false);
        assert_eq!(value["day_kind"], "workday");
        assert!(verdict(&s, "h", Some("2026-07-12".parse().unwrap())).is_err());
        let h = history(&s, "h", 10).unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(
            (h[0].status.name(), h[0].summary.as_str()),
            ("anomalous", v.summary.as_str())
        );
        assert_eq!((h[1].status.name(), h[1].summary.as_str()), ("normal", ""));

        let watching = SourceState::Watching;
        let rec = s.verdict("h", v.day).unwrap();
        assert_eq!(TrayState::of(&watching, rec.as_ref()), TrayState::Anomalous);
        assert_eq!(
            TrayState::of(&SourceState::Failing { reason: "x".into() }, rec.as_ref()),
            TrayState::Failing
        );
        assert!(s.mark_normal("h", v.day).unwrap());
        let rec = s.verdict("h", v.day).unwrap();
        assert_eq!(TrayState::of(&watching, rec.as_ref()), TrayState::Normal);
        assert_eq!(
            TrayState::of(&SourceState::Paused, rec.as_ref()),
            TrayState::Paused
        );
        assert!(
            verdict(&s, "h", Some(v.day))
                .unwrap()
                .unwrap()
                .marked_normal
        );
    }
}
