//! Conformance: the nettop parser over real captures from other projects
//! (`../shared/corpus/nettop/`, or `NBI_CORPUS_DIR`).
//!
//! Each file starts with two lines that are not nettop output (`SOURCE:`,
//! `NOTE:`). Known files are checked against per-app totals read off the
//! files by hand; any other file must at least parse without an error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nbi_core::source::nettop::parse::{parse_str, Block, ParseOptions};

type Totals = BTreeMap<String, (u64, u64)>;

fn corpus_dir() -> PathBuf {
    match std::env::var_os("NBI_CORPUS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/nettop"),
    }
}

/// The capture without its `SOURCE:`/`NOTE:` preamble.
fn nettop_output(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with("SOURCE:") && !l.starts_with("NOTE:"))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn totals(pairs: &[(&str, u64, u64)]) -> Totals {
    pairs
        .iter()
        .map(|(n, i, o)| (n.to_string(), (*i, *o)))
        .collect()
}

fn block_totals(b: &Block) -> Totals {
    b.totals()
        .into_iter()
        .map(|(n, t)| (n.to_string(), t))
        .collect()
}

/// How each known capture is read and what its blocks hold.
fn expectations(file_name: &str) -> Option<(ParseOptions, Vec<Totals>)> {
    let delta = ParseOptions {
        drop_first_block: true,
    };
    let all = ParseOptions {
        drop_first_block: false,
    };
    let prefix = file_name.get(..3)?;
    Some(match prefix {
        // -P -d -L 3: cumulative block dropped, two deltas, a header at the end.
        "01-" => (
            delta,
            vec![
                totals(&[
                    ("launchd", 0, 0),
                    ("Spotify", 52000, 9000),
                    ("Google Chrome H", 250000, 12000),
                    ("curl", 1500000, 30000),
                    ("com.apple.geod", 0, 0),
                ]),
                totals(&[("launchd", 128, 256), ("Spotify", 1000, 2000)]),
            ],
        ),
        // -L 1 without -d: one cumulative snapshot, many extra columns.
        "02-" => (
            all,
            vec![totals(&[
                ("launchd", 0, 0),
                ("syslogd", 0, 681),
                ("apsd", 88123, 48794),
                ("AirPlayXPCHelpe", 37142334, 10465911),
                ("mDNSResponder", 257939763, 16666588),
            ])],
        ),
        // -P -x -d -L 2: bytes after interface,state; dotted name.
        "03-" => (
            delta,
            vec![totals(&[
                ("io.tailscale.ip", 745, 952),
                ("MacPacketTunnel", 39652, 1085),
                ("Code Helper (Pl", 0, 702),
            ])],
        ),
        // No -P: socket rows skipped; trailing space before ".pid".
        "04-" => (
            all,
            vec![totals(&[
                ("mDNSResponder", 67044191, 20822887),
                ("zerotier-one", 80254563, 60708540),
                ("Microsoft Edge", 13530917, 11022),
            ])],
        ),
        // No time column; the wrapper already dropped the cumulative block.
        "05-" => {
            let zero = [
                "UserEventAgent",
                "logd",
                "apsd",
                "syspolicyd",
                "SubmitDiagInfo",
                "rapportd",
                "goland",
                "WeChat",
                "Spark",
                "SystemUIServer",
                "corespeechd",
                "SogouServices",
                "NeteaseMusic",
                "com.apple.WebKi",
                "PowerChime",
                "DingTalk",
                "Postman Helper",
                "netbiosd",
                "ss-local",
                "findmydeviced",
                "webstorm",
                "biometrickitd",
                "racoon",
            ];
            let with = |busy: &[(&str, u64, u64)]| {
                let mut t: Totals = zero.iter().map(|n| (n.to_string(), (0, 0))).collect();
                t.insert("Slack Helper".to_string(), (0, 0));
                t.extend(totals(busy));
                t
            };
            (
                all,
                vec![
                    with(&[
                        ("kernel_task", 3600, 2347),
                        ("mDNSResponder", 2612, 1227),
                        ("Google Chrome H", 424, 464),
                    ]),
                    with(&[
                        ("kernel_task", 63, 240),
                        ("mDNSResponder", 0, 87),
                        ("Google Chrome H", 25, 33),
                        ("Slack Helper", 0, 56),
                    ]),
                ],
            )
        }
        _ => return None,
    })
}

