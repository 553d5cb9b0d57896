//! Judging days end to end, through a real SQLite store.

use super::*;
use crate::human::DataSize;
use crate::intel::baseline::DayKind;
use crate::intel::detector::ModelKind;
use crate::intel::record::*;
use crate::intel::routine::ChangedBy;
use crate::intel::verdict::{Status, Verdict};
use crate::store::sqlite::SqliteStore;
use crate::store::TickWriter;
use crate::store::VerdictStore;
use crate::synth::{Generator, Scenario};
use crate::tick::Tick;
use chrono::Duration;

const HOST: &str = "h";

fn utc() -> Tz {
    "UTC".parse().unwrap()
}

fn date(m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, m, d).unwrap()
}

/// One hour-long tick per watched hour of a synthetic day.
fn write_day(s: &mut SqliteStore, day: NaiveDate, scenario: Scenario, skip: &[u32]) {
    let apps = Generator::new(day.to_string().len() as u64 * 1000 + day.ordinal() as u64)
        .scenario_day(day, scenario);
    let start = crate::store::local_day_bounds(day, utc()).start;
    let ticks: Vec<Tick> = (0..24u32)
        .filter(|h| !skip.contains(h))
        .map(|h| {
            Tick::from_totals(
                HOST,
                start + Duration::hours(i64::from(h)),
                3600,
                apps.iter()
                    .map(|(a, v)| (a.clone(), (v[h as usize] as u64, 0))),
            )
        })
        .collect();
    s.write(&ticks).unwrap();
}

use chrono::Datelike;

fn config() -> IntelConfig {
    IntelConfig {
        epochs: 60,
        ..IntelConfig::default()
    }
}

/// A synthetic normal day with (app, hour, bytes) added.
fn write_day_with(
    s: &mut SqliteStore,
    day: NaiveDate,
    extra: &[(&str, std::ops::Range<usize>, f64)],
) {
    let mut apps = Generator::new(day.to_string().len() as u64 * 1000 + day.ordinal() as u64)
        .scenario_day(day, Scenario::Normal);
    for (app, hours, bytes) in extra {
        let i = match apps.iter().position(|(a, _)| a == app) {
            Some(i) => i,
            None => {
                apps.push((app.to_string(), [0.0; 24]));
                apps.len() - 1
            }
        };
        for h in hours.clone() {
            apps[i].1[h] += bytes;
        }
    }
    let start = crate::store::local_day_bounds(day, utc()).start;
    let ticks: Vec<Tick> = (0..24usize)
        .map(|h| {
            Tick::from_totals(
                HOST,
                start + Duration::hours(h as i64),
                3600,
                apps.iter().map(|(a, v)| (a.clone(), (v[h] as u64, 0))),
            )
        })
        .collect();
    s.write(&ticks).unwrap();
}

#[test]
fn a_day_marked_normal_does_not_blind_the_detector() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
    // Four weeks from Mon 1 Jun; Thu 25 Jun an all-day workshop (2 GB
    // of video an hour, 09:00-17:00); Mon 29 Jun a 2 GB upload at 03:00.
    for i in 0..28 {
        let day = date(6, 1) + Duration::days(i);
        if day == date(6, 25) {
            write_day_with(&mut s, day, &[("zoom.us", 9..17, 2e9)]);
        } else {
            write_day_with(&mut s, day, &[]);
        }
    }
    write_day_with(&mut s, date(6, 29), &[("Dropbox", 3..4, 2e9)]);
    let cfg = config();
    let now = Utc::now();
    let workshop = judge_and_store(&mut s, HOST, date(6, 25), utc(), &cfg, now).unwrap();
    assert_eq!(workshop.status, Status::Anomalous);
    let before = judge(&s, HOST, date(6, 29), utc(), &cfg).unwrap();
    assert_eq!(
        before.verdict.status,
        Status::Anomalous,
        "{:?}",
        before.verdict
    );

    assert!(s.mark_normal(HOST, date(6, 25)).unwrap());
    let after = judge(&s, HOST, date(6, 29), utc(), &cfg).unwrap();
    assert!(
        after.verdict.baseline.contains(&date(6, 25)),
        "learnt from again"
    );
    assert_eq!(
        after.verdict.status,
        Status::Anomalous,
        "{:?}",
        after.verdict
    );
    let (t0, t1) = (
        before.verdict.threshold.unwrap(),
        after.verdict.threshold.unwrap(),
    );
    // The marked day's own error is far beyond the others'; the
    // threshold moves only to the fence.
    let errors = &after.detector.as_ref().unwrap().meta.baseline_errors;
    let worst = errors.iter().copied().fold(0.0, f64::max);
    assert!(
        worst * cfg.threshold_factor > 3.0 * t1,
        "worst {worst}, threshold {t1}"
    );
    assert!(t1 < 3.0 * t0, "threshold {t0} -> {t1}");
}

