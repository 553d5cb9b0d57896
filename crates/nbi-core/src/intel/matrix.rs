//! Day matrices: 24 local hours × the chosen app columns, cell = bytes in +
//! out, built from the store's hourly sums.
//!
//! The store already buckets by local hour of day, so a 25-hour day folds its
//! repeated hour into one cell and a 23-hour day has one hour that does not
//! exist. Hours the watcher did not see at all ("uncollected") and hours that
//! do not exist are filled from the same hour of the previous days, so a gap
//! never looks like a quiet hour.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate, NaiveTime, TimeZone};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::stats::median;
use crate::store::{HostFilter, StoreError, UsageQuery};

/// How many earlier days a gap is filled from.
pub const FILL_DAYS: usize = 7;

/// The label of the column that sums every app outside the top K.
pub const OTHER: &str = "Other apps";

/// One local day of per-app hourly bytes (in + out), gaps filled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayUsage {
    pub day: NaiveDate,
    pub apps: BTreeMap<String, [f64; 24]>,
    /// The outbound part of `apps` (bytes sent), per app and hour; empty
    /// for days made without it (synthetic days).
    #[serde(default)]
    pub out: BTreeMap<String, [f64; 24]>,
    /// Hours that exist but the watcher did not see at all (filled).
    pub uncollected: [bool; 24],
    /// Hours that do not exist on this day (a spring-forward gap; filled).
    pub absent: [bool; 24],
}

impl DayUsage {
    /// A fully collected day from per-app hours (synthetic days, tests).
    pub fn complete(day: NaiveDate, apps: impl IntoIterator<Item = (String, [f64; 24])>) -> Self {
        DayUsage {
            day,
            apps: apps.into_iter().collect(),
            out: BTreeMap::new(),
            uncollected: [false; 24],
            absent: [false; 24],
        }
    }

    pub fn uncollected_hours(&self) -> u32 {
        self.uncollected.iter().filter(|u| **u).count() as u32
    }

    /// Hours to be filled from earlier days.
    fn missing(&self, hour: usize) -> bool {
        self.uncollected[hour] || self.absent[hour]
    }

    /// Total bytes of one app over the day.
    pub fn total(&self, app: &str) -> f64 {
        self.apps.get(app).map(|h| h.iter().sum()).unwrap_or(0.0)
    }
}

/// Whether local `hour` of `day` exists in `tz` (false inside a DST gap).
pub fn hour_exists(day: NaiveDate, hour: u8, tz: Tz) -> bool {
    [0, 30, 59].iter().any(|&m| {
        NaiveTime::from_hms_opt(u32::from(hour), m, 0)
            .map(|t| {
                tz.from_local_datetime(&day.and_time(t))
                    .earliest()
                    .is_some()
            })
            .unwrap_or(false)
    })
}

/// Loads the days `from..=to` and fills their gaps. Gaps in the first days
/// are filled from up to [`FILL_DAYS`] days before `from`, loaded for that.
pub fn load_days<S: UsageQuery + ?Sized>(
    store: &S,
    host: &HostFilter,
    from: NaiveDate,
    to: NaiveDate,
    tz: Tz,
) -> Result<Vec<DayUsage>, StoreError> {
    let first = from - Duration::days(FILL_DAYS as i64);
    let hourly = store.hourly(host, first, to, tz)?;
    let coverage = store.coverage(host, first, to, tz)?;
    let mut days: BTreeMap<NaiveDate, DayUsage> = BTreeMap::new();
    let mut d = first;
    while d <= to {
        let mut absent = [false; 24];
        for (h, a) in absent.iter_mut().enumerate() {
            *a = !hour_exists(d, h as u8, tz);
        }
        let mut uncollected = [true; 24];
        for (u, a) in uncollected.iter_mut().zip(&absent) {
            *u = !a;
        }
        days.insert(
            d,
            DayUsage {
                day: d,
                apps: BTreeMap::new(),
                out: BTreeMap::new(),
                uncollected,
                absent,
            },
        );
        d += Duration::days(1);
    }
    for c in coverage {
        if let Some(day) = days.get_mut(&c.day) {
            if c.seconds > 0 && (c.hour as usize) < 24 {
                day.uncollected[c.hour as usize] = false;
                day.absent[c.hour as usize] = false;
            }
        }
    }
    for u in hourly {
        if let Some(day) = days.get_mut(&u.day) {
            let h = u.hour as usize;
            if h < 24 {
                day.apps.entry(u.app.clone()).or_insert([0.0; 24])[h] +=
                    u.bytes_in.saturating_add(u.bytes_out) as f64;
                if u.bytes_out > 0 {
                    day.out.entry(u.app).or_insert([0.0; 24])[h] += u.bytes_out as f64;
                }
            }
        }
    }
    let mut days: Vec<DayUsage> = days.into_values().collect();
    fill_gaps(&mut days);
    Ok(days.into_iter().filter(|d| d.day >= from).collect())
}