/// What a corpus check found: (known files, unknown files).
#[derive(Debug, PartialEq, Eq)]
struct Checked {
    known: usize,
    unknown: usize,
}

/// Checks every capture in `dir`; `None` when there is no such directory.
fn check_corpus(dir: &Path) -> Option<Checked> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x != "md"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no captures in {}", dir.display());

    let mut checked = Checked {
        known: 0,
        unknown: 0,
    };
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(path).unwrap();
        let output = nettop_output(&text);
        match expectations(&name) {
            Some((opts, expected)) => {
                checked.known += 1;
                let (blocks, errors) = parse_str(&output, opts);
                assert_eq!(errors, vec![], "{name}: parse errors");
                let got: Vec<Totals> = blocks.iter().map(block_totals).collect();
                assert_eq!(got, expected, "{name}: per-app totals");
                println!("{name}: {} block(s) as expected", blocks.len());
            }
            None => {
                checked.unknown += 1;
                // Every line must be nettop output, whether or not the
                // capture was taken in -d mode.
                let (blocks, errors) = parse_str(&output, ParseOptions::default());
                assert_eq!(errors, vec![], "{name}: parse errors");
                let has_lines = output.lines().any(|l| !l.trim().is_empty());
                assert!(!has_lines || !blocks.is_empty(), "{name}: no block found");
                println!(
                    "{name}: unknown capture, {} block(s), no errors",
                    blocks.len()
                );
            }
        }
    }
    Some(checked)
}

#[test]
fn every_capture_in_the_corpus_parses_as_expected() {
    let dir = corpus_dir();
    let Some(checked) = check_corpus(&dir) else {
        println!("skipped: corpus not found at {}", dir.display());
        return;
    };
    println!("{checked:?}");
    if std::env::var_os("NBI_CORPUS_DIR").is_none() {
        assert!(checked.known >= 5, "the five public captures: {checked:?}");
    }
}

#[test]
fn an_unknown_capture_only_has_to_parse_and_a_missing_corpus_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(check_corpus(&dir.path().join("absent")), None);
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nettop/p-d-no-time.csv");
    let body = std::fs::read_to_string(fixture).unwrap();
    std::fs::write(
        dir.path().join("99-new-capture.csv"),
        format!("SOURCE: somewhere  nettop -P -d -L 3\nNOTE: a new capture\n{body}"),
    )
    .unwrap();
    std::fs::write(dir.path().join("README.md"), "not a capture").unwrap();
    assert_eq!(
        check_corpus(dir.path()),
        Some(Checked {
            known: 0,
            unknown: 1
        })
    );
    // A capture with a line that is not nettop output fails the check.
    std::fs::write(
        dir.path().join("98-broken.csv"),
        format!("SOURCE: x\nNOTE: y\n{body}Spotify,1,2,\n"),
    )
    .unwrap();
    let broken = std::panic::catch_unwind(|| check_corpus(dir.path()));
    assert!(
        broken.is_err(),
        "a parse error must fail the conformance check"
    );
}

#[test]
fn known_captures_carry_quirks_the_parser_must_handle() {
    let dir = corpus_dir();
    let path = dir.join("04-netscope-no-P-socket-rows.csv");
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!("skipped: corpus not found at {}", dir.display());
        return;
    };
    let (blocks, _) = parse_str(&nettop_output(&text), ParseOptions::default());
    let edge = blocks[0].rows.iter().find(|r| r.pid == 772).unwrap();
    assert_eq!(edge.name, "Microsoft Edge", "trailing space trimmed");
    assert_eq!(blocks[0].rows.len(), 3, "six socket rows left out");
    // Summing socket rows too would double count mDNSResponder's bytes.
    let all_in: u64 = blocks[0].rows.iter().map(|r| r.bytes_in).sum();
    assert_eq!(all_in, 67044191 + 80254563 + 13530917);
}
