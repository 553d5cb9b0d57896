//! What is new: an app never seen before, or an organisation or country an
//! app never exchanged bytes with, that moves at least the byte floor in a
//! day. Behaviour analytics rank "first time seen" among the strongest
//! signals; a monitor that knows every app and destination of its owner
//! can say it plainly.
//!
//! Seen means on an earlier day of the whole stored history that the
//! judge accepted: a day judged anomalous (and not marked normal) does not
//! teach what is normal. So a new thing is new until it is learnt the way
//! a routine change is, on its third day ([`EVIDENCE_DAYS`]), or the owner
//! marks a day with it normal.
//! Apps are seen as the model sees them: a browser taking another's place
//! is not a new app.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use super::case::Case;
use crate::destination::{Named, Namer};
use crate::intel::config::IntelConfig;
use crate::intel::error::IntelError;
use crate::intel::matrix::AppView;
use crate::intel::routine::EVIDENCE_DAYS;
use crate::intel::status::Status;
use crate::intel::verdict::{Direction, Explanation, New, RunDestination};
use crate::store::{HostFilter, UsageQuery, VerdictStore};

/// The runs of what is new on `case`'s day (none when `intel.novelty` is
/// off, or nothing moved enough to be news).
///
/// # Errors
/// The store's.
pub(crate) fn find<S: UsageQuery + VerdictStore + ?Sized>(
    store: &S,
    host: &str,
    case: &Case,
    tz: chrono_tz::Tz,
    config: &IntelConfig,
) -> Result<Vec<Explanation>, IntelError> {
    if !config.novelty {
        return Ok(Vec::new());
    }
    let view = super::reading::view_of(config);
    let day = Candidates::of(case, config, &view);
    if day.apps.is_empty() && day.sent.is_empty() {
        return Ok(Vec::new());
    }
    let Some(past) = Past::of(store, host, case.day, tz)? else {
        return Ok(Vec::new());
    };
    let host = HostFilter::One(host.to_string());
    let mut runs = Vec::new();
    if !day.apps.is_empty() {
        let mut seen = Seen::default();
        for d in store.daily(&host, past.first, past.before, tz)? {
            if d.bytes_in.saturating_add(d.bytes_out) > 0 {
                seen.saw(view.label(&d.app).to_string(), d.day, &past.unaccepted);
            }
        }
        for (label, cells) in day.apps.iter().filter(|(l, _)| seen.is_new(l)) {
            runs.extend(app_run(
                label,
                cells,
                &|h| case.counts(h),
                &view,
                &case.target,
            ));
        }
    }
    if !day.sent.is_empty() {
        let seen = destinations_seen(store, &host, &past, tz, &view, &config.names)?;
        // One run per app: a new organisation in a new country is one
        // piece of news.
        let mut told = BTreeSet::new();
        for ((label, key), (bytes, named, active)) in day.sent {
            if seen.is_new(&(label.clone(), key)) && told.insert(label.clone()) {
                runs.push(destination_run(
                    &label,
                    bytes,
                    named,
                    &active,
                    &view,
                    &case.target,
                ));
            }
        }
    }
    Ok(runs)
}

/// The day's possible news: its apps (as the model sees them) and its
/// uploads per app and organisation or country, each with at least the
/// byte floor over the hours judged and watched.
struct Candidates {
    apps: Vec<(String, [f64; 24])>,
    sent: BTreeMap<(String, Key), (u64, Named, [bool; 24])>,
}

impl Candidates {
    fn of(case: &Case, config: &IntelConfig, view: &AppView) -> Candidates {
        let floor = config.min_change_bytes.0;
        let counts = |h: usize| case.counts(h);
        let apps = view
            .grouped(&case.target)
            .apps
            .into_iter()
            .filter(|(_, cells)| moved(cells, &counts) >= floor)
            .collect();
        let mut sent: BTreeMap<(String, Key), (u64, Named, [bool; 24])> = BTreeMap::new();
        for p in case.places.iter().filter(|p| counts(usize::from(p.hour))) {
            let named = config.names.name(p.address);
            if named.destination == crate::destination::LOCAL_NETWORK {
                continue;
            }
            let label = view.label(&p.app).to_string();
            for key in Key::of(&named) {
                let e = sent
                    .entry((label.clone(), key))
                    .or_insert_with(|| (0, named.clone(), [false; 24]));
                e.0 = e.0.saturating_add(p.bytes_out);
                e.2[usize::from(p.hour)] = true;
            }
        }
        sent.retain(|_, (bytes, _, _)| *bytes >= floor);
        Candidates { apps, sent }
    }
}

/// The stored history before the judged day: its first and last days, and
/// the days judged anomalous and not marked normal.
struct Past {
    first: NaiveDate,
    before: NaiveDate,
    unaccepted: BTreeSet<NaiveDate>,
}

impl Past {
    /// `None` when nothing was stored before `day` (the first day watched:
    /// everything on it would be new, and it is not judged anyway).
    fn of<S: UsageQuery + VerdictStore + ?Sized>(
        store: &S,
        host: &str,
        day: NaiveDate,
        tz: chrono_tz::Tz,
    ) -> Result<Option<Past>, IntelError> {
        let Some(first) = store
            .summary()?
            .first_tick
            .map(|t| t.with_timezone(&tz).date_naive())
        else {
            return Ok(None);
        };
        let Some(before) = day.pred_opt().filter(|d| *d >= first) else {
            return Ok(None);
        };
        let unaccepted = store
            .verdicts(host, first, before)?
            .into_iter()
            .filter(|v| v.status == Status::Anomalous && !v.marked_normal)
            .map(|v| v.day)
            .collect();
        Ok(Some(Past {
            first,
            before,
            unaccepted,
        }))
    }
}

