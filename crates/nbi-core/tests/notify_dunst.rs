//! A real notification daemon (dunst) on a private D-Bus session under Xvfb
//! shows what `notify::send` sends, and reads it back.
#![cfg(all(unix, not(target_os = "macos")))]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nbi_core::notify::{send, Notice};

fn find(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}

/// Kills what it holds when the test ends, even by a failed assertion.
struct Reaper(Vec<Child>);

impl Drop for Reaper {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn dunst_shows_the_notification_with_its_title_and_body() {
    let missing: Vec<&str> = ["Xvfb", "dbus-daemon", "dunst", "dunstctl"]
        .into_iter()
        .filter(|p| find(p).is_none())
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "skipped: {} not installed (./scripts/test installs them)",
            missing.join(", ")
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut reaper = Reaper(Vec::new());

    // A display of our own: pick a free number.
    let display = (90..140)
        .find(|n| {
            !std::path::Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                && !std::path::Path::new(&format!("/tmp/.X{n}-lock")).exists()
        })
        .expect("a free X display");
    let display = format!(":{display}");
    reaper.0.push(
        Command::new("Xvfb")
            .args([
                display.as_str(),
                "-screen",
                "0",
                "800x600x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let socket = format!("/tmp/.X11-unix/X{}", &display[1..]);
    assert!(
        wait_until(Duration::from_secs(10), || std::path::Path::new(&socket)
            .exists()),
        "Xvfb did not start"
    );

    // A private session bus.
    let bus = format!("unix:path={}", dir.path().join("bus").display());
    reaper.0.push(
        Command::new("dbus-daemon")
            .args([
                "--session",
                "--nofork",
                "--nopidfile",
                &format!("--address={bus}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(
        wait_until(Duration::from_secs(10), || dir.path().join("bus").exists()),
        "dbus-daemon did not start"
    );
    // Before anything connects: notify-rust reads the session address here.
    std::env::set_var("DBUS_SESSION_BUS_ADDRESS", &bus);

    let dunstrc = dir.path().join("dunstrc");
    std::fs::write(&dunstrc, "[global]\n    timeout = 0\n").unwrap();
    reaper.0.push(
        Command::new("dunst")
            .args(["-config", dunstrc.to_str().unwrap()])
            .env("DISPLAY", &display)
            .env("DBUS_SESSION_BUS_ADDRESS", &bus)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let dunstctl = |args: &[&str]| -> String {
        let out = Command::new("dunstctl")
            .args(args)
            .env("DBUS_SESSION_BUS_ADDRESS", &bus)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(
        wait_until(Duration::from_secs(10), || dunstctl(&[
            "count",
            "displayed"
        ])
        .trim()
            == "0"),
        "dunst did not come up on the private bus"
    );

    let notice = Notice {
        title: "Unusual network day".into(),
        body: "Tue 11 Jul: Google Chrome 03:00–05:00, 2.1 GB (typically 12 MB)".into(),
    };
    send(&notice).expect("notification sent");
    assert!(
        wait_until(Duration::from_secs(10), || dunstctl(&[
            "count",
            "displayed"
        ])
        .trim()
            == "1"),
        "dunst is not showing the notification"
    );
    // History lists a notification once it is closed.
    dunstctl(&["close-all"]);
    let mut history = String::new();
    assert!(
        wait_until(Duration::from_secs(10), || {
            history = dunstctl(&["history"]);
            history.contains("Unusual network day")
        }),
        "not in dunst's history: {history}"
    );
    let v: serde_json::Value = serde_json::from_str(&history).expect("dunstctl history is JSON");
    let first = &v["data"][0][0];
    assert_eq!(first["summary"]["data"], notice.title);
    assert_eq!(first["body"]["data"], notice.body);
    assert_eq!(first["appname"]["data"], nbi_core::notify::APP_NAME);
}