/// Fills each missing hour with the median, per app, of the same hour over
/// the (up to) [`FILL_DAYS`] previous days on which that hour was collected
/// (the median: one unusual night among them is not copied into the gap);
/// with no such day the hour stays empty. `days` must be in date order.
pub fn fill_gaps(days: &mut [DayUsage]) {
    for i in 0..days.len() {
        for hour in 0..24 {
            if !days[i].missing(hour) {
                continue;
            }
            let sources: Vec<usize> = (0..i)
                .rev()
                .filter(|&j| !days[j].missing(hour))
                .take(FILL_DAYS)
                .collect();
            if sources.is_empty() {
                continue;
            }
            let all = median_hour(days, &sources, hour, |d| &d.apps);
            let out = median_hour(days, &sources, hour, |d| &d.out);
            for (app, v) in all {
                days[i].apps.entry(app).or_insert([0.0; 24])[hour] = v;
            }
            for (app, v) in out {
                days[i].out.entry(app).or_insert([0.0; 24])[hour] = v;
            }
        }
    }
}

/// Per app, the median of `hour` over the days `sources` (0 where an app
/// is absent) of the map `of` picks.
fn median_hour(
    days: &[DayUsage],
    sources: &[usize],
    hour: usize,
    of: impl Fn(&DayUsage) -> &BTreeMap<String, [f64; 24]>,
) -> BTreeMap<String, f64> {
    let mut values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (k, &j) in sources.iter().enumerate() {
        for (app, cells) in of(&days[j]) {
            values
                .entry(app.clone())
                .or_insert_with(|| vec![0.0; sources.len()])[k] = cells[hour];
        }
    }
    values
        .into_iter()
        .map(|(app, v)| (app, median(v)))
        .collect()
}

/// The median day of `days`: per app and hour, the median (0 where an app
/// is absent), so one unusual day does not shape it. Bytes sent (`out`)
/// likewise.
pub fn median_day(day: NaiveDate, days: &[&DayUsage]) -> DayUsage {
    DayUsage {
        out: medians(days, |d| &d.out),
        ..DayUsage::complete(day, medians(days, |d| &d.apps))
    }
}

/// Per app and hour, the median over `days` of the cells `of` picks.
fn medians(
    days: &[&DayUsage],
    of: impl Fn(&DayUsage) -> &BTreeMap<String, [f64; 24]>,
) -> BTreeMap<String, [f64; 24]> {
    let names: std::collections::BTreeSet<&String> =
        days.iter().flat_map(|d| of(d).keys()).collect();
    names
        .into_iter()
        .map(|app| {
            let mut cells = [0.0; 24];
            for (h, cell) in cells.iter_mut().enumerate() {
                *cell = median(
                    days.iter()
                        .map(|d| of(d).get(app).map_or(0.0, |c| c[h]))
                        .collect(),
                );
            }
            (app.clone(), cells)
        })
        .collect()
}

/// A named set of apps counted as one column (e.g. the web browsers: using
/// one instead of another is the same behaviour).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppGroup {
    pub name: String,
    pub apps: Vec<String>,
}

/// The browsers grouped by the default model.
pub fn browsers() -> AppGroup {
    AppGroup {
        name: "Web browsers".into(),
        apps: [
            "Safari",
            "Google Chrome",
            "Google Chrome Helper",
            "Firefox",
            "firefox",
            "Microsoft Edge",
            "Brave Browser",
            "Arc",
            "Opera",
            "Vivaldi",
            "Chromium",
            "chromium",
            "chrome",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
    }
}

/// Which apps are the columns of the matrices of one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Columns {
    /// Column labels in order: an app, a group's name, or [`OTHER`] last.
    pub names: Vec<String>,
    pub groups: Vec<AppGroup>,
    /// Whether the last column sums every app not in another column.
    pub other: bool,
}

