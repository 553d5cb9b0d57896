//! Running the real `nbi` binary against temporary databases.
#![allow(dead_code)]

pub mod desktop;
#[cfg(target_os = "linux")]
#[path = "../../../nbi-core/tests/support/netns.rs"]
pub mod netns;
#[path = "../../../nbi-core/tests/support/services.rs"]
pub mod services;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use chrono::TimeZone as _;
use serde_json::Value;

pub fn nbi_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_nbi"))
}

/// A scratch directory with its own config and database, isolated from the
/// user's files and from NBI_* variables of the environment.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox::new()
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn db(&self) -> PathBuf {
        self.path("nbi.sqlite")
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).expect("write fixture");
        p
    }

    /// `nbi` with a clean environment: no NBI_* from outside, HOME and XDG
    /// dirs inside the sandbox, UTC, host "testhost".
    pub fn cmd(&self) -> Command {
        self.isolate(Command::new(nbi_bin()))
    }

    /// `nbi` as [`Sandbox::cmd`] has it, run through `wrapper` (a program
    /// and its arguments, followed by nbi's path and nbi's arguments).
    pub fn cmd_via(&self, wrapper: &[&str]) -> Command {
        let mut c = Command::new(wrapper[0]);
        c.args(&wrapper[1..]).arg(nbi_bin());
        self.isolate(c)
    }

    fn isolate(&self, mut c: Command) -> Command {
        for (k, _) in std::env::vars() {
            if k.starts_with("NBI_") {
                c.env_remove(k);
            }
        }
        c.env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_DATA_HOME", self.path("data"))
            .env("TZ", "UTC")
            .env("NBI_HOST", "testhost")
            .env("NBI_LOG", "info")
            .env("NBI_DB", self.db());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run nbi")
    }

    pub fn ok(&self, args: &[&str]) -> String {
        succeed(self.cmd().args(args))
    }

    pub fn spawn(&self, args: &[&str]) -> Child {
        self.cmd()
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn nbi")
    }

    /// `nbi today --json --day DAY`, as (app → (in, out)).
    pub fn day_totals(
        &self,
        day: &str,
        extra: &[&str],
    ) -> std::collections::BTreeMap<String, (u64, u64)> {
        let mut args = vec!["today", "--json", "--day", day];
        args.extend_from_slice(extra);
        let v: Value = serde_json::from_str(&self.ok(&args)).expect("today --json is JSON");
        assert_eq!(v["day"], day);
        app_totals(&v)
    }

    /// Per-app totals of yesterday, today and tomorrow (UTC) summed: what a
    /// test stored "now" wherever midnight falls while it runs.
    pub fn totals_around_today(
        &self,
        extra: &[&str],
    ) -> std::collections::BTreeMap<String, (u64, u64)> {
        let today = chrono::Utc::now().date_naive();
        let mut totals = std::collections::BTreeMap::new();
        for d in [today.pred_opt(), Some(today), today.succ_opt()]
            .into_iter()
            .flatten()
        {
            for (app, (i, o)) in self.day_totals(&d.to_string(), extra) {
                let e: &mut (u64, u64) = totals.entry(app).or_default();
                e.0 += i;
                e.1 += o;
            }
        }
        totals
    }

    pub fn status(&self) -> Value {
        serde_json::from_str(&self.ok(&["status", "--json"])).expect("status --json is JSON")
    }
}