/// A synthetic normal day with Google Chrome's evening of video
/// (19:00-23:00, 1.5 GB down and ~30 MB up an hour) and `sent` more
/// bytes up at 20:00.
fn write_evening(s: &mut SqliteStore, day: NaiveDate, sent: u64) {
    let apps = Generator::new(day.ordinal() as u64).scenario_day(day, Scenario::Normal);
    let start = crate::store::local_day_bounds(day, utc()).start;
    let ticks: Vec<Tick> = (0..24usize)
        .map(|h| {
            let mut all: Vec<(String, (u64, u64))> = apps
                .iter()
                .filter(|(a, _)| a != "Google Chrome")
                .map(|(a, v)| (a.clone(), (v[h] as u64, 0)))
                .collect();
            if (19..23).contains(&h) {
                let up = 30_000_000 + (day.ordinal() as u64 % 7) * 1_000_000;
                all.push((
                    "Google Chrome".into(),
                    (1_500_000_000, up + if h == 20 { sent } else { 0 }),
                ));
            }
            Tick::from_totals(HOST, start + Duration::hours(h as i64), 3600, all)
        })
        .collect();
    s.write(&ticks).unwrap();
}

#[test]
fn an_upload_in_a_busy_hour_is_flagged_and_called_an_upload() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
    for i in 0..28 {
        write_evening(&mut s, date(6, 1) + Duration::days(i), 0);
    }
    write_evening(&mut s, date(6, 29), 2_000_000_000);
    write_evening(&mut s, date(6, 30), 0);
    let cfg = config();
    let leak = judge(&s, HOST, date(6, 29), utc(), &cfg).unwrap().verdict;
    assert_eq!(leak.status, Status::Anomalous, "{leak:?}");
    let first = &leak.explanation[0];
    assert_eq!(
        (
            first.app.as_str(),
            first.from_hour,
            first.to_hour,
            first.direction
        ),
        (
            "Google Chrome",
            20,
            21,
            Some(crate::intel::verdict::Direction::Upload)
        ),
        "{leak:?}"
    );
    assert!(
        leak.summary
            .contains("Google Chrome 20:00–21:00, uploaded 2.0 GB"),
        "{}",
        leak.summary
    );
    let json = serde_json::to_value(&leak).unwrap();
    assert_eq!(json["explanation"][0]["direction"], "upload");
    let usual = judge(&s, HOST, date(6, 30), utc(), &cfg).unwrap().verdict;
    assert_eq!(usual.status, Status::Normal, "{usual:?}");
    assert!(serde_json::to_value(&usual).unwrap()["explanation"]
        .as_array()
        .unwrap()
        .is_empty());
}

/// A near-idle machine: a little mail every hour, a little browsing in
/// office hours; `extra` adds (app, hour, bytes) to the day.
fn write_quiet_day(s: &mut SqliteStore, day: NaiveDate, extra: &[(&str, u32, u64)]) {
    let start = crate::store::local_day_bounds(day, utc()).start;
    let wobble = |h: u32| 1.0 + f64::from((day.ordinal() * 7 + h) % 5) / 10.0;
    let ticks: Vec<Tick> = (0..24u32)
        .map(|h| {
            let mut apps = vec![("Mail".to_string(), ((300_000.0 * wobble(h)) as u64, 0))];
            if (9..17).contains(&h) {
                apps.push(("Safari".to_string(), ((2e6 * wobble(h)) as u64, 0)));
            }
            for (app, hour, bytes) in extra {
                if *hour == h {
                    apps.push((app.to_string(), (*bytes, 0)));
                }
            }
            Tick::from_totals(HOST, start + Duration::hours(i64::from(h)), 3600, apps)
        })
        .collect();
    s.write(&ticks).unwrap();
}