impl Columns {
    /// The top `k` apps (or groups) by total volume over `baseline`, largest
    /// first, ties by name; plus the "other" column when `other` is set.
    pub fn choose(baseline: &[&DayUsage], k: usize, groups: &[AppGroup], other: bool) -> Columns {
        let mut volume: BTreeMap<String, f64> = BTreeMap::new();
        for day in baseline {
            for (app, cells) in &day.apps {
                let label = group_of(groups, app).unwrap_or(app);
                *volume.entry(label.to_string()).or_default() += cells.iter().sum::<f64>();
            }
        }
        let mut ranked: Vec<(String, f64)> = volume.into_iter().filter(|(_, v)| *v > 0.0).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut names: Vec<String> = ranked.into_iter().take(k).map(|(n, _)| n).collect();
        if other {
            names.push(OTHER.to_string());
        }
        Columns {
            names,
            groups: groups.to_vec(),
            other,
        }
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The column an app's bytes go to, if any.
    /// Apps as these columns see them (see [`AppView`]).
    pub fn view(&self) -> AppView {
        AppView::new(self.groups.clone())
    }

    pub fn column_of(&self, app: &str) -> Option<usize> {
        let label = group_of(&self.groups, app).unwrap_or(app);
        let named = if self.other {
            &self.names[..self.names.len() - 1]
        } else {
            &self.names[..]
        };
        named
            .iter()
            .position(|n| n == label)
            .or_else(|| self.other.then(|| self.names.len() - 1))
    }

    /// The matrix of one day in these columns.
    pub fn matrix(&self, day: &DayUsage) -> DayMatrix {
        let mut cells = vec![0.0; self.len() * 24];
        for (app, hours) in &day.apps {
            if let Some(c) = self.column_of(app) {
                for (h, v) in hours.iter().enumerate() {
                    cells[c * 24 + h] += v;
                }
            }
        }
        DayMatrix {
            day: day.day,
            cells,
            uncollected: day.uncollected,
        }
    }
}

fn group_of<'a>(groups: &'a [AppGroup], app: &str) -> Option<&'a str> {
    groups
        .iter()
        .find(|g| g.apps.iter().any(|a| a == app))
        .map(|g| g.name.as_str())
}

/// Apps as a model's matrix sees them: the apps of a group are one app (a
/// browser taking another's place is the same behaviour), every other app
/// is itself. The signals that look at apps one by one (uploads, bursts,
/// what is new) look through this, so they agree with the model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppView {
    groups: Vec<AppGroup>,
}

impl AppView {
    pub fn new(groups: Vec<AppGroup>) -> AppView {
        AppView { groups }
    }

    /// The name `app` is seen by: its group's, or its own.
    pub fn label<'a>(&'a self, app: &'a str) -> &'a str {
        group_of(&self.groups, app).unwrap_or(app)
    }

    /// `day` with the apps of each group summed into one (bytes sent too).
    pub fn grouped(&self, day: &DayUsage) -> DayUsage {
        if self.groups.is_empty() {
            return day.clone();
        }
        let sum = |cells: &BTreeMap<String, [f64; 24]>| {
            let mut out: BTreeMap<String, [f64; 24]> = BTreeMap::new();
            for (app, hours) in cells {
                let into = out.entry(self.label(app).to_string()).or_insert([0.0; 24]);
                for (a, b) in into.iter_mut().zip(hours) {
                    *a += b;
                }
            }
            out
        };
        DayUsage {
            apps: sum(&day.apps),
            out: sum(&day.out),
            ..day.clone()
        }
    }

    /// The app among `cells` that moved at least half the bytes of the
    /// apps `member` picks over `hours`, when one did: "Other apps" and
    /// "Web browsers" are named after the app a person knows.
    pub fn main_member(
        cells: &BTreeMap<String, [f64; 24]>,
        hours: std::ops::Range<usize>,
        member: impl Fn(&str) -> bool,
    ) -> Option<&str> {
        let members: Vec<(&String, f64)> = cells
            .iter()
            .filter(|(app, _)| member(app))
            .map(|(app, c)| (app, c[hours.clone()].iter().sum::<f64>()))
            .collect();
        let total: f64 = members.iter().map(|(_, b)| b).sum();
        let (app, bytes) = members.iter().max_by(|a, b| a.1.total_cmp(&b.1))?;
        (total > 0.0 && *bytes >= 0.5 * total).then_some(app.as_str())
    }

    /// Whether `app` is a member of the group named `label`.
    pub fn in_group(&self, label: &str, app: &str) -> bool {
        app != label && group_of(&self.groups, app) == Some(label)
    }
}

/// One day in the columns of a model: `cells[column * 24 + hour]`, bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayMatrix {
    pub day: NaiveDate,
    pub cells: Vec<f64>,
    pub uncollected: [bool; 24],
}

