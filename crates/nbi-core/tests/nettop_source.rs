//! The nettop source against a stand-in `nettop` (tests/support/bin/nettop)
//! replaying captures: real child processes, real pipes, real signals.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nbi_core::bus::memory::{channel, MemorySubscriber};
use nbi_core::bus::Subscriber;
use nbi_core::counting::CountingPolicy;
use nbi_core::source::nettop::{NettopConfig, NettopSource};
use nbi_core::source::{SourceContext, SourceKind, SourceState, SourceStatus};
use nbi_core::Tick;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(30);

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn stand_in() -> PathBuf {
    manifest().join("tests/support/bin/nettop")
}

fn fixture(name: &str) -> PathBuf {
    manifest().join("tests/fixtures/nettop").join(name)
}

/// A `nettop` in `dir` that runs the stand-in with `env` (kept per test,
/// not in this process's environment, which all tests share).
fn nettop_with(dir: &Path, env: &[(&str, &str)]) -> PathBuf {
    let mut script = String::from("#!/bin/sh\n");
    for (k, v) in env {
        script.push_str(&format!("export {k}='{v}'\n"));
    }
    script.push_str(&format!("exec '{}' \"$@\"\n", stand_in().display()));
    let path = dir.join("nettop");
    write_executable(&path, &script);
    path
}

fn write_executable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A `nettop` replaying `capture`, logging its samples to `samples.log`.
fn replay(dir: &Path, capture: &str) -> PathBuf {
    let capture = fixture(capture);
    let log = dir.join("samples.log");
    nettop_with(
        dir,
        &[
            ("NBI_FAKE_NETTOP_CAPTURE", capture.to_str().unwrap()),
            ("NBI_FAKE_NETTOP_SAMPLE_LOG", log.to_str().unwrap()),
        ],
    )
}

/// Fast restarts, no app resolution, patient hang detection.
fn config(program: PathBuf) -> NettopConfig {
    NettopConfig {
        program,
        resolve_apps: false,
        backoff_initial: Duration::from_millis(20),
        backoff_max: Duration::from_millis(80),
        hang_intervals: 25,
        ..NettopConfig::default()
    }
}

fn context(interval: Duration) -> (SourceContext, watch::Receiver<SourceStatus>) {
    let (status, rx) = watch::channel(SourceStatus {
        source: SourceKind::Nettop,
        state: SourceState::Starting,
        last_tick: None,
        ticks: 0,
        mode: None,
        mode_note: None,
        unattributed: None,
    });
    let ctx = SourceContext {
        host: "mbp".to_string(),
        interval,
        counting: std::sync::Arc::new(CountingPolicy::default()),
        networks: std::sync::Arc::new(nbi_core::network::Watch::offline()),
        status,
        shutdown: CancellationToken::new(),
    };
    (ctx, rx)
}

async fn next_tick(rx: &mut MemorySubscriber) -> Tick {
    let batch = tokio::time::timeout(WAIT, rx.next_batch(1, Duration::ZERO))
        .await
        .expect("a tick in time")
        .unwrap();
    batch.into_iter().next().expect("bus open").tick
}

fn apps(t: &Tick) -> BTreeMap<&str, (u64, u64)> {
    t.apps
        .iter()
        .map(|a| (a.app.as_str(), (a.bytes_in, a.bytes_out)))
        .collect()
}

/// The two delta samples of source-replay.csv under the default policy
/// (tailscale carries others' bytes; launchd is a system daemon, counted).
fn first_delta() -> BTreeMap<&'static str, (u64, u64)> {
    BTreeMap::from([
        ("launchd", (100, 200)),
        ("Google Chrome H", (251_000, 12_500)),
        ("Spotify", (52_000, 9_000)),
        ("curl", (1_500_000, 30_000)),
    ])
}

fn second_delta() -> BTreeMap<&'static str, (u64, u64)> {
    BTreeMap::from([("Google Chrome H", (70, 30)), ("Spotify", (1_000, 2_000))])
}

/// Running and not a zombie.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether the stand-in `pid` has written its first sample (it logs each
/// to `log`): from then on it writes only once per interval.
fn printed_first_sample(log: &Path, pid: u32) -> bool {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    alive(pid) && text.lines().any(|l| l == format!("{pid} 1"))
}

