//! End to end on Linux: the real app binary on a demo database, watching a
//! replay of today, on a private desktop (Xvfb, a D-Bus session, dunst for
//! notifications, trayer as the tray host), driven through its window with
//! tauri-driver and WebKitWebDriver and through its tray menu with xdotool.
//! A screenshot of the desktop with the tray, the window and the
//! notification is saved as `target/e2e/desktop.png`.
//!
//! Skipped, saying why, where those programs are missing, unless
//! `NBI_TEST_REQUIRE_SERVICES=1` (the test command sets it): then missing
//! programs are a failure.
#![cfg(target_os = "linux")]

use nbi_core::store::TickWriter;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{Duration as Days, NaiveDate, Utc};
use nbi_core::store::sqlite::SqliteStore;
use nbi_core::synth::Generator;
use nbi_core::Tick;
use serde_json::{json, Value};

const TOOLS: &[&str] = &[
    "Xvfb",
    "dbus-daemon",
    "dunst",
    "dunstctl",
    "trayer",
    "xdotool",
    "tauri-driver",
    "WebKitWebDriver",
];
const HOST: &str = "demo";
const UNUSUAL: &str = "Unusual day";

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

/// ImageMagick's `import` (a stand-in of the same name may come first on PATH).
fn import_program() -> Option<PathBuf> {
    let real = PathBuf::from("/usr/bin/import");
    if real.is_file() {
        return Some(real);
    }
    on_path("import").then(|| PathBuf::from("import"))
}

fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Processes of the private desktop, killed (in reverse) when dropped.
struct Desktop {
    children: Vec<Child>,
    display: String,
    bus: String,
    dir: PathBuf,
}

impl Drop for Desktop {
    fn drop(&mut self) {
        for c in self.children.iter_mut().rev() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Desktop {
    fn start(dir: &Path) -> Desktop {
        let display = (90..190)
            .find(|n| {
                !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                    && !Path::new(&format!("/tmp/.X{n}-lock")).exists()
            })
            .expect("a free X display");
        let mut d = Desktop {
            children: Vec::new(),
            display: format!(":{display}"),
            bus: format!("unix:path={}", dir.join("bus").display()),
            dir: dir.to_path_buf(),
        };
        d.spawn(
            "xvfb",
            Command::new("Xvfb").args([
                d.display.as_str(),
                "-screen",
                "0",
                "1024x768x24",
                "-nolisten",
                "tcp",
            ]),
        );
        let socket = PathBuf::from(format!("/tmp/.X11-unix/X{display}"));
        wait_for("Xvfb", Duration::from_secs(10), || {
            socket.exists().then_some(())
        });
        let address = format!("--address={}", d.bus);
        d.spawn(
            "dbus",
            Command::new("dbus-daemon").args(["--session", "--nofork", "--nopidfile", &address]),
        );
        let bus_file = dir.join("bus");
        wait_for("the D-Bus session", Duration::from_secs(10), || {
            bus_file.exists().then_some(())
        });
        // Notifications stay until closed, so the screenshot shows one.
        let rc = dir.join("dunstrc");
        std::fs::write(
            &rc,
            "[global]\n    timeout = 0\n    geometry = \"360x5-10+40\"\n",
        )
        .unwrap();
        let rc = rc.display().to_string();
        let mut dunst = Command::new("dunst");
        dunst.args(["-config", &rc]);
        d.spawn("dunst", d.env(&mut dunst));
        wait_for("dunst", Duration::from_secs(10), || {
            (d.dunstctl(&["count", "displayed"]).trim() == "0").then_some(())
        });
        let mut trayer = Command::new("trayer");
        trayer.args([
            "--edge",
            "top",
            "--align",
            "right",
            "--SetDockType",
            "true",
            "--widthtype",
            "request",
            "--height",
            "32",
        ]);
        d.spawn("trayer", d.env(&mut trayer));
        d
    }

    fn env<'a>(&self, c: &'a mut Command) -> &'a mut Command {
        c.env("DISPLAY", &self.display)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
    }