impl DayMatrix {
    pub fn cell(&self, column: usize, hour: usize) -> f64 {
        self.cells.get(column * 24 + hour).copied().unwrap_or(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;
    use crate::store::TickWriter;
    use crate::tick::Tick;
    use chrono::Utc;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn hours(v: f64) -> [f64; 24] {
        [v; 24]
    }

    /// One tick per UTC minute `at`, for every minute of `[from, to)`.
    fn ticks(from: chrono::DateTime<Utc>, minutes: i64, apps: &[(&str, u64)]) -> Vec<Tick> {
        (0..minutes)
            .map(|m| {
                Tick::from_totals(
                    "mbp",
                    from + Duration::minutes(m),
                    60,
                    apps.iter().map(|(a, b)| (a.to_string(), (*b, 0))),
                )
            })
            .collect()
    }

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
        (dir, s)
    }

    #[test]
    fn the_median_day_is_not_shaped_by_one_odd_day() {
        let days: Vec<DayUsage> = (0..5)
            .map(|i| {
                let mut slack = [0.0; 24];
                slack[9..17].fill(50e6 + f64::from(i) * 1e6);
                if i == 2 {
                    slack[3] = 1e12;
                }
                let mut d =
                    DayUsage::complete(date(2026, 6, 1 + i), [("Slack".to_string(), slack)]);
                d.out.insert("Slack".into(), [1e3; 24]);
                d
            })
            .collect();
        let refs: Vec<&DayUsage> = days.iter().collect();
        let t = median_day(date(2026, 6, 8), &refs);
        assert_eq!(t.apps["Slack"][3], 0.0);
        assert_eq!(t.apps["Slack"][9], 52e6);
        assert_eq!(t.out["Slack"][0], 1e3);
    }

    #[test]
    fn a_view_sees_the_apps_of_a_group_as_one() {
        let view = AppView::new(vec![browsers()]);
        let mut day = DayUsage::complete(
            date(2026, 6, 1),
            [
                ("Safari".to_string(), [1.0; 24]),
                ("Firefox".to_string(), [2.0; 24]),
                ("Slack".to_string(), [4.0; 24]),
            ],
        );
        day.out.insert("Firefox".into(), [0.5; 24]);
        let g = view.grouped(&day);
        assert_eq!(g.apps.keys().collect::<Vec<_>>(), ["Slack", "Web browsers"]);
        assert_eq!(g.apps["Web browsers"][0], 3.0);
        assert_eq!(g.out["Web browsers"][0], 0.5);
        assert_eq!(view.label("Slack"), "Slack");
        assert!(
            view.in_group("Web browsers", "Firefox") && !view.in_group("Web browsers", "Slack")
        );
        assert_eq!(
            AppView::main_member(&day.apps, 0..24, |a| view.in_group("Web browsers", a)),
            Some("Firefox")
        );
    }

    #[test]
    fn dst_days_fold_the_repeated_hour_and_fill_the_missing_one() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let (_d, mut s) = store();
        // Three whole days around the spring change (2026-03-29 has 23 h)
        // and the autumn change (2026-10-25 has 25 h), 10 bytes a minute.
        for day in [
            date(2026, 3, 28),
            date(2026, 3, 29),
            date(2026, 10, 24),
            date(2026, 10, 25),
        ] {
            let b = crate::store::local_day_bounds(day, berlin);
            s.write(&ticks(b.start, b.seconds() / 60, &[("Mail", 10)]))
                .unwrap();
        }
        let host = HostFilter::All;
        let spring = load_days(&s, &host, date(2026, 3, 29), date(2026, 3, 29), berlin).unwrap();
        let spring = &spring[0];
        assert!(spring.absent[2], "02:00 does not exist on the spring day");
        assert_eq!(spring.uncollected_hours(), 0, "a missing hour is not a gap");
        assert_eq!(spring.apps["Mail"][2], 600.0, "filled from the day before");
        assert_eq!(spring.total("Mail"), 24.0 * 600.0);
        let autumn = load_days(&s, &host, date(2026, 10, 25), date(2026, 10, 25), berlin).unwrap();
        assert_eq!(
            autumn[0].apps["Mail"][2], 1200.0,
            "the repeated hour counts twice"
        );
        assert_eq!(autumn[0].total("Mail"), 25.0 * 600.0);
        assert_eq!(autumn[0].uncollected_hours(), 0);
    }