#[test]
fn a_change_of_tens_of_megabytes_on_a_quiet_machine_is_no_alarm() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
    let first = date(6, 1);
    for i in 0..21 {
        write_quiet_day(&mut s, first + Duration::days(i), &[]);
    }
    // Mon 22 Jun: 60 MB of browsing at 21:00. Tue 23 Jun: 2 GB at 03:00.
    write_quiet_day(&mut s, date(6, 22), &[("Safari", 21, 60_000_000)]);
    write_quiet_day(&mut s, date(6, 23), &[("Safari", 3, 2_000_000_000)]);
    let cfg = config();

    let small = judge(&s, HOST, date(6, 22), utc(), &cfg).unwrap().verdict;
    assert_eq!(small.status, Status::Normal, "{small:?}");
    assert!(
        small.error > small.threshold,
        "the model itself flags it: {small:?}"
    );
    assert!(
        small
            .summary
            .contains("more than the typical day (an alarm needs 200 MB)"),
        "{}",
        small.summary
    );
    // Without the floor the same day is an alarm.
    let no_floor = IntelConfig {
        min_change_bytes: DataSize(0),
        ..config()
    };
    let flagged = judge(&s, HOST, date(6, 22), utc(), &no_floor)
        .unwrap()
        .verdict;
    assert_eq!(flagged.status, Status::Anomalous);

    let big = judge(&s, HOST, date(6, 23), utc(), &cfg).unwrap().verdict;
    assert_eq!(big.status, Status::Anomalous, "{big:?}");
    assert_eq!(big.explanation[0].app, "Safari", "{big:?}");
}

#[test]
fn learning_then_judged_and_anomalous_days_stay_out_of_baselines() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
    // 2026-06-01 is a Monday: four weeks of normal days, then one with
    // films all night (Mon 29 Jun) and a normal Tuesday.
    let first = date(6, 1);
    for i in 0..28 {
        write_day(&mut s, first + Duration::days(i), Scenario::Normal, &[]);
    }
    write_day(&mut s, date(6, 29), Scenario::StreamingAllNight, &[]);
    write_day(&mut s, date(6, 30), Scenario::Normal, &[]);
    write_day(&mut s, date(7, 1), Scenario::Normal, &[1, 2, 3, 4, 5]);
    let cfg = config();
    let now = Utc::now();

    let early = judge_and_store(&mut s, HOST, date(6, 5), utc(), &cfg, now).unwrap();
    assert_eq!(early.status, Status::Learning);
    assert_eq!(early.summary, "Fri 5 Jun: learning, 4 of 7 days");

    let bad = judge_and_store(&mut s, HOST, date(6, 29), utc(), &cfg, now).unwrap();
    assert_eq!(bad.status, Status::Anomalous, "{bad:?}");
    assert_eq!(bad.baseline_days, 14);
    let first_run = &bad.explanation[0];
    assert_eq!(first_run.app, "Netflix", "{bad:?}");
    assert_eq!((first_run.from_hour, first_run.to_hour), (0, 7), "{bad:?}");
    assert!(
        bad.summary.starts_with("Mon 29 Jun: Netflix 00:00–07:00, "),
        "{}",
        bad.summary
    );
    // The saved model re-judges the day the same way.
    let record = s.verdict(HOST, date(6, 29)).unwrap().unwrap();
    let again = recheck(&s, &record, utc()).unwrap().unwrap();
    assert_eq!(Some(again.error), bad.error);
    assert_eq!(parse_verdict(&record).unwrap(), bad);

    let next = judge_and_store(&mut s, HOST, date(6, 30), utc(), &cfg, now).unwrap();
    assert_eq!(next.status, Status::Normal, "{next:?}");
    assert!(
        !next.baseline.contains(&date(6, 29)),
        "the anomalous day is left out"
    );
    assert!(s.mark_normal(HOST, date(6, 29)).unwrap());
    let next = judge(&s, HOST, date(6, 30), utc(), &cfg).unwrap().verdict;
    assert!(
        next.baseline.contains(&date(6, 29)),
        "marked normal: used again"
    );

    let gappy = judge(&s, HOST, date(7, 1), utc(), &cfg).unwrap().verdict;
    assert_eq!(gappy.status, Status::InsufficientData);
    assert_eq!(gappy.uncollected_hours, 5);
    let lenient = IntelConfig {
        max_uncollected_hours: 6,
        ..config()
    };
    let filled = judge(&s, HOST, date(7, 1), utc(), &lenient)
        .unwrap()
        .verdict;
    assert_eq!(
        filled.status,
        Status::Normal,
        "gaps are filled, not read as quiet: {filled:?}"
    );
}

