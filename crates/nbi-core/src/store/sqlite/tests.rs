//! The SQLite store through its traits, on real files.

use super::packed::{for_each_packed, pack};
use super::*;
use std::collections::BTreeMap;

use crate::store::answer;
use crate::store::timeline::local_day_bounds;
use crate::store::usage::{
    AppTotal, DailyUsage, DayCurve, HourCoverage, VerdictRecord, WriteReport,
};
use crate::store::{TickWriter, UsageQuery, VerdictStore};
use crate::tick::Tick;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};

fn record(day: NaiveDate, status: &str) -> VerdictRecord {
    VerdictRecord {
        host: "mbp".into(),
        day,
        status: status.parse().unwrap(),
        judged_at: utc(2026, 7, 12, 0, 10),
        verdict_json: format!("{{\"status\":\"{status}\"}}"),
        model: Some(vec![1, 2, 3]),
        model_meta: Some("{}".into()),
        marked_normal: false,
    }
}

#[test]
fn verdicts_are_stored_replaced_and_marked_normal() {
    let (_d, mut s) = open();
    let d1 = NaiveDate::from_ymd_opt(2026, 7, 10).unwrap();
    let d2 = NaiveDate::from_ymd_opt(2026, 7, 11).unwrap();
    assert!(s.verdict("mbp", d1).unwrap().is_none());
    assert!(!s.mark_normal("mbp", d1).unwrap(), "nothing to mark yet");
    s.put_verdict(&record(d2, "anomalous")).unwrap();
    s.put_verdict(&record(d1, "normal")).unwrap();
    let all = s.verdicts("mbp", d1, d2).unwrap();
    assert_eq!(all.iter().map(|v| v.day).collect::<Vec<_>>(), vec![d1, d2]);
    assert_eq!(all[1], record(d2, "anomalous"));
    assert!(s.mark_normal("mbp", d2).unwrap());
    // Judging the day again keeps the owner's mark.
    s.put_verdict(&record(d2, "anomalous")).unwrap();
    let v = s.verdict("mbp", d2).unwrap().unwrap();
    assert!(v.marked_normal);
    assert!(s.verdicts("other", d1, d2).unwrap().is_empty());
    let recent = s.recent_verdicts("mbp", 5).unwrap();
    assert_eq!(
        recent.iter().map(|v| v.day).collect::<Vec<_>>(),
        vec![d2, d1]
    );
    assert_eq!(s.recent_verdicts("mbp", 1).unwrap()[0].day, d2);
    assert!(s.recent_verdicts("other", 5).unwrap().is_empty());
}

#[test]
fn recent_verdicts_of_a_store_that_never_judged_are_none() {
    let (_d, s) = open();
    assert!(s.recent_verdicts("mbp", 7).unwrap().is_empty());
}

fn tz(name: &str) -> Tz {
    name.parse().unwrap()
}

fn tick(host: &str, at: DateTime<Utc>, apps: &[(&str, u64, u64)]) -> Tick {
    Tick::from_totals(
        host,
        at,
        60,
        apps.iter().map(|(a, i, o)| (a.to_string(), (*i, *o))),
    )
}

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

fn open() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("nested/nbi.sqlite")).unwrap();
    (dir, store)
}

#[test]
fn rewriting_a_batch_never_double_counts() {
    let (_d, mut s) = open();
    let batch = vec![
        tick(
            "mbp",
            utc(2026, 7, 11, 10, 0),
            &[("Slack", 100, 10), ("Safari", 5, 1)],
        ),
        tick("mbp", utc(2026, 7, 11, 10, 1), &[("Slack", 50, 5)]),
    ];
    let first = s.write(&batch).unwrap();
    assert_eq!((first.ticks_written, first.samples_written), (2, 3));
    let again = s.write(&batch).unwrap();
    assert_eq!((again.ticks_written, again.ticks_skipped), (0, 2));
    let day = NaiveDate::from_ymd_opt(2026, 7, 11).unwrap();
    let totals = s.day_totals(&HostFilter::All, day, tz("UTC")).unwrap();
    assert_eq!(
        totals,
        vec![
            AppTotal {
                app: "Slack".into(),
                bytes_in: 150,
                bytes_out: 15
            },
            AppTotal {
                app: "Safari".into(),
                bytes_in: 5,
                bytes_out: 1
            },
        ]
    );
    let sum = s.summary().unwrap();
    assert_eq!((sum.ticks, sum.samples), (2, 3));
}