/// Cancels the source and waits for it to return `Ok`.
async fn stop_cleanly(
    shutdown: &tokio_util::sync::CancellationToken,
    run: tokio::task::JoinHandle<Result<(), nbi_core::source::SourceError>>,
) {
    shutdown.cancel();
    tokio::time::timeout(WAIT, run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

fn pid_in(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_exact_deltas_per_app_and_drops_the_cumulative_block() {
    let dir = tempfile::tempdir().unwrap();
    let program = replay(dir.path(), "source-replay.csv");
    let (ctx, mut status) = context(Duration::from_millis(200));
    let shutdown = ctx.shutdown.clone();
    let (tx, mut rx) = channel(16);
    let run = tokio::spawn(NettopSource::new(config(program)).run(ctx, tx));

    let mut ticks = Vec::new();
    for _ in 0..4 {
        ticks.push(next_tick(&mut rx).await);
    }
    // The stand-in loops over the two delta samples.
    let got: Vec<_> = ticks.iter().map(apps).collect();
    assert_eq!(
        got,
        vec![first_delta(), second_delta(), first_delta(), second_delta()]
    );
    for w in ticks.windows(2) {
        assert!(w[0].at < w[1].at, "at strictly increases: {w:?}");
    }
    assert!(ticks.iter().all(|t| t.host == "mbp" && t.interval_s == 1));
    assert!(ticks.iter().all(|t| t.at.timestamp_subsec_nanos() == 0));
    // The status is updated once the bus has taken the tick.
    let s = tokio::time::timeout(WAIT, status.wait_for(|s| s.ticks >= 4))
        .await
        .unwrap()
        .unwrap()
        .clone();
    assert_eq!(s.state, SourceState::Watching);
    assert!(s.last_tick >= Some(ticks[3].at));

    shutdown.cancel();
    let result = tokio::time::timeout(WAIT, run).await.unwrap().unwrap();
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(status.borrow().state, SourceState::Stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_identity_comes_from_ps_once_per_new_pid() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("ps.log");
    // macOS's ps prints the executable's full path; 9999 answers like
    // Linux's ps (a bare name) and keeps nettop's name.
    let ps = dir.path().join("ps");
    write_executable(
        &ps,
        &format!(
            r#"#!/bin/sh
echo "$@" >> '{log}'
for pid in $(echo "$4" | tr ',' ' '); do
  case $pid in
    1579) echo " 1579 /Applications/Spotify.app/Contents/MacOS/Spotify" ;;
    4142) echo " 4142 /Applications/Google Chrome.app/Contents/Frameworks/Google Chrome Framework.framework/Versions/120.0/Helpers/Google Chrome Helper.app/Contents/MacOS/Google Chrome Helper" ;;
    4150) echo " 4150 /Applications/Google Chrome.app/Contents/Frameworks/Google Chrome Framework.framework/Versions/120.0/Helpers/Google Chrome Helper (Renderer).app/Contents/MacOS/Google Chrome Helper (Renderer)" ;;
    9999) echo " 9999 curl" ;;
  esac
done
"#,
            log = log.display()
        ),
    );
    let program = replay(dir.path(), "source-replay.csv");
    let (ctx, _status) = context(Duration::from_millis(200));
    let shutdown = ctx.shutdown.clone();
    let (tx, mut rx) = channel(16);
    let cfg = NettopConfig {
        ps,
        resolve_apps: true,
        ..config(program)
    };
    let run = tokio::spawn(NettopSource::new(cfg).run(ctx, tx));

    let t1 = next_tick(&mut rx).await;
    let t2 = next_tick(&mut rx).await;
    let t3 = next_tick(&mut rx).await;
    assert_eq!(
        apps(&t1),
        BTreeMap::from([
            ("Google Chrome", (251_000, 12_500)),
            ("Spotify", (52_000, 9_000)),
            ("curl", (1_500_000, 30_000)),
            ("launchd", (100, 200)),
        ])
    );
    assert_eq!(
        apps(&t2),
        BTreeMap::from([("Google Chrome", (70, 30)), ("Spotify", (1_000, 2_000))])
    );
    assert_eq!(apps(&t3), apps(&t1));
    stop_cleanly(&shutdown, run).await;

    let calls = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        calls.lines().collect::<Vec<_>>(),
        vec!["-o pid=,comm= -p 1,1579,4142,4150,9999,79391"],
        "one ps call for the first block's pids, none after"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sample_is_complete_after_a_quiet_gap_without_the_next_header() {
    let dir = tempfile::tempdir().unwrap();
    let capture = fixture("source-replay.csv");
    // Two samples, then silence: no next header, no end of output.
    let program = nettop_with(
        dir.path(),
        &[
            ("NBI_FAKE_NETTOP_CAPTURE", capture.to_str().unwrap()),
            ("NBI_FAKE_NETTOP_STALL_AFTER", "2"),
        ],
    );
    let (ctx, status) = context(Duration::from_millis(200));
    let shutdown = ctx.shutdown.clone();
    let (tx, mut rx) = channel(16);
    let cfg = NettopConfig {
        hang_intervals: 1000,
        ..config(program)
    };
    let run = tokio::spawn(NettopSource::new(cfg).run(ctx, tx));
    assert_eq!(apps(&next_tick(&mut rx).await), first_delta());
    let mut status = status;
    let s = tokio::time::timeout(WAIT, status.wait_for(|s| s.ticks == 1))
        .await
        .unwrap()
        .unwrap()
        .clone();
    assert_eq!(s.state, SourceState::Watching, "no restart");
    stop_cleanly(&shutdown, run).await;
}

/// Waits for a Failing state at restart `n` or later, returning its reason.
async fn failing_after(status: &mut watch::Receiver<SourceStatus>, n: u64) -> String {
    let restart = |reason: &str| -> Option<u64> {
        let (_, rest) = reason.rsplit_once("(restart ")?;
        rest.split_whitespace().next()?.parse().ok()
    };
    let s = tokio::time::timeout(
        WAIT,
        status.wait_for(|s| match &s.state {
            SourceState::Failing { reason } => restart(reason).is_some_and(|r| r >= n),
            _ => false,
        }),
    )
    .await
    .expect("restarts in time")
    .unwrap()
    .clone();
    match s.state {
        SourceState::Failing { reason } => reason,
        other => panic!("not failing: {other:?}"),
    }
}

async fn restarts_on(mode: &str, hang_intervals: u32) -> String {
    let dir = tempfile::tempdir().unwrap();
    let capture = fixture("source-replay.csv");
    let program = nettop_with(
        dir.path(),
        &[
            ("NBI_FAKE_NETTOP_CAPTURE", capture.to_str().unwrap()),
            ("NBI_FAKE_NETTOP_MODE", mode),
        ],
    );
    let (ctx, mut status) = context(Duration::from_millis(200));
    let shutdown = ctx.shutdown.clone();
    let (tx, mut rx) = channel(16);
    let cfg = NettopConfig {
        hang_intervals,
        max_garbage_lines: 10,
        ..config(program)
    };
    let run = tokio::spawn(NettopSource::new(cfg).run(ctx, tx));

    let reason = failing_after(&mut status, 3).await;
    assert!(!run.is_finished(), "the source keeps trying");
    assert_eq!(status.borrow().ticks, 0);
    shutdown.cancel();
    let result = tokio::time::timeout(WAIT, run).await.unwrap();
    assert!(matches!(result, Ok(Ok(()))), "{result:?}");
    assert_eq!(status.borrow().state, SourceState::Stopped);
    let nothing =
        tokio::time::timeout(Duration::from_millis(50), rx.next_batch(1, Duration::ZERO)).await;
    assert!(
        matches!(nothing, Ok(Ok(ref b)) if b.is_empty()),
        "no tick from a broken nettop"
    );
    reason
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nettop_that_exits_is_restarted() {
    let reason = restarts_on("exit", 25).await;
    assert!(
        reason.starts_with("nettop exited (exit status: 1): nettop: simulated failure (restart "),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nettop_that_hangs_is_restarted() {
    let reason = restarts_on("hang", 3).await;
    assert!(
        reason.starts_with("nettop printed nothing at all for ") && reason.contains(" s (restart "),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nettop_that_prints_garbage_is_restarted() {
    let reason = restarts_on("garbage", 25).await;
    assert!(
        reason.starts_with("nettop printed 11 unparseable lines in a row (last: "),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovers_after_failed_starts_with_the_right_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let capture = fixture("source-replay.csv");
    let counter = dir.path().join("starts");
    let program = nettop_with(
        dir.path(),
        &[
            ("NBI_FAKE_NETTOP_CAPTURE", capture.to_str().unwrap()),
            ("NBI_FAKE_NETTOP_MODE", "exit"),
            ("NBI_FAKE_NETTOP_FAIL_STARTS", "2"),
            ("NBI_FAKE_NETTOP_COUNTER", counter.to_str().unwrap()),
        ],
    );
    let (ctx, status) = context(Duration::from_millis(200));
    let shutdown = ctx.shutdown.clone();
    let (tx, mut rx) = channel(16);
    let run = tokio::spawn(NettopSource::new(config(program)).run(ctx, tx));

    assert_eq!(apps(&next_tick(&mut rx).await), first_delta());
    assert_eq!(apps(&next_tick(&mut rx).await), second_delta());
    assert_eq!(std::fs::read_to_string(&counter).unwrap().trim(), "3");
    assert_eq!(status.borrow().state, SourceState::Watching);
    stop_cleanly(&shutdown, run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_nettop_remains_after_shutdown_or_after_dropping_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let program = replay(dir.path(), "source-replay.csv");
    let pid_file = dir.path().join("run/nettop.pid");
    let cfg = NettopConfig {
        pid_file: Some(pid_file.clone()),
        ..config(program)
    };

    // Shutdown: the child is killed and reaped, the pid file removed.
    let (ctx, _status) = context(Duration::from_millis(200));
    let shutdown = ctx.shutdown.clone();
    let (tx, mut rx) = channel(16);
    let run = tokio::spawn(NettopSource::new(cfg.clone()).run(ctx, tx));
    next_tick(&mut rx).await;
    let pid = pid_in(&pid_file).expect("pid file written");
    assert!(alive(pid), "nettop {pid} runs while the source does");
    stop_cleanly(&shutdown, run).await;
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "nettop {pid} killed and reaped"
    );
    assert!(!pid_file.exists(), "pid file removed on shutdown");

    // Drop: the future is dropped without any shutdown. A long interval
    // keeps the stand-in from writing (and dying of SIGPIPE): only the
    // kill on drop can stop it.
    let (ctx, _status) = context(Duration::from_secs(60));
    let (tx, _rx) = channel(16);
    let mut run = Box::pin(NettopSource::new(cfg).run(ctx, tx));
    tokio::select! {
        r = &mut run => panic!("source ended early: {r:?}"),
        _ = eventually("nettop printed", || {
            pid_in(&pid_file).is_some_and(|pid| printed_first_sample(&dir.path().join("samples.log"), pid))
        }) => {}
    }
    let pid = pid_in(&pid_file).unwrap();
    drop(run);
    eventually("nettop dies with its dropped source", || !alive(pid)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_nettop_of_a_previous_run_is_killed_but_nothing_else() {
    use std::io::BufRead;
    use std::os::unix::process::ExitStatusExt;

    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("nettop.pid");
    // A nettop as we start it, left running by a "previous run".
    let mut stale = std::process::Command::new(stand_in())
        .args([
            "-P",
            "-d",
            "-x",
            "-L",
            "0",
            "-s",
            "60",
            "-J",
            "bytes_in,bytes_out",
        ])
        .env("NBI_FAKE_NETTOP_MODE", "hang")
        .env("NSUnbufferedIO", "YES")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Its header means the interpreter is up and its command line final.
    let mut header = String::new();
    std::io::BufReader::new(stale.stdout.take().unwrap())
        .read_line(&mut header)
        .unwrap();
    assert_eq!(header, "time,,bytes_in,bytes_out,\n");
    std::fs::write(&pid_file, format!("{}\n", stale.id())).unwrap();

    let program = replay(dir.path(), "source-replay.csv");
    let cfg = NettopConfig {
        pid_file: Some(pid_file.clone()),
        ..config(program)
    };
    let (ctx, _status) = context(Duration::from_millis(200));
    let shutdown = ctx.shutdown.clone();
    let (tx, mut rx) = channel(16);
    let run = tokio::spawn(NettopSource::new(cfg.clone()).run(ctx, tx));
    next_tick(&mut rx).await;
    let status = stale.try_wait().unwrap().expect("stale nettop stopped");
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    let ours = pid_in(&pid_file).unwrap();
    assert_ne!(ours, stale.id(), "the pid file now names the new nettop");
    stop_cleanly(&shutdown, run).await;

    // A reused pid that is not our nettop is left alone.
    let mut other = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    std::fs::write(&pid_file, format!("{}\n", other.id())).unwrap();
    let (ctx, _status) = context(Duration::from_millis(200));
    let shutdown = ctx.shutdown.clone();
    let (tx, mut rx) = channel(16);
    let run = tokio::spawn(NettopSource::new(cfg).run(ctx, tx));
    next_tick(&mut rx).await;
    assert!(other.try_wait().unwrap().is_none(), "sleep still runs");
    stop_cleanly(&shutdown, run).await;
    other.kill().unwrap();
    other.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_nettop_is_a_failing_state_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, mut status) = context(Duration::from_millis(200));
    let shutdown = ctx.shutdown.clone();
    let (tx, _rx) = channel(16);
    let missing = dir.path().join("no-such-nettop");
    let run = tokio::spawn(NettopSource::new(config(missing.clone())).run(ctx, tx));
    let reason = failing_after(&mut status, 2).await;
    assert!(
        reason.starts_with(&format!("could not start {}: ", missing.display())),
        "{reason}"
    );
    stop_cleanly(&shutdown, run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_bus_ends_the_source_and_its_nettop() {
    let dir = tempfile::tempdir().unwrap();
    let program = replay(dir.path(), "source-replay.csv");
    let pid_file = dir.path().join("nettop.pid");
    let cfg = NettopConfig {
        pid_file: Some(pid_file.clone()),
        ..config(program)
    };
    let (ctx, _status) = context(Duration::from_millis(200));
    let (tx, rx) = channel(16);
    let run = tokio::spawn(NettopSource::new(cfg).run(ctx, tx));
    eventually("nettop started", || pid_in(&pid_file).is_some()).await;
    let pid = pid_in(&pid_file).unwrap();
    drop(rx);
    let result = tokio::time::timeout(WAIT, run).await.unwrap().unwrap();
    assert!(
        matches!(result, Err(nbi_core::source::SourceError::Bus(_))),
        "{result:?}"
    );
    assert!(!alive(pid));
}

/// A `nettop` replaying `capture` that logs each command line it is started
/// with to `args.log`, with `env` besides.
fn replay_logging_starts(dir: &Path, capture: &str, env: &[(&str, &str)]) -> PathBuf {
    let capture = fixture(capture);
    let args = dir.join("args.log");
    let mut all = vec![
        ("NBI_FAKE_NETTOP_CAPTURE", capture.to_str().unwrap()),
        ("NBI_FAKE_NETTOP_ARGS_LOG", args.to_str().unwrap()),
    ];
    all.extend_from_slice(env);
    nettop_with(dir, &all)
}

fn starts(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("args.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Publishes `n` ticks from a stand-in and checks them against the capture's
/// two delta samples in turn; returns the ticks.
async fn exact_ticks(cfg: NettopConfig, counting: CountingPolicy, n: usize) -> Vec<Tick> {
    let (mut ctx, _status) = context(Duration::from_millis(200));
    ctx.counting = std::sync::Arc::new(counting);
    let shutdown = ctx.shutdown.clone();
    let (tx, mut rx) = channel(64);
    let run = tokio::spawn(NettopSource::new(cfg).run(ctx, tx));
    let mut ticks = Vec::new();
    for _ in 0..n {
        ticks.push(next_tick(&mut rx).await);
    }
    stop_cleanly(&shutdown, run).await;
    for (i, t) in ticks.iter().enumerate() {
        let want = if i % 2 == 0 {
            first_delta()
        } else {
            second_delta()
        };
        assert_eq!(apps(t), want, "tick {i}");
    }
    for w in ticks.windows(2) {
        assert!(w[0].at < w[1].at, "at strictly increases: {w:?}");
    }
    ticks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nettop_runs_on_a_terminal_with_its_time_column_and_without_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let program = replay_logging_starts(dir.path(), "source-replay.csv", &[]);
    exact_ticks(config(program.clone()), CountingPolicy::default(), 4).await;
    let started = starts(dir.path());
    assert_eq!(started.len(), 1, "started once: {started:?}");
    assert!(
        started[0].contains("-J time,interface,bytes_in,bytes_out")
            && !started[0].contains("-P")
            && started[0].ends_with("-t external"),
        "socket rows (destinations are kept by default): {started:?}"
    );

    // Counting loopback: every interface.
    let dir = tempfile::tempdir().unwrap();
    let program = replay_logging_starts(dir.path(), "source-replay.csv", &[]);
    let mut counting_loopback = CountingPolicy::count_everything();
    // Keep the carrier rule of the expected totals.
    counting_loopback = CountingPolicy::new(
        true,
        counting_loopback.system_processes(),
        nbi_core::counting::carriers::built_in_names(),
        std::iter::empty::<&str>(),
    );
    exact_ticks(config(program), counting_loopback, 2).await;
    let started = starts(dir.path());
    assert!(!started[0].contains("-t "), "{started:?}");

    // Destinations off: socket rows still, for their interfaces (the
    // networks); no tick keeps an address.
    let dir = tempfile::tempdir().unwrap();
    let program = replay_logging_starts(dir.path(), "source-replay.csv", &[]);
    let ticks = exact_ticks(
        config(program),
        CountingPolicy::default().with_destinations(false),
        2,
    )
    .await;
    assert!(ticks.iter().all(|t| t.apps.iter().all(|a| a.to.is_empty())));
    let started = starts(dir.path());
    assert!(
        !started[0].contains("-P") && started[0].contains("-J time,interface,bytes_in,bytes_out"),
        "{started:?}"
    );
}

/// A nettop whose stdio holds a pipe's output in 4 KiB blocks (as C stdio
/// does without a terminal): samples come seconds late, many at once, split
/// anywhere. Every tick is still exact and whole, and the long silences
/// between bursts are not taken for a hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nettop_that_buffers_its_pipe_loses_nothing_and_is_not_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let program = replay_logging_starts(
        dir.path(),
        "source-replay.csv",
        &[("NBI_FAKE_NETTOP_STDIO_BUFFERS", "1")],
    );
    let cfg = NettopConfig {
        terminal: false,
        // As on a terminal: three quiet intervals (0.6 s) would be a hang
        // there; the bursts here are seconds apart.
        hang_intervals: 3,
        ..config(program)
    };
    // About 14 samples fill a block: 30 ticks take three bursts.
    exact_ticks(cfg, CountingPolicy::default(), 30).await;
    let started = starts(dir.path());
    assert_eq!(started.len(), 1, "never restarted: {started:?}");
}

/// From a pipe with `NSUnbufferedIO=YES` honoured, samples come one by one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_pipe_nsunbufferedio_makes_nettop_write_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let program = replay_logging_starts(dir.path(), "source-replay.csv", &[]);
    let cfg = NettopConfig {
        terminal: false,
        hang_intervals: 3,
        ..config(program)
    };
    let started = std::time::Instant::now();
    exact_ticks(cfg, CountingPolicy::default(), 4).await;
    // Buffered, four small samples would sit in stdio for a whole block.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(starts(dir.path()).len(), 1);
}

/// A Mac as it is days after boot: login items (WeChat, Spark, a Chrome
/// helper, a Slack helper) at pids 412–520, a system daemon, a Cisco VPN
/// carrying the others' bytes again, WireGuard's extension under its
/// 15-character name, a name with a comma and one cut to a trailing space.
/// Every login item counts; the carriers do not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_items_count_and_tunnel_carriers_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let program = replay(dir.path(), "login-items-and-tunnels.csv");
    let (ctx, _status) = context(Duration::from_millis(200));
    let shutdown = ctx.shutdown.clone();
    let (tx, mut rx) = channel(16);
    let run = tokio::spawn(NettopSource::new(config(program)).run(ctx, tx));
    let first = next_tick(&mut rx).await;
    let second = next_tick(&mut rx).await;
    stop_cleanly(&shutdown, run).await;
    assert_eq!(
        apps(&first),
        BTreeMap::from([
            ("Acme, Inc. Sync", (0, 880_000)),
            ("Google Chrome H", (3_000_000, 150_000)),
            ("Microsoft Edge", (11_000, 900)),
            ("Slack Helper", (700_000, 30_000)),
            ("Spark", (40_000, 2_000)),
            ("WeChat", (250_000, 9_000)),
            ("mDNSResponder", (12_000, 3_000)),
        ])
    );
    assert_eq!(
        apps(&second),
        BTreeMap::from([
            ("Acme, Inc. Sync", (100, 100)),
            ("Google Chrome H", (2_000_000, 90_000)),
            ("Spark", (1_000, 500)),
            ("mDNSResponder", (8_000, 2_000)),
        ])
    );
}