/// What a destination is told apart by: its organisation (its address
/// where the table knows none), and its country.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Org(String),
    Country(String),
}

impl Key {
    fn of(named: &Named) -> Vec<Key> {
        let mut keys = vec![Key::Org(
            named
                .org
                .clone()
                .unwrap_or_else(|| named.address.to_string()),
        )];
        keys.extend(named.country.clone().map(Key::Country));
        keys
    }
}

/// Bytes over the hours `counts` keeps.
fn moved(cells: &[f64; 24], counts: &impl Fn(usize) -> bool) -> u64 {
    (0..24)
        .filter(|h| counts(*h))
        .map(|h| cells[h].max(0.0))
        .sum::<f64>() as u64
}

/// When each (app label, key) pair was seen: on accepted days, or on how
/// many days not accepted.
fn destinations_seen<S: UsageQuery + ?Sized>(
    store: &S,
    host: &HostFilter,
    past: &Past,
    tz: chrono_tz::Tz,
    view: &AppView,
    names: &Namer,
) -> Result<Seen<(String, Key)>, IntelError> {
    let (first, before, unaccepted) = (past.first, past.before, &past.unaccepted);
    let mut bytes: BTreeMap<(String, std::net::IpAddr), u64> = BTreeMap::new();
    for d in store.destinations(host, first, before, tz, None)? {
        *bytes.entry((d.app, d.address)).or_default() += d.bytes_in.saturating_add(d.bytes_out);
    }
    let mut seen = Seen::default();
    // What only the days not accepted moved counts apart, day by day.
    for day in unaccepted.iter().filter(|d| (first..=before).contains(*d)) {
        for d in store.destinations(host, *day, *day, tz, None)? {
            let label = view.label(&d.app).to_string();
            for key in Key::of(&names.name(d.address)) {
                seen.saw((label.clone(), key), *day, unaccepted);
            }
            if let Some(b) = bytes.get_mut(&(d.app, d.address)) {
                *b = b.saturating_sub(d.bytes_in.saturating_add(d.bytes_out));
            }
        }
    }
    for ((app, address), b) in bytes {
        if b > 0 {
            let label = view.label(&app).to_string();
            for key in Key::of(&names.name(address)) {
                seen.accepted.insert((label.clone(), key));
            }
        }
    }
    Ok(seen)
}

/// What was seen before the judged day: on a day the judge accepted, or
/// on how many days it did not.
#[derive(Debug)]
struct Seen<K: Ord> {
    accepted: BTreeSet<K>,
    unaccepted: BTreeMap<K, BTreeSet<NaiveDate>>,
}

impl<K: Ord> Default for Seen<K> {
    fn default() -> Self {
        Seen {
            accepted: BTreeSet::new(),
            unaccepted: BTreeMap::new(),
        }
    }
}

impl<K: Ord + Clone> Seen<K> {
    fn saw(&mut self, key: K, day: NaiveDate, unaccepted: &BTreeSet<NaiveDate>) {
        if unaccepted.contains(&day) {
            self.unaccepted.entry(key).or_default().insert(day);
        } else {
            self.accepted.insert(key);
        }
    }

    /// New: never on an accepted day, and on fewer days than a change of
    /// routine takes to be learnt (the judged day is the last of them).
    fn is_new(&self, key: &K) -> bool {
        !self.accepted.contains(key)
            && self.unaccepted.get(key).map_or(0, BTreeSet::len) + 1 < EVIDENCE_DAYS
    }
}

/// The run of a new app: the hours it moved bytes in, named after the app
/// a person knows.
fn app_run(
    label: &str,
    cells: &[f64; 24],
    counts: &impl Fn(usize) -> bool,
    view: &AppView,
    day: &crate::intel::matrix::DayUsage,
) -> Option<Explanation> {
    let active: Vec<usize> = (0..24).filter(|h| counts(*h) && cells[*h] > 0.0).collect();
    let (&from, &to) = (active.first()?, active.last()?);
    Some(Explanation {
        app: member_name(label, from..to + 1, view, day),
        from_hour: from as u8,
        to_hour: to as u8 + 1,
        bytes: moved(cells, counts),
        typical_bytes: 0,
        direction: None,
        destinations: Vec::new(),
        new: Some(New::App),
    })
}

/// The run of an upload to a new organisation or country.
fn destination_run(
    label: &str,
    bytes: u64,
    named: Named,
    active: &[bool; 24],
    view: &AppView,
    day: &crate::intel::matrix::DayUsage,
) -> Explanation {
    let from = active.iter().position(|a| *a).unwrap_or(0);
    let to = active.iter().rposition(|a| *a).unwrap_or(23) + 1;
    Explanation {
        app: member_name(label, from..to, view, day),
        from_hour: from as u8,
        to_hour: to as u8,
        bytes,
        typical_bytes: 0,
        direction: Some(Direction::Upload),
        destinations: vec![RunDestination {
            destination: named.destination,
            org: named.org,
            country: named.country,
            bytes_in: 0,
            bytes_out: bytes,
        }],
        new: Some(New::Destination),
    }
}

/// A group's label named after the member app that moved most in `hours`.
fn member_name(
    label: &str,
    hours: std::ops::Range<usize>,
    view: &AppView,
    day: &crate::intel::matrix::DayUsage,
) -> String {
    AppView::main_member(&day.apps, hours, |a| view.in_group(label, a))
        .unwrap_or(label)
        .to_string()
}