#[test]
fn another_tick_at_the_same_host_and_second_is_added_and_redeliveries_are_not() {
    let (_d, mut s) = open();
    let at = utc(2026, 7, 11, 10, 0);
    let first = tick("default", at, &[("Slack", 100, 10)]);
    // Another machine writing as "default" in the same second.
    let second = tick("default", at, &[("Slack", 999, 99), ("Mail", 5, 6)]);
    s.write(std::slice::from_ref(&first)).unwrap();
    let r = s.write(std::slice::from_ref(&first)).unwrap();
    assert_eq!(
        (r.ticks_written, r.ticks_skipped, r.ticks_merged),
        (0, 1, 0)
    );
    let r = s.write(std::slice::from_ref(&second)).unwrap();
    assert_eq!(
        (
            r.ticks_written,
            r.ticks_skipped,
            r.ticks_merged,
            r.samples_written
        ),
        (0, 0, 1, 1),
        "kept, and Mail is a new sample"
    );
    // Either message again, in any order, adds nothing more.
    let r = s.write(&[second.clone(), first.clone(), second]).unwrap();
    assert_eq!((r.ticks_skipped, r.ticks_merged), (3, 0));
    let day = at.date_naive();
    let totals = s.day_totals(&HostFilter::All, day, tz("UTC")).unwrap();
    assert_eq!(
        totals,
        vec![
            AppTotal {
                app: "Slack".into(),
                bytes_in: 1099,
                bytes_out: 109
            },
            AppTotal {
                app: "Mail".into(),
                bytes_in: 5,
                bytes_out: 6
            },
        ]
    );
    let hourly = s.hourly(&HostFilter::All, day, day, tz("UTC")).unwrap();
    let slack: u64 = hourly
        .iter()
        .filter(|h| h.app == "Slack")
        .map(|h| h.bytes_in)
        .sum();
    assert_eq!(slack, 1099, "the hourly sums agree with the ticks");
    let curve = s.day_curve(&HostFilter::All, day, tz("UTC"), 1).unwrap();
    let slack_curve: u64 = curve
        .apps
        .iter()
        .filter(|a| a.app == "Slack")
        .flat_map(|a| a.bytes_in.iter())
        .sum();
    assert_eq!(slack_curve, 1099);
    let cov = s.coverage(&HostFilter::All, day, day, tz("UTC")).unwrap();
    assert_eq!(cov[0].seconds, 60, "watched time is not counted twice");
    let summary = s.summary().unwrap();
    assert_eq!((summary.samples, summary.merged_ticks), (2, 1));
}

#[test]
fn packed_samples_round_trip_and_damage_is_an_error() {
    let samples = vec![(1, 0, 0), (2, 127, 128), (300, u64::MAX >> 1, 1 << 40)];
    let blob = pack(&samples);
    let mut back = Vec::new();
    for_each_packed(&blob, |a, i, o| back.push((a, i, o))).unwrap();
    assert_eq!(back, samples);
    for cut in 1..blob.len() {
        let mut n = 0;
        let r = for_each_packed(&blob[..cut], |_, _, _| n += 1);
        // Either a clean prefix of whole triples or an error, never a panic.
        assert!(r.is_err() || n < samples.len(), "cut at {cut}");
    }
    assert!(for_each_packed(&[0xff; 11], |_, _, _| ()).is_err());

    let (_d, mut s) = open();
    let at = utc(2026, 7, 11, 10, 0);
    s.write(&[tick("h", at, &[("A", 1, 2)])]).unwrap();
    s.conn
        .execute("UPDATE ticks SET apps = x'ffff'", [])
        .unwrap();
    let err = s
        .day_curve(&HostFilter::All, at.date_naive(), tz("UTC"), 1)
        .unwrap_err();
    assert!(err.to_string().contains("damaged"), "{err}");
}

#[test]
fn hosts_are_kept_apart_and_summed_for_all() {
    let (_d, mut s) = open();
    let at = utc(2026, 7, 11, 10, 0);
    s.write(&[
        tick("a", at, &[("Slack", 1, 0)]),
        tick("b", at, &[("Slack", 2, 0)]),
    ])
    .unwrap();
    let day = at.date_naive();
    let one = s
        .day_totals(&HostFilter::One("b".into()), day, tz("UTC"))
        .unwrap();
    assert_eq!(one[0].bytes_in, 2);
    let all = s.day_totals(&HostFilter::All, day, tz("UTC")).unwrap();
    assert_eq!(all[0].bytes_in, 3);
    assert!(s
        .day_totals(&HostFilter::One("nope".into()), day, tz("UTC"))
        .unwrap()
        .is_empty());
}