    fn spawn(&mut self, name: &str, c: &mut Command) {
        let log = |suffix: &str| {
            std::fs::File::create(self.dir.join(format!("{name}.{suffix}")))
                .map(Stdio::from)
                .unwrap_or_else(|_| Stdio::null())
        };
        let child = c
            .stdin(Stdio::null())
            .stdout(log("out"))
            .stderr(log("err"))
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        self.children.push(child);
    }

    fn run(&self, program: &str, args: &[&str]) -> String {
        let mut c = Command::new(program);
        c.args(args);
        self.env(&mut c)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    fn dunstctl(&self, args: &[&str]) -> String {
        self.run("dunstctl", args)
    }

    /// (app, summary, body) of the notifications in dunst's history.
    fn history(&self) -> Vec<(String, String, String)> {
        let v: Value = serde_json::from_str(&self.dunstctl(&["history"])).unwrap_or(Value::Null);
        v["data"][0]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|n| {
                        let s = |k: &str| n[k]["data"].as_str().unwrap_or("").to_string();
                        (s("appname"), s("summary"), s("body"))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The tray icon's centre: trayer is docked at the top right and sized
    /// to its icons, and ours is the only one.
    fn tray_icon(&self) -> (i64, i64) {
        let ids = self.run("xdotool", &["search", "--class", "trayer"]);
        for id in ids.split_whitespace() {
            let geo = self.run("xdotool", &["getwindowgeometry", "--shell", id]);
            let field = |k: &str| {
                geo.lines()
                    .find_map(|l| l.strip_prefix(&format!("{k}=")))
                    .and_then(|v| v.trim().parse::<i64>().ok())
            };
            if let (Some(x), Some(y), Some(w), Some(h)) =
                (field("X"), field("Y"), field("WIDTH"), field("HEIGHT"))
            {
                // trayer also keeps a small hidden window of its own.
                if w >= 16 && h >= 16 && w < 400 {
                    return (x + w - h / 2, y + h / 2);
                }
            }
        }
        (1024 - 16, 16)
    }
}

/// A minimal WebDriver client.
struct Driver {
    base: String,
    session: String,
    agent: ureq::Agent,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(120)))
        .http_status_as_error(false)
        .build()
        .into()
}

fn request(agent: &ureq::Agent, method: &str, url: &str, body: Option<Value>) -> Value {
    let text = match (method, body) {
        ("GET", _) => agent.get(url).call(),
        ("DELETE", _) => agent.delete(url).call(),
        (_, body) => agent
            .post(url)
            .header("Content-Type", "application/json")
            .send(body.unwrap_or(json!({})).to_string()),
    }
    .and_then(|mut r| r.body_mut().read_to_string())
    .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {url}: {e}: {text}"))
}

impl Driver {
    fn connect(port: u16, app: &Path) -> Driver {
        let base = format!("http://127.0.0.1:{port}");
        let agent = agent();
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "wry",
            "tauri:options": { "application": app, "args": ["--show"] }
        }}});
        let v = request(&agent, "POST", &format!("{base}/session"), Some(caps));
        let session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {v}"))
            .to_string();
        Driver {
            base,
            session,
            agent,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/session/{}{path}", self.base, self.session)
    }

    fn js(&self, script: &str) -> Value {
        let v = request(
            &self.agent,
            "POST",
            &self.url("/execute/sync"),
            Some(json!({ "script": script, "args": [] })),
        );
        if v["value"]["error"].is_string() {
            eprintln!("script {script:?}: {v}");
            return Value::Null;
        }
        v["value"].clone()
    }

    fn text(&self, css: &str) -> String {
        let script = format!(
            "const e = document.querySelector({}); return e ? e.textContent : null",
            json!(css)
        );
        self.js(&script).as_str().unwrap_or("").trim().to_string()
    }

    fn count(&self, css: &str) -> u64 {
        self.js(&format!(
            "return document.querySelectorAll({}).length",
            json!(css)
        ))
        .as_u64()
        .unwrap_or(0)
    }

    /// Clicks the element `css` finds. The window re-renders as data
    /// arrives, so an element found may be replaced before the click
    /// lands ("stale element reference"): then it is found again.
    fn click(&self, css: &str) {
        for _ in 0..5 {
            let v = request(
                &self.agent,
                "POST",
                &self.url("/element"),
                Some(json!({ "using": "css selector", "value": css })),
            );
            let element = v["value"]
                .as_object()
                .and_then(|o| o.values().next())
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("no element {css}: {v}"))
                .to_string();
            let r = request(
                &self.agent,
                "POST",
                &self.url(&format!("/element/{element}/click")),
                None,
            );
            if r["value"]["error"] == "stale element reference" {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            assert!(r["value"].is_null(), "clicking {css}: {r}");
            return;
        }
        panic!("{css} was replaced before every click");
    }

    /// The webview as it is drawn now, as a PNG at `path` (WebDriver's own
    /// screenshot: a capture of the X screen may show a frame not yet
    /// painted).
    fn screenshot(&self, path: &Path) {
        use base64::Engine as _;
        let v = request(&self.agent, "GET", &self.url("/screenshot"), None);
        let png = v["value"]
            .as_str()
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .unwrap_or_else(|| panic!("no screenshot: {v}"));
        std::fs::write(path, png).unwrap();
    }

    fn wait_text(&self, what: &str, css: &str, f: impl Fn(&str) -> bool) -> String {
        wait_for(what, Duration::from_secs(120), || {
            let t = self.text(css);
            f(&t).then_some(t)
        })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self
            .agent
            .delete(format!("{}/session/{}", self.base, self.session))
            .call();
    }
}