#[test]
fn a_lasting_change_is_learnt_with_one_notice_and_a_one_off_day_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
    // Four weeks of the old routine from Mon 1 Jun; from Mon 29 Jun a
    // new video-call app every workday, 11:00-13:00 (800 MB an hour);
    // Thu 9 Jul also a 20 GB burst at 03:00 (a one-off).
    for i in 0..28 {
        write_day_with(&mut s, date(6, 1) + Duration::days(i), &[]);
    }
    let teams = ("Microsoft Teams", 11..13, 8e8);
    let mut day = date(6, 29);
    while day <= date(7, 14) {
        match (day == date(7, 9), day.weekday().number_from_monday() <= 5) {
            (true, _) => write_day_with(&mut s, day, &[teams.clone(), ("Dropbox", 3..4, 2e10)]),
            (false, true) => write_day_with(&mut s, day, std::slice::from_ref(&teams)),
            (false, false) => write_day_with(&mut s, day, &[]),
        }
        day += Duration::days(1);
    }
    let cfg = config();
    let now = Utc::now();
    let mut verdicts = Vec::new();
    let mut day = date(6, 29);
    while day <= date(7, 14) {
        verdicts.push(judge_and_store(&mut s, HOST, day, utc(), &cfg, now).unwrap());
        day += Duration::days(1);
    }
    let alarms: Vec<NaiveDate> = verdicts
        .iter()
        .filter(|v| v.status == Status::Anomalous)
        .map(|v| v.day)
        .collect();
    assert_eq!(
        alarms,
        vec![date(6, 29), date(6, 30), date(7, 9)],
        "{:#?}",
        verdicts.iter().map(|v| &v.summary).collect::<Vec<_>>()
    );
    let notices: Vec<_> = verdicts.iter().filter_map(Verdict::notice).collect();
    let changed: Vec<&str> = notices
        .iter()
        .filter(|n| n.title == crate::intel::verdict::ROUTINE_TITLE)
        .map(|n| n.body.as_str())
        .collect();
    assert_eq!(
        changed,
        vec!["Wed 1 Jul: Your weekdays look different since Mon 29 Jun; learning the new rhythm"]
    );
    // The burst stays out of the baselines after it; the new routine's
    // first days are in them.
    let fri = verdicts.iter().find(|v| v.day == date(7, 10)).unwrap();
    assert!(!fri.baseline.contains(&date(7, 9)), "{fri:?}");
    assert_eq!(fri.baseline.first(), Some(&date(6, 29)), "{fri:?}");
    // Days off kept their own baseline.
    let sun = verdicts.iter().find(|v| v.day == date(7, 12)).unwrap();
    assert!(sun.baseline.contains(&date(6, 28)), "{sun:?}");
}

#[test]
fn a_public_holiday_is_a_day_off_and_joins_the_days_off() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
    for i in 0..42 {
        let day = date(6, 1) + Duration::days(i);
        if day == date(7, 8) {
            // Wed 8 Jul: a holiday, spent as a Sunday is.
            let mut gen = Generator::new(77);
            let names: Vec<String> = gen.habits.iter().map(|h| h.app.to_string()).collect();
            let hours = gen.hours_as(false);
            let start = crate::store::local_day_bounds(day, utc()).start;
            let ticks: Vec<Tick> = (0..24usize)
                .map(|h| {
                    Tick::from_totals(
                        HOST,
                        start + Duration::hours(h as i64),
                        3600,
                        names
                            .iter()
                            .zip(&hours)
                            .map(|(a, v)| (a.clone(), (v[h] as u64, 0))),
                    )
                })
                .collect();
            s.write(&ticks).unwrap();
        } else {
            write_day_with(&mut s, day, &[]);
        }
    }
    let cfg = config();
    let now = Utc::now();
    let holiday = judge_and_store(&mut s, HOST, date(7, 8), utc(), &cfg, now).unwrap();
    assert_eq!(holiday.status, Status::Normal, "{holiday:?}");
    assert_eq!(holiday.day_kind, DayKind::DayOff);
    assert_eq!(holiday.summary, "Wed 8 Jul: normal for a day off");
    let thu = judge(&s, HOST, date(7, 9), utc(), &cfg).unwrap().verdict;
    assert!(!thu.baseline.contains(&date(7, 8)), "{thu:?}");
    let sun = judge(&s, HOST, date(7, 12), utc(), &cfg).unwrap().verdict;
    assert!(sun.baseline.contains(&date(7, 8)), "{sun:?}");
    // Films all day on a workday are unusual as a day off too.
    write_day_with(&mut s, date(7, 13), &[("Netflix", 9..17, 1.5e9)]);
    let films = judge(&s, HOST, date(7, 13), utc(), &cfg).unwrap().verdict;
    assert_eq!(
        (films.status, films.day_kind),
        (Status::Anomalous, DayKind::Workday)
    );
}

#[test]
fn unrelated_unusual_days_in_a_row_are_no_new_routine() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
    for i in 0..28 {
        write_day_with(&mut s, date(6, 1) + Duration::days(i), &[]);
    }
    // Mon-Wed: a burst at 03:00, films all night, films at work.
    write_day_with(&mut s, date(6, 29), &[("Dropbox", 3..4, 2e10)]);
    write_day_with(&mut s, date(6, 30), &[("Netflix", 0..7, 1.5e9)]);
    write_day_with(&mut s, date(7, 1), &[("Netflix", 9..17, 1.5e9)]);
    let cfg = config();
    let now = Utc::now();
    for day in [date(6, 29), date(6, 30), date(7, 1)] {
        let v = judge_and_store(&mut s, HOST, day, utc(), &cfg, now).unwrap();
        assert_eq!(v.status, Status::Anomalous, "{v:?}");
        assert!(v.routine.is_none());
    }
}