#[test]
fn hourly_buckets_by_local_hour_across_dst() {
    let (_d, mut s) = open();
    let berlin = tz("Europe/Berlin");
    // 2026-10-25: 02:00–03:00 local happens twice (00:00Z and 01:00Z).
    let ticks: Vec<Tick> = (0..25)
        .map(|h| {
            tick(
                "mbp",
                utc(2026, 10, 24, 22, 0) + chrono::Duration::hours(h),
                &[("Mail", 10, 1)],
            )
        })
        .collect();
    s.write(&ticks).unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 10, 25).unwrap();
    let rows = s.hourly(&HostFilter::All, day, day, berlin).unwrap();
    assert_eq!(rows.len(), 24, "25 hours fold into 24 local hours");
    let two = rows.iter().find(|r| r.hour == 2).unwrap();
    assert_eq!(two.bytes_in, 20, "the repeated hour is summed");
    assert!(rows
        .iter()
        .filter(|r| r.hour != 2)
        .all(|r| r.bytes_in == 10));
    let cov = s.coverage(&HostFilter::All, day, day, berlin).unwrap();
    assert_eq!(cov.iter().find(|c| c.hour == 2).unwrap().seconds, 120);
    assert_eq!(cov.len(), 24);
}

#[test]
fn half_hour_zones_read_raw_samples() {
    let (_d, mut s) = open();
    let kolkata = tz("Asia/Kolkata");
    // 18:29Z and 18:31Z straddle local midnight (00:00 IST = 18:30Z).
    s.write(&[
        tick("mbp", utc(2026, 7, 10, 18, 29), &[("Slack", 7, 0)]),
        tick("mbp", utc(2026, 7, 10, 18, 31), &[("Slack", 11, 0)]),
    ])
    .unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 7, 11).unwrap();
    let totals = s.day_totals(&HostFilter::All, day, kolkata).unwrap();
    assert_eq!(totals[0].bytes_in, 11);
    let rows = s.hourly(&HostFilter::All, day, day, kolkata).unwrap();
    assert_eq!((rows[0].hour, rows[0].bytes_in), (0, 11));
}

#[test]
fn day_curve_buckets_at_the_requested_step() {
    let (_d, mut s) = open();
    s.write(&[
        tick("mbp", utc(2026, 7, 11, 0, 0), &[("Slack", 1, 2)]),
        tick("mbp", utc(2026, 7, 11, 0, 4), &[("Slack", 10, 20)]),
        tick(
            "mbp",
            utc(2026, 7, 11, 0, 5),
            &[("Slack", 100, 200), ("Music", 1000, 0)],
        ),
        tick("mbp", utc(2026, 7, 11, 23, 59), &[("Slack", 5, 5)]),
        tick("mbp", utc(2026, 7, 12, 0, 0), &[("Slack", 9999, 9999)]),
    ])
    .unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 7, 11).unwrap();
    let c = s.day_curve(&HostFilter::All, day, tz("UTC"), 5).unwrap();
    assert_eq!(c.buckets, 288);
    assert_eq!(c.apps[0].app, "Music");
    let slack = c.apps.iter().find(|a| a.app == "Slack").unwrap();
    assert_eq!(&slack.bytes_in[..2], &[11, 100]);
    assert_eq!(slack.bytes_out[287], 5);
    assert_eq!(slack.bytes_in.iter().sum::<u64>(), 116);
    assert!(s.day_curve(&HostFilter::All, day, tz("UTC"), 0).is_err());
    assert!(s.day_curve(&HostFilter::All, day, tz("UTC"), 61).is_err());
}

#[test]
fn roll_ups_give_the_same_curves_as_the_raw_samples() {
    let (_d, mut s) = open();
    let ticks: Vec<Tick> = (0..600)
        .map(|m| {
            tick(
                "mbp",
                utc(2026, 3, 28, 20, 0) + chrono::Duration::minutes(m * 7),
                &[("A", m as u64 + 1, 2), ("B", 3, m as u64 % 5)],
            )
        })
        .collect();
    s.write(&ticks).unwrap();
    for zone in [
        "Europe/Berlin",
        "UTC",
        "America/New_York",
        "Asia/Kolkata",
        "Asia/Kathmandu",
    ] {
        let day = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
        let minutes = s.day_curve(&HostFilter::All, day, tz(zone), 1).unwrap();
        for step in [5u32, 15, 60] {
            let coarse = s.day_curve(&HostFilter::All, day, tz(zone), step).unwrap();
            assert_eq!(coarse.buckets * step as usize, minutes.buckets, "{zone}");
            for (c, m) in coarse.apps.iter().zip(&minutes.apps) {
                assert_eq!(c.app, m.app);
                let folded: Vec<u64> = m
                    .bytes_in
                    .chunks(step as usize)
                    .map(|x| x.iter().sum())
                    .collect();
                assert_eq!(c.bytes_in, folded, "{zone} step {step} {}", c.app);
            }
        }
        let hours = s.hourly(&HostFilter::All, day, day, tz(zone)).unwrap();
        let total: u64 = hours.iter().map(|h| h.bytes_in).sum();
        let raw: u64 = minutes.apps.iter().flat_map(|a| &a.bytes_in).sum();
        assert_eq!(total, raw, "{zone}");
    }
}