/// One tick a minute of a synthetic person over `day` (until `until`).
fn demo_day(
    gen: &mut Generator,
    day: NaiveDate,
    until: Option<chrono::DateTime<Utc>>,
) -> Vec<Tick> {
    gen.day_ticks(HOST, day, chrono_tz::UTC, until)
}

/// A demo database, as `nbi demo` writes it, of the 30 days before today,
/// where yesterday an app never seen before downloaded 500 MB a minute
/// from 01:00 to 05:00; and today until now (its first half hour at
/// least) as a replay file, with the pace that plays it in ten minutes.
fn seed(dir: &Path) -> (PathBuf, PathBuf, NaiveDate, String) {
    let now = Utc::now();
    let today = now.date_naive();
    let db = dir.join("demo.sqlite");
    let mut store = SqliteStore::open(&db).unwrap();
    store.set_meta("label", "DEMO").unwrap();
    let mut gen = Generator::new(1);
    for back in (2..=30).rev() {
        let day = today - Days::days(back);
        store.write(&demo_day(&mut gen, day, None)).unwrap();
    }
    let yesterday = today - Days::days(1);
    let unusual: Vec<Tick> = demo_day(&mut gen, yesterday, None)
        .into_iter()
        .map(|t| {
            let minute = (t.at
                - nbi_core::store::local_day_bounds(yesterday, chrono_tz::UTC).start)
                .num_minutes();
            let mut apps: Vec<(String, (u64, u64))> = t
                .apps
                .iter()
                .map(|a| (a.app.clone(), (a.bytes_in, a.bytes_out)))
                .collect();
            if (60..300).contains(&minute) {
                apps.push(("Transmission".into(), (500_000_000, 5_000_000)));
            }
            Tick::from_totals(HOST, t.at, t.interval_s, apps)
        })
        .collect();
    store.write(&unusual).unwrap();
    // At least half an hour of today, even just after midnight.
    let midnight = nbi_core::store::local_day_bounds(today, chrono_tz::UTC).start;
    let until = now.max(midnight + Days::minutes(30));
    let lines: Vec<String> = demo_day(&mut gen, today, Some(until))
        .iter()
        .map(Tick::to_json)
        .collect();
    let replay = dir.join("today.ndjson");
    std::fs::write(&replay, lines.join("\n")).unwrap();
    (db, replay, yesterday, replay_speed(lines.len()))
}