#[test]
fn a_new_normal_from_a_day_rebaselines_every_kind_of_day() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
    for i in 0..28 {
        write_day_with(&mut s, date(6, 1) + Duration::days(i), &[]);
    }
    // A move: from Mon 29 Jun a NAS syncs all evening, every day.
    for i in 0..7 {
        write_day_with(
            &mut s,
            date(6, 29) + Duration::days(i),
            &[("Synology Drive", 18..23, 1e9)],
        );
    }
    let cfg = config();
    let now = Utc::now();
    let first = judge_and_store(&mut s, HOST, date(6, 29), utc(), &cfg, now).unwrap();
    assert_eq!(first.status, Status::Anomalous);
    let err = new_normal(&mut s, HOST, date(7, 2))
        .unwrap_err()
        .to_string();
    assert!(err.contains("2026-07-02 has not been judged"), "{err}");

    assert_eq!(new_normal(&mut s, HOST, date(6, 29)).unwrap(), 1);
    let record = s.verdict(HOST, date(6, 29)).unwrap().unwrap();
    assert!(record.marked_normal);
    // Too few days of the new normal yet: learning, not an alarm.
    let tue = judge_and_store(&mut s, HOST, date(6, 30), utc(), &cfg, now).unwrap();
    assert_eq!(tue.status, Status::Learning, "{tue:?}");
    assert_eq!(tue.baseline, vec![date(6, 29)]);
    assert_eq!(
        tue.summary,
        "Tue 30 Jun: learning the new rhythm, 1 of 3 days"
    );
    let mut day = date(7, 1);
    while day <= date(7, 5) {
        judge_and_store(&mut s, HOST, day, utc(), &cfg, now).unwrap();
        day += Duration::days(1);
    }
    // Sun 5 Jul: the baseline of days off starts on the new normal too.
    let sun = s.verdict(HOST, date(7, 5)).unwrap().unwrap();
    let sun = parse_verdict(&sun).unwrap();
    assert!(sun.baseline.iter().all(|d| *d >= date(6, 29)), "{sun:?}");
    assert_ne!(sun.status, Status::Anomalous, "{sun:?}");
    // Every later verdict, judged before the owner said so, is marked.
    assert_eq!(new_normal(&mut s, HOST, date(6, 29)).unwrap(), 7);
    // Judged again, the day keeps the owner's word.
    let again = judge_and_store(&mut s, HOST, date(6, 29), utc(), &cfg, now).unwrap();
    assert_eq!(again.routine.map(|r| r.by), Some(ChangedBy::Owner));
    let tue = judge(&s, HOST, date(6, 30), utc(), &cfg).unwrap().verdict;
    assert_eq!(tue.baseline, vec![date(6, 29)]);
}

/// Per-minute ticks of a synthetic day in `tz`, up to `until`, with
/// (app, local hour, bytes) added.
fn write_local_day(
    s: &mut SqliteStore,
    day: NaiveDate,
    tz: Tz,
    until: Option<DateTime<Utc>>,
    extra: &[(&str, u8, u64)],
) {
    let mut ticks = Generator::new(u64::from(day.ordinal())).day_ticks(HOST, day, tz, until);
    for (app, hour, bytes) in extra {
        let at = ticks
            .iter()
            .position(|t| crate::store::timeline::local_day_hour(t.at, tz).1 == *hour)
            .unwrap();
        let t = &ticks[at];
        let mut apps: Vec<(String, (u64, u64))> = t
            .apps
            .iter()
            .map(|a| (a.app.clone(), (a.bytes_in, a.bytes_out)))
            .collect();
        apps.push((app.to_string(), (*bytes, 0)));
        ticks[at] = Tick::from_totals(HOST, t.at, t.interval_s, apps);
    }
    s.write(&ticks).unwrap();
}