#[test]
fn coverage_counts_ticks_without_traffic() {
    let (_d, mut s) = open();
    s.write(&[tick("mbp", utc(2026, 7, 11, 3, 0), &[])])
        .unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 7, 11).unwrap();
    let cov = s.coverage(&HostFilter::All, day, day, tz("UTC")).unwrap();
    assert_eq!(
        cov,
        vec![HourCoverage {
            day,
            hour: 3,
            seconds: 60
        }]
    );
    assert!(s
        .day_totals(&HostFilter::All, day, tz("UTC"))
        .unwrap()
        .is_empty());
}

#[test]
fn a_newer_schema_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = SqliteStore::open(&path).err().unwrap();
    assert!(err.to_string().contains("schema 99"), "{err}");
}

#[test]
fn a_failed_batch_leaves_no_trace_and_no_stale_ids() {
    let (_d, mut s) = open();
    // A trigger that fails the transaction after new names were inserted.
    s.conn
        .execute_batch(
            "CREATE TRIGGER boom BEFORE INSERT ON hourly WHEN NEW.bytes_in = 666
             BEGIN SELECT RAISE(ABORT, 'boom'); END;",
        )
        .unwrap();
    let at = utc(2026, 7, 11, 10, 0);
    assert!(s.write(&[tick("h", at, &[("Evil", 666, 0)])]).is_err());
    s.conn.execute_batch("DROP TRIGGER boom").unwrap();
    s.write(&[tick("h", at, &[("Evil", 1, 0)])]).unwrap();
    let totals = s
        .day_totals(&HostFilter::One("h".into()), at.date_naive(), tz("UTC"))
        .unwrap();
    assert_eq!(totals[0].bytes_in, 1);
}

#[test]
fn read_only_open_reads_without_writing() {
    let (d, mut s) = open();
    let at = utc(2026, 7, 11, 10, 0);
    s.write(&[tick("h", at, &[("A", 1, 0)])]).unwrap();
    let ro = SqliteStore::open_read_only(&d.path().join("nested/nbi.sqlite")).unwrap();
    assert_eq!(ro.summary().unwrap().ticks, 1);
    assert!(SqliteStore::open_read_only(&d.path().join("missing.sqlite")).is_err());
}

/// Ten days of minutes for three apps in Berlin, across the fall-back
/// night of 25 Oct 2026.
fn ten_days(s: &mut SqliteStore) -> Vec<Tick> {
    let start = utc(2026, 10, 20, 22, 0);
    let ticks: Vec<Tick> = (0..10 * 24 * 60)
        .map(|m| {
            let at = start + chrono::Duration::minutes(m);
            let k = (m % 97) as u64;
            tick(
                "h",
                at,
                &[("A", 1000 + k, 10), ("B", k * k, 1), ("C, Inc", 7, k)],
            )
        })
        .collect();
    for batch in ticks.chunks(500) {
        s.write(batch).unwrap();
    }
    ticks
}