/// A pace at which the replay lasts ten minutes, whatever the time of day:
/// the source must still be watching when the tray pauses it.
fn replay_speed(ticks: usize) -> String {
    (ticks as f64 / 10.0).clamp(1.0, 600.0).to_string()
}

#[test]
fn the_app_shows_the_day_notifies_an_unusual_one_and_pauses_from_the_tray() {
    let mut missing: Vec<&str> = TOOLS.iter().copied().filter(|t| !on_path(t)).collect();
    let import = import_program();
    if import.is_none() {
        missing.push("import (ImageMagick)");
    }
    if !missing.is_empty() {
        let why = format!(
            "{} not installed (scripts/test installs them)",
            missing.join(", ")
        );
        if std::env::var("NBI_TEST_REQUIRE_SERVICES").as_deref() == Ok("1") {
            panic!("the end-to-end test cannot run: {why}");
        }
        eprintln!("skipped: the end-to-end test needs a desktop to drive: {why}");
        return;
    }
    let sandbox = tempfile::tempdir().unwrap();
    let dir = sandbox.path();
    let (db, replay, yesterday, speed) = seed(dir);
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!("host = \"{HOST}\"\ntimezone = \"UTC\"\n[intel]\nepochs = 60\n"),
    )
    .unwrap();
    let desktop = Desktop::start(dir);

    let port = free_port();
    let native = free_port();
    let mut driver_cmd = Command::new("tauri-driver");
    driver_cmd.args([
        "--port",
        &port.to_string(),
        "--native-port",
        &native.to_string(),
    ]);
    // The app inherits this environment: none of the caller's NBI_*
    // settings, and its files (config, log, caches) inside the sandbox.
    for (k, _) in std::env::vars() {
        if k.starts_with("NBI_") {
            driver_cmd.env_remove(&k);
        }
    }
    driver_cmd
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .env("TZ", "UTC")
        .env("NBI_CONFIG", &config)
        .env("NBI_DB", &db)
        .env("NBI_APP_REPLAY_FILE", &replay)
        .env("NBI_APP_REPLAY_SPEED", &speed)
        .env("NBI_LOG", "info");
    let mut desktop = desktop;
    desktop.env(&mut driver_cmd);
    desktop.spawn("tauri-driver", &mut driver_cmd);
    wait_for("tauri-driver", Duration::from_secs(30), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });

    let app = PathBuf::from(env!("CARGO_BIN_EXE_nbi-app"));
    let driver = Driver::connect(port, &app);
    let app_pid = wait_for("the app's status file", Duration::from_secs(30), || {
        nbi_core::runtime::status::RunStatus::read(&nbi_core::runtime::status::status_path(&db))
            .map(|s| s.pid)
    });
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        drive(&driver, &desktop, import.as_deref().unwrap(), yesterday)
    }));
    drop(driver);
    // The app stays in the tray when its window goes: stop it.
    if let Ok(pid) = i32::try_from(app_pid) {
        // SAFETY: a signal to the app this test started.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    if let Err(e) = result {
        let log = std::fs::read_to_string(dir.join("data/dev.nbi.app/logs/nbi-app.log"))
            .unwrap_or_default();
        eprintln!("the app's log:\n{log}");
        std::panic::resume_unwind(e);
    }
}