fn local(tz: Tz, y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    use chrono::TimeZone;
    tz.with_ymd_and_hms(y, m, d, h, min, 0)
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn the_hours_so_far_are_judged_and_a_3am_burst_is_known_at_4() {
    let tz: Tz = "Europe/Berlin".parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
    for i in 0..28 {
        write_local_day(&mut s, date(6, 1) + Duration::days(i), tz, None, &[]);
    }
    // Mon 29 Jun, watched until 04:10: a 20 GB download at 03:00.
    let now = local(tz, 2026, 6, 29, 4, 10);
    write_local_day(
        &mut s,
        date(6, 29),
        tz,
        Some(now),
        &[("Transmission", 3, 20_000_000_000)],
    );
    let cfg = config();
    let v = judge_so_far(&s, HOST, now, tz, &cfg)
        .unwrap()
        .unwrap()
        .verdict;
    assert_eq!(v.status, Status::Anomalous, "{v:?}");
    assert_eq!(v.hours_judged, Some(4));
    assert_eq!(v.uncollected_hours, 0, "hours to come are not gaps");
    assert_eq!(v.explanation[0].app, "Transmission", "{v:?}");
    assert_eq!(
        (v.explanation[0].from_hour, v.explanation[0].to_hour),
        (3, 4)
    );
    assert!(
        v.summary
            .starts_with("Mon 29 Jun until 04:00: new app Transmission 03:00–04:00"),
        "never seen before, so told as new: {}",
        v.summary
    );
    assert_eq!(v.notice().unwrap().title, "Unusual network use today");
    // Before the burst the same day is normal so far; so is an
    // ordinary Tuesday at 15:00 (its evening, not yet come, is not
    // missed).
    let early = judge_so_far(&s, HOST, local(tz, 2026, 6, 29, 3, 0), tz, &cfg)
        .unwrap()
        .unwrap()
        .verdict;
    assert_eq!(early.status, Status::Normal, "{early:?}");
    let tue_now = local(tz, 2026, 6, 30, 15, 5);
    write_local_day(&mut s, date(6, 30), tz, Some(tue_now), &[]);
    let tue = judge_so_far(&s, HOST, tue_now, tz, &cfg)
        .unwrap()
        .unwrap()
        .verdict;
    assert_eq!(
        (tue.status, tue.hours_judged),
        (Status::Normal, Some(15)),
        "{tue:?}"
    );
    // In the day's first hour there is nothing to judge yet.
    assert!(
        judge_so_far(&s, HOST, local(tz, 2026, 6, 30, 0, 40), tz, &cfg)
            .unwrap()
            .is_none()
    );
}

#[test]
fn the_hours_so_far_of_dst_days_are_the_local_hours_that_have_ended() {
    let tz: Tz = "Europe/Berlin".parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
    let cfg = config();
    // Spring: Sun 29 Mar 2026 has no 02:00. Fall: Sun 25 Oct 2026 has
    // two. Eight weeks of days before each.
    for (sunday, burst_hour) in [(date(3, 29), 3u8), (date(10, 25), 4u8)] {
        let mut day = sunday - Duration::days(56);
        while day < sunday {
            write_local_day(&mut s, day, tz, None, &[]);
            day += Duration::days(1);
        }
        let (y, m, d) = (sunday.year(), sunday.month(), sunday.day());
        let now = local(tz, y, m, d, u32::from(burst_hour) + 1, 20);
        write_local_day(
            &mut s,
            sunday,
            tz,
            Some(now),
            &[("Transmission", burst_hour, 20_000_000_000)],
        );
        let v = judge_so_far(&s, HOST, now, tz, &cfg)
            .unwrap()
            .unwrap()
            .verdict;
        assert_eq!(v.hours_judged, Some(burst_hour + 1), "{v:?}");
        assert_eq!(v.uncollected_hours, 0, "{sunday}: {v:?}");
        assert_eq!(v.status, Status::Anomalous, "{sunday}: {v:?}");
        assert_eq!(v.explanation[0].app, "Transmission", "{v:?}");
        assert_eq!(v.explanation[0].from_hour, burst_hour, "{v:?}");
        // The hour before the burst: normal so far (at fall-back, in
        // the second 02:00 hour, hours 0-1 have ended).
        let before = local(tz, y, m, d, u32::from(burst_hour), 10);
        let b = judge_so_far(&s, HOST, before, tz, &cfg)
            .unwrap()
            .unwrap()
            .verdict;
        assert_eq!(
            (b.status, b.hours_judged),
            (Status::Normal, Some(burst_hour)),
            "{b:?}"
        );
    }
}

#[test]
fn the_original_model_has_exactly_120_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
    for i in 0..12 {
        write_day(
            &mut s,
            date(6, 1) + Duration::days(i),
            Scenario::Normal,
            &[],
        );
    }
    let cfg = IntelConfig {
        model: ModelKind::Original,
        epochs: 5,
        ..IntelConfig::default()
    };
    let j = judge(&s, HOST, date(6, 12), utc(), &cfg).unwrap();
    assert_eq!(j.verdict.apps.len(), 5);
    let d = j.detector.unwrap();
    assert_eq!(d.meta.columns.len() * 24, 120);
    assert!(!d
        .meta
        .columns
        .names
        .contains(&crate::intel::matrix::OTHER.to_string()));
}