#[test]
fn retention_keeps_every_answer_the_detector_and_history_read() {
    let tz: Tz = "Europe/Berlin".parse().unwrap();
    let (d, mut s) = open();
    s.keep_days_in(tz).unwrap();
    ten_days(&mut s);
    let host = HostFilter::One("h".into());
    let (from, to) = (
        NaiveDate::from_ymd_opt(2026, 10, 20).unwrap(),
        NaiveDate::from_ymd_opt(2026, 10, 31).unwrap(),
    );
    let before = (
        s.hourly(&host, from, to, tz).unwrap(),
        s.coverage(&host, from, to, tz).unwrap(),
        s.daily(&host, from, to, tz).unwrap(),
        s.day_curve(
            &host,
            NaiveDate::from_ymd_opt(2026, 10, 25).unwrap(),
            tz,
            60,
        )
        .unwrap(),
    );
    let size_before = s.summary().unwrap().file_bytes.unwrap();
    let cut = local_day_bounds(NaiveDate::from_ymd_opt(2026, 10, 27).unwrap(), tz).start;
    let deleted = s.prune_minutes(cut).unwrap();
    assert!(deleted > 5000, "{deleted}");
    assert_eq!(
        s.prune_minutes(cut).unwrap(),
        0,
        "pruning again deletes nothing"
    );
    let after = (
        s.hourly(&host, from, to, tz).unwrap(),
        s.coverage(&host, from, to, tz).unwrap(),
        s.daily(&host, from, to, tz).unwrap(),
        s.day_curve(
            &host,
            NaiveDate::from_ymd_opt(2026, 10, 25).unwrap(),
            tz,
            60,
        )
        .unwrap(),
    );
    assert_eq!(before, after);
    let summary = s.summary().unwrap();
    assert_eq!(summary.minute_data_from, Some(cut));
    // Six of ten days' ticks gone, and their pages given back.
    assert!(
        summary.file_bytes.unwrap() * 10 < size_before * 7,
        "{summary:?} vs {size_before}"
    );
    // A reader opened before the pruning sees it too.
    let ro = SqliteStore::open_read_only(&d.path().join("nested/nbi.sqlite")).unwrap();
    assert_eq!(ro.hourly(&host, from, to, tz).unwrap(), before.0);
    // A pruned day's quarter-hour curve comes in hours, with its bytes.
    let day = NaiveDate::from_ymd_opt(2026, 10, 25).unwrap();
    let curve = ro.day_curve(&host, day, tz, 15).unwrap();
    assert_eq!((curve.step_minutes, curve.buckets), (60, 25));
    let total = |c: &DayCurve| -> u64 {
        c.apps
            .iter()
            .flat_map(|a| a.bytes_in.iter().chain(&a.bytes_out))
            .sum()
    };
    assert_eq!(total(&curve), total(&before.3));
    // A kept day still has its minutes.
    let kept = NaiveDate::from_ymd_opt(2026, 10, 28).unwrap();
    assert_eq!(ro.day_curve(&host, kept, tz, 15).unwrap().step_minutes, 15);
}

#[test]
fn an_export_of_pruned_days_comes_in_hours_with_the_same_bytes() {
    let tz: Tz = "Europe/Berlin".parse().unwrap();
    let (_d, mut s) = open();
    let ticks = ten_days(&mut s);
    let cut = utc(2026, 10, 26, 12, 0);
    s.prune_minutes(cut).unwrap();
    let mut seen = Vec::new();
    s.for_each_tick(
        &HostFilter::All,
        utc(2026, 10, 20, 0, 0),
        utc(2026, 11, 1, 0, 0),
        &mut |t| {
            seen.push(t);
            Ok(())
        },
    )
    .unwrap();
    let sums = |ts: &[Tick]| -> BTreeMap<String, (u64, u64)> {
        let mut m = BTreeMap::new();
        for t in ts {
            for a in &t.apps {
                let e: &mut (u64, u64) = m.entry(a.app.clone()).or_default();
                e.0 += a.bytes_in;
                e.1 += a.bytes_out;
            }
        }
        m
    };
    assert_eq!(sums(&seen), sums(&ticks));
    assert!(seen.windows(2).all(|w| w[0].at < w[1].at), "in time order");
    let (hours, minutes): (Vec<&Tick>, Vec<&Tick>) = seen.iter().partition(|t| t.at < cut);
    assert!(hours.iter().all(|t| t.interval_s == 3600));
    // 20 Oct 22:00 to 26 Oct 12:00 UTC: one tick per hour.
    assert_eq!(hours.len(), 5 * 24 + 14);
    assert!(minutes.iter().all(|t| t.interval_s == 60));
    let _ = tz;
}

#[test]
fn the_daily_sums_follow_a_change_of_zone() {
    let (_d, mut s) = open();
    ten_days(&mut s);
    let host = HostFilter::All;
    let (from, to) = (
        NaiveDate::from_ymd_opt(2026, 10, 19).unwrap(),
        NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
    );
    for zone in ["Europe/Berlin", "Asia/Kolkata", "America/Los_Angeles"] {
        let tz: Tz = zone.parse().unwrap();
        s.keep_days_in(tz).unwrap();
        let from_daily = s.daily(&host, from, to, tz).unwrap();
        let from_hours = answer::daily_from_hourly(s.hourly(&host, from, to, tz).unwrap());
        assert_eq!(from_daily, from_hours, "{zone}");
        assert_eq!(s.meta(META_DAILY_ZONE).unwrap().as_deref(), Some(zone));
    }
}