fn drive(driver: &Driver, desktop: &Desktop, import: &Path, yesterday: NaiveDate) {
    // The window: today's curve, its apps, and the verdict of yesterday,
    // which the app judged as it started (it was due and not yet judged).
    wait_for("the window to load", Duration::from_secs(60), || {
        (driver.js("return document.body.dataset.ready").as_str() == Some("true")).then_some(())
    });
    assert_eq!(driver.text("#day-label"), "Today");
    wait_for("the curve", Duration::from_secs(60), || {
        (driver.count("#chart canvas") > 0 && driver.count("#apps li") > 0).then_some(())
    });
    driver.wait_text("the verdict card", "#verdict .verdict-title", |t| {
        t == UNUSUAL
    });
    let why = driver.text("#verdict .explanation");
    assert!(why.contains("Transmission"), "{why}");
    driver.wait_text("watching", "#status .status-text strong", |t| {
        t == "Watching"
    });

    // That first verdict was notified too; clear it, then check again.
    wait_for("the first notification", Duration::from_secs(60), || {
        (desktop.dunstctl(&["count", "displayed"]).trim() != "0").then_some(())
    });
    desktop.dunstctl(&["close-all"]);
    let before = wait_for(
        "the first notification closed",
        Duration::from_secs(10),
        || {
            let n = desktop.history().len();
            (n > 0).then_some(n)
        },
    );
    driver.click("#verdict .check-now");
    wait_for(
        "the notification of Check now",
        Duration::from_secs(120),
        || (desktop.dunstctl(&["count", "displayed"]).trim() == "1").then_some(()),
    );
    driver.wait_text("the checked verdict", "#verdict .check-now", |t| {
        t == "Check now"
    });
    assert_eq!(driver.text("#verdict .verdict-title"), UNUSUAL);

    // Pause from the tray menu: right-click the icon, then the third item
    // that can be chosen (Today's usage, Check now, Pause watching).
    let (x, y) = desktop.tray_icon();
    let (xs, ys) = (x.to_string(), y.to_string());
    let paused = (0..3).any(|_| {
        desktop.run("xdotool", &["mousemove", &xs, &ys, "click", "3"]);
        std::thread::sleep(Duration::from_millis(800));
        desktop.run("xdotool", &["key", "Down", "Down", "Down", "Return"]);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if driver.text("#status .status-text strong") == "Paused" {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        desktop.run("xdotool", &["key", "Escape"]);
        false
    });
    assert!(paused, "the tray menu did not pause watching");
    assert_eq!(driver.text("#status button"), "Resume");

    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e");
    std::fs::create_dir_all(&out).unwrap();
    let shot = out.join("desktop.png");
    let _ = std::fs::remove_file(&shot);
    let mut import_cmd = Command::new(import);
    import_cmd.args(["-window", "root"]).arg(&shot);
    let status = desktop.env(&mut import_cmd).status().expect("import");
    assert!(
        status.success() && shot.is_file(),
        "no screenshot at {}",
        shot.display()
    );

    // Clicking the notification opens the day it is about.
    desktop.dunstctl(&["action", "0"]);
    let label = driver.wait_text("the notified day", "#day-label", |t| t != "Today");
    let dom = yesterday.format("%-d").to_string();
    assert!(
        label.split_whitespace().any(|w| w == dom),
        "{label} is not {yesterday}"
    );

    desktop.dunstctl(&["close-all"]);
    let shown = wait_for(
        "the notification in dunst's history",
        Duration::from_secs(10),
        || {
            let h = desktop.history();
            (h.len() > before).then_some(h)
        },
    );
    assert_eq!(
        shown.len(),
        before + 1,
        "one notification for one check: {shown:?}"
    );
    for (app, summary, body) in &shown {
        assert_eq!(app, nbi_core::notify::APP_NAME);
        assert_eq!(summary, "Unusual network day");
        assert!(body.contains("Transmission 01:00–05:00"), "{body}");
    }

    // The history view: the last 7 days from the real store, with
    // yesterday's burst making Transmission the top app.
    driver.click("#tab-history");
    wait_for("the history bars", Duration::from_secs(60), || {
        (driver.count("#bars canvas") > 0 && driver.count("#usage-apps tbody tr") > 1).then_some(())
    });
    let top = driver.text("#usage-apps tbody tr");
    assert!(top.contains("Transmission"), "{top}");
    assert_eq!(
        driver.js("return document.getElementById('view-history').hidden"),
        Value::Bool(false),
        "the history view is the one shown"
    );
    let history = out.join("history.png");
    driver.screenshot(&history);
    eprintln!("screenshots: {} {}", shot.display(), history.display());
}