#[test]
fn invalid_settings_are_refused() {
    let bad = IntelConfig {
        baseline_days: 3,
        ..IntelConfig::default()
    };
    assert!(bad.validate().unwrap_err().contains("baseline_days"));
    let bad = IntelConfig {
        nightly_at: "midnight".into(),
        ..IntelConfig::default()
    };
    assert!(bad.validate().unwrap_err().contains("nightly_at"));
    assert_eq!(
        last_complete_day(
            "2026-07-12T00:30:00Z".parse().unwrap(),
            "Europe/Berlin".parse().unwrap()
        ),
        date(7, 11)
    );
}

#[test]
fn a_browser_taking_anothers_place_is_no_news_and_a_new_app_moving_as_much_is() {
    let cfg = config();
    for mb in [100.0, 300.0, 1_000.0] {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
        let bytes = mb * 1e6;
        // Four weeks from Mon 1 Jun with Firefox busy from 18:00 to 19:00.
        for i in 0..28 {
            write_day_with(
                &mut s,
                date(6, 1) + Duration::days(i),
                &[("Firefox", 18..19, bytes)],
            );
        }
        // Mon 29 Jun Safari takes its place; Tue 30 Jun a new app does.
        write_day_with(&mut s, date(6, 29), &[("Safari", 18..19, bytes)]);
        write_day_with(&mut s, date(6, 30), &[("Transmission", 18..19, bytes)]);
        let swap = judge(&s, HOST, date(6, 29), utc(), &cfg).unwrap().verdict;
        assert_eq!(swap.status, Status::Normal, "{mb} MB: {}", swap.summary);
        let new = judge(&s, HOST, date(6, 30), utc(), &cfg).unwrap().verdict;
        if bytes < cfg.min_change_bytes.0 as f64 {
            // Under the byte floor a new app alone is no news, by design;
            // with other news on the same day it may be.
            continue;
        }
        assert_eq!(new.status, Status::Anomalous, "{mb} MB: {}", new.summary);
        let run = &new.explanation[0];
        assert_eq!(
            (run.app.as_str(), run.from_hour, run.to_hour),
            ("Transmission", 18, 19),
            "{mb} MB: {}",
            new.summary
        );
    }
}

#[test]
fn a_day_whose_hours_a_baseline_day_moved_as_much_in_is_no_alarm() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
    // Three weeks of quiet nights; one Wednesday (10 Jun) Chrome moved
    // 1.5 GB from 03:00 to 04:00 (a system update, say).
    for i in 0..21 {
        let day = date(6, 1) + Duration::days(i);
        let night = if i == 9 { 1.5e9 } else { 0.0 };
        write_day_with(&mut s, day, &[("Google Chrome", 3..4, night)]);
    }
    write_day_with(&mut s, date(6, 22), &[("Google Chrome", 3..4, 1.4e9)]);
    write_day_with(&mut s, date(6, 23), &[("Google Chrome", 3..4, 2.5e9)]);
    let cfg = config();
    let seen = judge(&s, HOST, date(6, 22), utc(), &cfg).unwrap().verdict;
    let (error, threshold) = (seen.error.unwrap(), seen.threshold.unwrap());
    assert!(error > threshold, "the model flags the night: {seen:?}");
    assert_eq!(seen.status, Status::Normal, "{}", seen.summary);
    assert_eq!(
        seen.summary,
        "Mon 22 Jun: normal; the hours that stood out moved as much on Wed 10 Jun"
    );
    assert!(!seen.quiet, "an ordinary day of the baseline");
    // More than any of them moved then is news (and no burst: under
    // three times the most).
    let beyond = judge(&s, HOST, date(6, 23), utc(), &cfg).unwrap().verdict;
    assert_eq!(beyond.status, Status::Anomalous, "{}", beyond.summary);
    assert!(
        beyond
            .summary
            .starts_with("Tue 23 Jun: Google Chrome 03:00–04:00, 2.5 GB"),
        "{}",
        beyond.summary
    );
}