#[test]
fn a_message_delivered_again_after_its_day_was_pruned_counts_once() {
    let tz: Tz = "Europe/Berlin".parse().unwrap();
    let (_d, mut s) = open();
    s.keep_days_in(tz).unwrap();
    let ticks = ten_days(&mut s);
    let host = HostFilter::One("h".into());
    let (from, to) = (
        NaiveDate::from_ymd_opt(2026, 10, 20).unwrap(),
        NaiveDate::from_ymd_opt(2026, 10, 31).unwrap(),
    );
    let before = s.daily(&host, from, to, tz).unwrap();
    let cut = utc(2026, 10, 27, 0, 0);
    assert!(s.prune_minutes(cut).unwrap() > 0);
    // The whole history again (a spool replayed, a file imported twice).
    let mut again = WriteReport::default();
    for batch in ticks.chunks(700) {
        let r = s.write(batch).unwrap();
        again.ticks_skipped += r.ticks_skipped;
        again.ticks_written += r.ticks_written;
    }
    assert_eq!((again.ticks_written, again.ticks_skipped), (0, ticks.len()));
    assert_eq!(s.daily(&host, from, to, tz).unwrap(), before);
    // Another message at a pruned key is added, once.
    let other = tick("h", ticks[0].at, &[("A", 5, 0)]);
    assert_eq!(
        s.write(std::slice::from_ref(&other)).unwrap().ticks_merged,
        1
    );
    assert_eq!(
        s.write(std::slice::from_ref(&other)).unwrap().ticks_skipped,
        1
    );
    assert_eq!(
        s.write(std::slice::from_ref(&ticks[0]))
            .unwrap()
            .ticks_skipped,
        1
    );
    let after = s.daily(&host, from, to, tz).unwrap();
    let a = |rows: &[DailyUsage]| -> u64 {
        rows.iter()
            .filter(|r| r.app == "A")
            .map(|r| r.bytes_in)
            .sum()
    };
    assert_eq!(a(&after), a(&before) + 5);
}

/// A tick of curl's bytes, part of them to two addresses.
fn tick_to(at: DateTime<Utc>, total: (u64, u64), to: &[(&str, u64, u64)]) -> Tick {
    let places = to
        .iter()
        .map(|(a, i, o)| (a.parse().unwrap(), crate::tick::Flow::new(*i, *o)))
        .collect();
    Tick::from_flows(
        "mbp",
        at,
        60,
        [(
            "curl".to_string(),
            crate::tick::Flow::new(total.0, total.1),
            places,
        )],
    )
}

fn destination_rows(s: &SqliteStore, day: NaiveDate) -> Vec<(String, String, u64, u64)> {
    s.destinations(&HostFilter::All, day, day, tz("UTC"), None)
        .unwrap()
        .into_iter()
        .map(|d| (d.app, d.address.to_string(), d.bytes_in, d.bytes_out))
        .collect()
}

