//! Every door input comes in by never panics, whatever it is given: the
//! tick decoder (a line of NDJSON, a Kafka message), the file reader
//! (NDJSON and nettop CSV, with bytes that are not UTF-8 and lines of any
//! length), and the configuration loader. What the decoder accepts is
//! within a tick's bounds. The nettop parser has its own (nettop_fuzz.rs).
//!
//! Property tests with a fixed number of cases: bounded time, the same
//! inputs on every run of a build (proptest's default seed is per run; a
//! failure prints the seed to reproduce it).

use std::collections::BTreeSet;
use std::io::Write as _;

use nbi_core::config::{Config, ConfigEnv};
use nbi_core::source::replay::{CsvOptions, TickReader};
use nbi_core::tick::{bounds, Tick, TickDecoder};
use proptest::prelude::*;

/// JSON values of every kind, nested a little.
fn json() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:e}")),
        "[ -~]{0,20}".prop_map(|s| serde_json::to_string(&s).unwrap_or_default()),
        Just("18446744073709551616".to_string()),
        Just("1e400".to_string()),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec(("[a-z\"\\\\ ]{0,6}", inner), 0..4).prop_map(|kv| {
                let fields: Vec<String> = kv
                    .into_iter()
                    .map(|(k, v)| format!("{}:{v}", serde_json::to_string(&k).unwrap_or_default()))
                    .collect();
                format!("{{{}}}", fields.join(","))
            }),
        ]
    })
}

/// Messages close to a tick's: every field present or not, of the right
/// kind or another, and app usage with odd names and counts.
fn message() -> impl Strategy<Value = String> {
    let timestamp = prop_oneof![
        Just("\"2026-07-11T14:23:00Z\"".to_string()),
        Just("\"2026-07-11T14:23:00.123456\"".to_string()),
        Just("\"2026-10-25T02:30:00\"".to_string()),
        Just("\"2026-03-29T02:30:00\"".to_string()),
        Just("\"1969-12-31T23:59:59Z\"".to_string()),
        Just("\"2199-12-31T23:59:59+14:00\"".to_string()),
        Just("\"9999-12-31T23:59:59-05:00\"".to_string()),
        Just("\"+262143-12-31T23:59:59Z\"".to_string()),
        json(),
    ];
    let count = prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        (0u64..1_000_000).prop_map(|n| n.to_string()),
        json(),
    ];
    let name = prop_oneof!["[ -~]{0,12}", "\\PC{0,6}", Just(String::new())];
    let app = (name, count.clone(), count).prop_map(|(n, i, o)| {
        format!(
            "{}:{{\"in\":{i},\"out\":{o}}}",
            serde_json::to_string(&n).unwrap_or_default()
        )
    });
    (
        prop::option::of(prop_oneof![Just("1".to_string()), json()]),
        prop::option::of(json()),
        timestamp,
        prop::option::of(prop_oneof![
            (0u64..200_000).prop_map(|n| n.to_string()),
            json()
        ]),
        prop::collection::vec(app, 0..6),
    )
        .prop_map(|(schema, host, ts, interval, apps)| {
            let mut fields = Vec::new();
            if let Some(s) = schema {
                fields.push(format!("\"schema\":{s}"));
            }
            if let Some(h) = host {
                fields.push(format!("\"host\":{h}"));
            }
            fields.push(format!("\"timestamp\":{ts}"));
            if let Some(i) = interval {
                fields.push(format!("\"interval_s\":{i}"));
            }
            fields.push(format!("\"app_usage\":{{{}}}", apps.join(",")));
            format!("{{{}}}", fields.join(","))
        })
}