    #[test]
    fn unwatched_hours_are_filled_from_earlier_days_and_flagged() {
        let utc: Tz = "UTC".parse().unwrap();
        let (_d, mut s) = store();
        let start = |d: NaiveDate| crate::store::local_day_bounds(d, utc).start;
        // Two full days at 1 and 3 bytes a minute, then a day watched only
        // 00:00–12:00 at 100 bytes a minute.
        s.write(&ticks(start(date(2026, 7, 1)), 1440, &[("Slack", 1)]))
            .unwrap();
        s.write(&ticks(
            start(date(2026, 7, 2)),
            1440,
            &[("Slack", 3), ("Zoom", 6)],
        ))
        .unwrap();
        s.write(&ticks(start(date(2026, 7, 3)), 720, &[("Slack", 100)]))
            .unwrap();
        let days = load_days(
            &s,
            &HostFilter::All,
            date(2026, 7, 1),
            date(2026, 7, 3),
            utc,
        )
        .unwrap();
        assert_eq!(days.len(), 3);
        let d3 = &days[2];
        assert_eq!(d3.uncollected_hours(), 12);
        assert!(!d3.uncollected[11] && d3.uncollected[12] && d3.uncollected[23]);
        assert_eq!(d3.apps["Slack"][11], 6000.0, "watched hours are kept");
        assert_eq!(
            d3.apps["Slack"][12],
            (60.0 + 180.0) / 2.0,
            "mean of the days before"
        );
        assert_eq!(
            d3.apps["Zoom"][20],
            360.0 / 2.0,
            "an app absent one day counts 0"
        );
        // The first day has nothing before it: its hours are all real.
        assert_eq!(days[0].uncollected_hours(), 0);
    }

    #[test]
    fn a_day_never_watched_is_all_uncollected() {
        let utc: Tz = "UTC".parse().unwrap();
        let (_d, s) = store();
        let days = load_days(
            &s,
            &HostFilter::All,
            date(2026, 7, 1),
            date(2026, 7, 1),
            utc,
        )
        .unwrap();
        assert_eq!(days[0].uncollected_hours(), 24);
        assert!(days[0].apps.is_empty());
    }

    fn day(apps: &[(&str, f64)]) -> DayUsage {
        DayUsage::complete(
            date(2026, 7, 1),
            apps.iter().map(|(a, v)| (a.to_string(), hours(*v))),
        )
    }

    #[test]
    fn top_k_by_volume_with_ties_by_name_and_an_other_column() {
        let a = day(&[
            ("Zoom", 5.0),
            ("Slack", 1.0),
            ("Mail", 1.0),
            ("Netflix", 9.0),
        ]);
        let b = day(&[("Zoom", 5.0), ("Slack", 2.0), ("Mail", 3.0), ("Tiny", 0.1)]);
        let c = Columns::choose(&[&a, &b], 2, &[], true);
        assert_eq!(c.names, vec!["Zoom", "Netflix", OTHER]);
        // Ties are broken by name, whatever the order seen.
        let t = Columns::choose(
            &[&day(&[("B", 1.0), ("A", 1.0), ("C", 1.0)])],
            2,
            &[],
            false,
        );
        assert_eq!(t.names, vec!["A", "B"]);
        let m = c.matrix(&b);
        assert_eq!(m.cells.len(), 3 * 24);
        assert_eq!(m.cell(0, 5), 5.0);
        assert_eq!(m.cell(1, 5), 0.0, "Netflix silent that day");
        assert!((m.cell(2, 5) - 5.1).abs() < 1e-9, "Slack + Mail + Tiny");
    }

    #[test]
    fn an_app_never_in_the_top_k_is_seen_in_the_other_column() {
        let base = day(&[("Zoom", 5.0), ("Slack", 1.0)]);
        let mut test = day(&[("Zoom", 5.0), ("Slack", 1.0)]);
        let mut burst = [0.0; 24];
        burst[12] = 30e9;
        test.apps.insert("Backup".into(), burst);
        let with = Columns::choose(&[&base], 1, &[], true);
        assert_eq!(with.matrix(&test).cell(1, 12), 30e9 + 1.0);
        let without = Columns::choose(&[&base], 1, &[], false);
        assert!(without.matrix(&test).cells.iter().all(|v| *v < 10.0));
    }

    #[test]
    fn grouped_apps_share_one_column() {
        let d = day(&[("Safari", 2.0), ("Google Chrome", 3.0), ("Slack", 1.0)]);
        let c = Columns::choose(&[&d], 5, &[browsers()], true);
        assert_eq!(c.names, vec!["Web browsers", "Slack", OTHER]);
        assert_eq!(c.matrix(&d).cell(0, 0), 5.0);
    }
}