/// Runs `cmd` (stdin closed) to its end and returns its stdout; fails the
/// test with its stderr when it does not succeed.
pub fn succeed(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run nbi");
    let args: Vec<_> = cmd.get_args().collect();
    assert!(
        out.status.success(),
        "nbi {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The apps of `nbi today --json` output, as (app → (in, out)).
pub fn app_totals(today: &Value) -> std::collections::BTreeMap<String, (u64, u64)> {
    today["apps"]
        .as_array()
        .expect("apps array")
        .iter()
        .map(|a| {
            (
                a["app"].as_str().unwrap().to_string(),
                (
                    a["bytes_in"].as_u64().unwrap(),
                    a["bytes_out"].as_u64().unwrap(),
                ),
            )
        })
        .collect()
}

/// Polls `f` until it returns Some or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Some(v) = f() {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

pub fn signal(child: &Child, sig: i32) {
    // SAFETY: sending a signal to our own child process.
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
}

pub fn pid_alive(pid: u32) -> bool {
    // A zombie has exited; only a live process counts.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.trim_start().starts_with('Z'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// Children of `pid` (from /proc), Linux only.
pub fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(t.path().join("children")) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    out
}

pub fn stderr_of(child: Child) -> (std::process::ExitStatus, String) {
    let out = child.wait_with_output().expect("wait nbi");
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// NDJSON ticks: `n` minutes from 2026-07-11T00:00Z, apps with known bytes.
pub fn ndjson_ticks(
    host: &str,
    n: u32,
) -> (String, std::collections::BTreeMap<String, (u64, u64)>) {
    let mut text = String::new();
    let mut totals = std::collections::BTreeMap::new();
    let start = 1_783_728_000i64; // 2026-07-11T00:00:00Z
    for m in 0..n {
        let ts = chrono::DateTime::from_timestamp(start + i64::from(m) * 60, 0).unwrap();
        let slack = (u64::from(m) * 37 % 1000 + 1, u64::from(m) % 13);
        let music = (u64::from(m) * 1_000 + 5, 7);
        text.push_str(&format!(
            "{{\"schema\":1,\"host\":\"{host}\",\"timestamp\":\"{}\",\"interval_s\":60,\"app_usage\":{{\"Slack\":{{\"in\":{},\"out\":{}}},\"Music\":{{\"in\":{},\"out\":{}}}}}}}\n",
            ts.format("%Y-%m-%dT%H:%M:%SZ"),
            slack.0, slack.1, music.0, music.1
        ));
        for (app, (i, o)) in [("Slack", slack), ("Music", music)] {
            let e = totals.entry(app.to_string()).or_insert((0, 0));
            e.0 += i;
            e.1 += o;
        }
    }
    (text, totals)
}

pub type Totals = std::collections::BTreeMap<(String, String), (u64, u64)>;

/// Ticks every 10 minutes around Berlin's fall-back night (25 Oct 2026, a
/// 25-hour day), into November: NDJSON and the expected per-(local day,
/// app) totals.
pub fn berlin_ticks() -> (String, Totals) {
    let tz: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
    let start = chrono::Utc
        .with_ymd_and_hms(2026, 10, 24, 20, 0, 0)
        .unwrap();
    let mut text = String::new();
    let mut by_day = Totals::new();
    for i in 0..(9 * 24 * 6) {
        let at: chrono::DateTime<chrono::Utc> = start + chrono::Duration::minutes(10 * i);
        let apps = [
            ("Slack", (i as u64 % 17 + 1) * 1000, i as u64 % 5),
            ("Music, Inc", 5_000_000, 10),
        ];
        text.push_str(&format!(
            "{{\"schema\":1,\"host\":\"testhost\",\"timestamp\":\"{}\",\"interval_s\":600,\"app_usage\":{{{}}}}}\n",
            at.format("%Y-%m-%dT%H:%M:%SZ"),
            apps.iter()
                .map(|(a, i, o)| format!("\"{a}\":{{\"in\":{i},\"out\":{o}}}"))
                .collect::<Vec<_>>()
                .join(",")
        ));
        let day = at.with_timezone(&tz).date_naive().to_string();
        for (app, i, o) in apps {
            let e = by_day.entry((day.clone(), app.to_string())).or_default();
            e.0 += i;
            e.1 += o;
        }
    }
    (text, by_day)
}

/// The rows of `nbi history --json`, as ((period, app) → (in, out)).
pub fn history_rows(v: &Value) -> Totals {
    v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                (
                    r["period"].as_str().unwrap().to_string(),
                    r["app"].as_str().unwrap().to_string(),
                ),
                (
                    r["bytes_in"].as_u64().unwrap(),
                    r["bytes_out"].as_u64().unwrap(),
                ),
            )
        })
        .collect()
}