/// What an accepted message must be.
fn well_formed(t: &Tick) {
    assert!(t.check().is_ok(), "{t:?}");
    let names: BTreeSet<&str> = t.apps.iter().map(|a| a.app.as_str()).collect();
    assert_eq!(names.len(), t.apps.len(), "apps are unique: {t:?}");
    assert!(t.apps.iter().all(|a| a.bytes_in > 0 || a.bytes_out > 0));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn the_decoder_never_panics_and_what_it_accepts_is_bounded(text in prop_oneof![message(), json(), any::<String>()]) {
        let mut d = TickDecoder::new(chrono_tz::Europe::Berlin);
        if let Ok(t) = d.decode(&text, None) {
            well_formed(&t);
            // What it accepts, it writes back the same.
            prop_assert_eq!(Tick::from_json(&t.to_json()).ok(), Some(t));
        }
    }

    #[test]
    fn the_file_reader_never_panics_on_any_bytes(
        lines in prop::collection::vec(
            prop_oneof![
                message().prop_map(String::into_bytes),
                prop::collection::vec(any::<u8>(), 0..64),
                "[ -~,]{0,40}".prop_map(String::into_bytes),
            ],
            0..12,
        ),
        csv in any::<bool>(),
        day in 0u32..(230 * 366),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("input");
        let mut f = std::fs::File::create(&path).unwrap();
        if csv {
            f.write_all(b"time,,bytes_in,bytes_out,\n").unwrap();
        }
        for l in &lines {
            f.write_all(l).unwrap();
            f.write_all(b"\n").unwrap();
        }
        drop(f);
        let date = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
            .unwrap()
            .checked_add_days(chrono::Days::new(u64::from(day)))
            .filter(|d| *d <= chrono::NaiveDate::from_ymd_opt(2199, 12, 31).unwrap());
        let opts = CsvOptions {
            date,
            tz: chrono_tz::Pacific::Kiritimati,
            host: "h".into(),
            interval_s: 60,
            drop_first_block: false,
        };
        if let Ok(reader) = TickReader::open(&path, Some(opts)) {
            for t in reader.take(lines.len() * 4 + 8).flatten() {
                prop_assert!(t.check().is_ok(), "{:?}", t);
            }
        }
    }

    #[test]
    fn the_configuration_loader_never_panics(
        sections in prop::collection::vec(
            (
                prop_oneof![
                    Just(""), Just("[source]"), Just("[store]"), Just("[intel]"), Just("[plan]"),
                    Just("[kafka]"), Just("[influxdb]"), Just("[collector]"), Just("[ui]"),
                    Just("[[plan]]"), Just("[source.carriers]"), Just("[x"),
                ],
                prop::collection::vec(
                    (
                        prop_oneof![
                            prop::sample::select(vec![
                                "interval", "db", "limit", "billing_day", "baseline_days",
                                "top_apps", "nightly_at", "work_week", "timezone", "host",
                                "brokers", "keep_minutes_days", "min_change_bytes", "token",
                            ])
                            .prop_map(String::from),
                            "[a-z_]{1,8}",
                        ],
                        prop_oneof![
                            any::<i64>().prop_map(|n| n.to_string()),
                            "\"[ -~]{0,12}\"",
                            Just("\"50 GB\"".to_string()),
                            Just("[\"Mon\", 3]".to_string()),
                            Just("{ a = 1 }".to_string()),
                            Just("1e999".to_string()),
                            Just("\"\\u0000\"".to_string()),
                            Just("true".to_string()),
                        ],
                    ),
                    0..4,
                ),
            ),
            0..4,
        ),
        raw in "[ -~\\n]{0,40}",
    ) {
        let mut text = String::new();
        for (header, keys) in &sections {
            text.push_str(header);
            text.push('\n');
            for (k, v) in keys {
                text.push_str(&format!("{k} = {v}\n"));
            }
        }
        text.push_str(&raw);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, &text).unwrap();
        match Config::load(Some(&path), true, &ConfigEnv::from_pairs(Vec::<(String, String)>::new())) {
            Ok(c) => {
                // What loads, holds: its zone and sections check out.
                prop_assert!(c.tz().is_ok(), "{text}");
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}

#[test]
fn a_line_of_the_longest_size_is_read_and_one_byte_more_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.ndjson");
    let mut f = std::fs::File::create(&path).unwrap();
    let good = r#"{"schema":1,"host":"h","timestamp":"2026-07-11T14:23:00Z","interval_s":60,"app_usage":{"a":{"in":1,"out":1}}}"#;
    writeln!(f, "{good}").unwrap();
    f.write_all(&vec![b' '; bounds::MAX_LINE_BYTES + 1])
        .unwrap();
    writeln!(f).unwrap();
    writeln!(f, "{good}").unwrap();
    drop(f);
    let items: Vec<bool> = TickReader::open(&path, None)
        .unwrap()
        .map(|r| r.is_ok())
        .collect();
    assert_eq!(items, [true, false, true]);
}