#[test]
fn a_day_of_less_than_usual_is_never_an_alarm() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
    for i in 0..28 {
        write_day_with(&mut s, date(6, 1) + Duration::days(i), &[]);
    }
    // No films in the evening, and a little more browsing all day: over
    // the byte floor above typical in all, but what drove the model's
    // error is the evening that did not happen.
    let day = date(6, 29);
    let mut apps = Generator::new(day.to_string().len() as u64 * 1000 + day.ordinal() as u64)
        .scenario_day(day, Scenario::Normal);
    for (app, cells) in apps.iter_mut() {
        match app.as_str() {
            "Netflix" => cells.fill(0.0),
            "Google Chrome" => cells.iter_mut().for_each(|c| *c += 12e6),
            _ => {}
        }
    }
    let start = crate::store::local_day_bounds(day, utc()).start;
    let ticks: Vec<Tick> = (0..24usize)
        .map(|h| {
            Tick::from_totals(
                HOST,
                start + Duration::hours(h as i64),
                3600,
                apps.iter().map(|(a, v)| (a.clone(), (v[h] as u64, 0))),
            )
        })
        .collect();
    s.write(&ticks).unwrap();
    let v = judge(&s, HOST, day, utc(), &config()).unwrap().verdict;
    assert!(
        v.error.unwrap() > v.threshold.unwrap(),
        "the model sees the missing evening: {v:?}"
    );
    assert_eq!(v.status, Status::Normal, "{}", v.summary);
    assert!(v.quiet, "a quiet day: {}", v.summary);
}

/// A synthetic day whose apps' bytes each go to one address: zoom.us's
/// and Spotify's to `zoom` and `spotify`, the others' to addresses of
/// their own.
fn write_day_to(s: &mut SqliteStore, day: NaiveDate, zoom: &str, spotify: &str) {
    use crate::tick::{Destinations, Flow};
    let ticks = Generator::new(u64::from(day.ordinal())).day_ticks(HOST, day, utc(), None);
    let ticks: Vec<Tick> = ticks
        .into_iter()
        .map(|t| {
            let apps = t.apps.iter().enumerate().map(|(i, a)| {
                let addr = match a.app.as_str() {
                    "zoom.us" => zoom.to_string(),
                    "Spotify" => spotify.to_string(),
                    _ => format!("192.0.2.{}", 30 + i),
                };
                let to: Destinations =
                    [(addr.parse().unwrap(), Flow::new(a.bytes_in, a.bytes_out))].into();
                (a.app.clone(), Flow::new(a.bytes_in, a.bytes_out), to)
            });
            Tick::from_flows(HOST, t.at, t.interval_s, apps)
        })
        .collect();
    s.write(&ticks).unwrap();
}

#[test]
fn an_upload_to_a_new_destination_is_news_until_its_third_day() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
    // Four weeks from Mon 1 Jun: zoom.us meets through 192.0.2.10.
    for i in 0..28 {
        write_day_to(
            &mut s,
            date(6, 1) + Duration::days(i),
            "192.0.2.10",
            "192.0.2.20",
        );
    }
    let cfg = config();
    let judge_day = |s: &mut SqliteStore, d: NaiveDate, cfg: &IntelConfig| {
        judge_and_store(s, HOST, d, utc(), cfg, Utc::now()).unwrap()
    };
    for i in 14..28 {
        judge_day(&mut s, date(6, 1) + Duration::days(i), &cfg);
    }
    // From Mon 29 Jun its calls (the same bytes, ~290 MB sent a day) go
    // elsewhere, and so does Spotify's listening (almost all downloads).
    let mut said = Vec::new();
    for d in 29..=31 {
        let day = if d <= 30 { date(6, d) } else { date(7, 1) };
        write_day_to(&mut s, day, "198.51.100.77", "198.51.100.88");
        said.push(judge_day(&mut s, day, &cfg));
    }
    let (mon, tue, wed) = (&said[0], &said[1], &said[2]);
    assert_eq!(mon.status, Status::Anomalous, "{}", mon.summary);
    assert!(
        mon.summary.contains("new destination for zoom.us")
            && mon.summary.contains("198.51.100.77"),
        "{}",
        mon.summary
    );
    let run = mon.explanation.iter().find(|e| e.app == "zoom.us").unwrap();
    assert_eq!(run.destinations[0].destination, "198.51.100.77");
    assert!(
        !mon.summary.contains("Spotify"),
        "downloads from somewhere new are no news: {}",
        mon.summary
    );
    assert_eq!(tue.status, Status::Anomalous, "still new: {}", tue.summary);
    assert_eq!(
        wed.status,
        Status::Normal,
        "learnt on its third day: {}",
        wed.summary
    );

    // Turned off, the same Monday is an ordinary one.
    let dir = tempfile::tempdir().unwrap();
    let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
    for i in 0..28 {
        write_day_to(
            &mut s,
            date(6, 1) + Duration::days(i),
            "192.0.2.10",
            "192.0.2.20",
        );
    }
    write_day_to(&mut s, date(6, 29), "198.51.100.77", "198.51.100.88");
    let off = IntelConfig {
        novelty: false,
        ..config()
    };
    let v = judge_day(&mut s, date(6, 29), &off);
    assert_eq!(v.status, Status::Normal, "{}", v.summary);
}