#[test]
fn destinations_are_summed_once_kept_by_the_minute_and_by_the_hour() {
    let (_d, mut s) = open();
    let day = NaiveDate::from_ymd_opt(2026, 7, 11).unwrap();
    let t1 = tick_to(
        utc(2026, 7, 11, 9, 0),
        (1000, 100),
        &[("198.18.9.2", 700, 60), ("2001:db8::1", 200, 30)],
    );
    let t2 = tick_to(
        utc(2026, 7, 11, 9, 1),
        (500, 50),
        &[("198.18.9.2", 500, 50)],
    );
    s.write(&[t1.clone(), t2.clone()]).unwrap();
    // A redelivery adds nothing; another message at the same key adds.
    s.write(std::slice::from_ref(&t1)).unwrap();
    let other = tick_to(utc(2026, 7, 11, 9, 1), (40, 4), &[("198.18.9.2", 40, 4)]);
    s.write(std::slice::from_ref(&other)).unwrap();
    assert_eq!(
        destination_rows(&s, day),
        vec![
            ("curl".into(), "198.18.9.2".into(), 1240, 114),
            ("curl".into(), "2001:db8::1".into(), 200, 30),
        ]
    );
    // An export gives each tick's destinations back.
    let mut back = Vec::new();
    s.for_each_tick(
        &HostFilter::All,
        utc(2026, 7, 11, 0, 0),
        utc(2026, 7, 12, 0, 0),
        &mut |t| {
            back.push(t);
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(back.len(), 2);
    assert_eq!(back[0], t1);
    assert_eq!(back[1].apps[0].to.len(), 1);
    assert_eq!(back[1].apps[0].bytes_in, 540);
    assert_eq!(back[1].apps[0].to_sum().bytes_in, 540);
    // Once the minutes are pruned the hour carries them.
    s.prune_minutes(utc(2026, 7, 12, 0, 0)).unwrap();
    let mut hours = Vec::new();
    s.for_each_tick(
        &HostFilter::All,
        utc(2026, 7, 11, 0, 0),
        utc(2026, 7, 12, 0, 0),
        &mut |t| {
            hours.push(t);
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(hours.len(), 1);
    assert_eq!(hours[0].interval_s, 3600);
    let to: Vec<(String, u64, u64)> = hours[0].apps[0]
        .to
        .iter()
        .map(|(a, f)| (a.to_string(), f.bytes_in, f.bytes_out))
        .collect();
    assert_eq!(
        to,
        vec![
            ("198.18.9.2".into(), 1240, 114),
            ("2001:db8::1".into(), 200, 30),
        ]
    );
    assert_eq!(
        destination_rows(&s, day).len(),
        2,
        "kept like the hourly sums"
    );
    let curl_only = s
        .destinations(&HostFilter::All, day, day, tz("UTC"), Some("Slack"))
        .unwrap();
    assert!(curl_only.is_empty(), "another app has none");
}

#[test]
fn a_version_1_file_gains_the_destination_tables_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.sqlite");
    {
        let mut s = SqliteStore::open(&path).unwrap();
        s.write(&[tick("mbp", utc(2026, 7, 11, 9, 0), &[("Slack", 5, 5)])])
            .unwrap();
    }
    // As version 1 left it: none of the destination tables.
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP TABLE addresses; DROP TABLE tick_destinations; DROP TABLE destinations_hourly;
         DROP TABLE destinations_daily;
         PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(conn);
    let day = NaiveDate::from_ymd_opt(2026, 7, 11).unwrap();
    let ro = SqliteStore::open_read_only(&path).unwrap();
    assert!(
        destination_rows(&ro, day).is_empty(),
        "read-only: no tables, no rows"
    );
    drop(ro);
    let mut s = SqliteStore::open(&path).unwrap();
    s.write(&[tick_to(
        utc(2026, 7, 11, 9, 5),
        (10, 1),
        &[("192.0.2.7", 10, 1)],
    )])
    .unwrap();
    assert_eq!(
        destination_rows(&s, day),
        vec![("curl".into(), "192.0.2.7".into(), 10, 1)]
    );
    assert_eq!(
        s.day_totals(&HostFilter::All, day, tz("UTC"))
            .unwrap()
            .len(),
        2,
        "the old history is all there"
    );
}

#[test]
fn destinations_by_day_answer_as_the_hourly_sums_do_and_follow_a_change_of_zone() {
    let berlin = tz("Europe/Berlin");
    let ticks: Vec<Tick> = (0..72)
        .map(|h| {
            tick_to(
                utc(2026, 7, 10, 0, 0) + chrono::Duration::minutes(h * 53),
                (1000 + h as u64, 10),
                &[("192.0.2.7", 600, 5), ("2001:db8::9", 300 + h as u64, 5)],
            )
        })
        .collect();
    let (_d1, mut by_day) = open();
    by_day.keep_days_in(berlin).unwrap();
    by_day.write(&ticks).unwrap();
    let (_d2, mut by_hour) = open();
    by_hour.write(&ticks).unwrap();
    let (from, to) = (
        NaiveDate::from_ymd_opt(2026, 7, 10).unwrap(),
        NaiveDate::from_ymd_opt(2026, 7, 11).unwrap(),
    );
    let ask = |s: &SqliteStore, z: Tz| s.destinations(&HostFilter::All, from, to, z, None).unwrap();
    assert!(!ask(&by_hour, berlin).is_empty());
    assert_eq!(ask(&by_day, berlin), ask(&by_hour, berlin));
    // Rebuilt in another zone, from the ticks and the pruned hours.
    by_day.prune_minutes(utc(2026, 7, 11, 0, 0)).unwrap();
    let utc_zone = tz("UTC");
    by_day.keep_days_in(utc_zone).unwrap();
    assert_eq!(ask(&by_day, utc_zone), ask(&by_hour, utc_zone));
}

/// A tick of curl with `net` parts over networks.
fn tick_on(at: DateTime<Utc>, total: (u64, u64), nets: &[(&str, u64, u64)]) -> Tick {
    use crate::tick::{AppFlows, Flow, NetworkId};
    Tick::from_flows(
        "mbp",
        at,
        60,
        [AppFlows {
            app: "curl".into(),
            flow: Flow::new(total.0, total.1),
            to: Default::default(),
            net: nets
                .iter()
                .map(|(n, i, o)| (NetworkId::new(*n).unwrap(), Flow::new(*i, *o)))
                .collect(),
        }],
    )
}

fn network_days(
    s: &SqliteStore,
    from: NaiveDate,
    to: NaiveDate,
    z: Tz,
) -> Vec<(String, String, u64, u64)> {
    s.daily_networks(&HostFilter::All, from, to, z)
        .unwrap()
        .into_iter()
        .map(|d| {
            (
                d.day.to_string(),
                d.network.to_string(),
                d.bytes_in,
                d.bytes_out,
            )
        })
        .collect()
}

#[test]
fn a_version_2_file_gains_the_network_tables_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v2.sqlite");
    {
        let mut s = SqliteStore::open(&path).unwrap();
        s.write(&[tick("mbp", utc(2026, 7, 11, 9, 0), &[("Slack", 5, 5)])])
            .unwrap();
    }
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP TABLE networks; DROP TABLE tick_networks; DROP TABLE networks_hourly;
         DROP TABLE networks_daily; PRAGMA user_version = 2;",
    )
    .unwrap();
    drop(conn);
    let day = NaiveDate::from_ymd_opt(2026, 7, 11).unwrap();
    let ro = SqliteStore::open_read_only(&path).unwrap();
    assert!(ro.networks().unwrap().is_empty(), "read-only: no tables");
    assert!(network_days(&ro, day, day, tz("UTC")).is_empty());
    drop(ro);
    let mut s = SqliteStore::open(&path).unwrap();
    s.write(&[tick_on(
        utc(2026, 7, 11, 9, 5),
        (10, 1),
        &[("wifi:Home", 10, 1)],
    )])
    .unwrap();
    assert_eq!(
        network_days(&s, day, day, tz("UTC")),
        vec![("2026-07-11".into(), "wifi:Home".into(), 10, 1)]
    );
    assert_eq!(s.networks().unwrap().len(), 1);
}

#[test]
fn networks_by_day_follow_a_change_of_zone_and_outlive_their_minutes() {
    let berlin = tz("Europe/Berlin");
    let ticks: Vec<Tick> = (0..72)
        .map(|h| {
            tick_on(
                utc(2026, 7, 10, 0, 0) + chrono::Duration::minutes(h * 53),
                (1000 + h as u64, 10),
                &[("wifi:Home", 600, 5), ("cell:pdp_ip0", 300 + h as u64, 5)],
            )
        })
        .collect();
    let (_d1, mut by_day) = open();
    by_day.keep_days_in(berlin).unwrap();
    by_day.write(&ticks).unwrap();
    // A redelivery adds nothing.
    by_day.write(&ticks[..10]).unwrap();
    let (_d2, mut by_hour) = open();
    by_hour.write(&ticks).unwrap();
    let (from, to) = (
        NaiveDate::from_ymd_opt(2026, 7, 10).unwrap(),
        NaiveDate::from_ymd_opt(2026, 7, 12).unwrap(),
    );
    let want = network_days(&by_hour, from, to, berlin);
    assert!(!want.is_empty());
    assert_eq!(network_days(&by_day, from, to, berlin), want);
    let wifi: u64 = want
        .iter()
        .filter(|d| d.1 == "wifi:Home")
        .map(|d| d.2)
        .sum();
    assert_eq!(wifi, 72 * 600);
    // Minutes pruned, then days rebuilt in another zone: the same sums.
    by_day.prune_minutes(utc(2026, 7, 11, 0, 0)).unwrap();
    let utc_zone = tz("UTC");
    by_day.keep_days_in(utc_zone).unwrap();
    assert_eq!(
        network_days(&by_day, from, to, utc_zone),
        network_days(&by_hour, from, to, utc_zone)
    );
    // A pruned hour comes back as one tick of 3600 s with its networks.
    let mut first = None;
    by_day
        .for_each_tick(
            &HostFilter::All,
            utc(2026, 7, 10, 0, 0),
            utc(2026, 7, 10, 1, 0),
            &mut |t| {
                first.get_or_insert(t);
                Ok(())
            },
        )
        .unwrap();
    let first = first.expect("the first hour");
    assert_eq!(first.interval_s, 3600);
    let wifi = crate::tick::NetworkId::new("wifi:Home").unwrap();
    assert_eq!(
        first.apps[0].net.get(&wifi).map(|f| f.bytes_in),
        Some(600 * 2)
    );
}
