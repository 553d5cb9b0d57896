//! A private desktop session for notification tests: Xvfb, a D-Bus session
//! bus and dunst, all killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::wait_for;

pub struct Desktop {
    children: Vec<Child>,
    pub bus: String,
    _dir: tempfile::TempDir,
}

impl Drop for Desktop {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

impl Desktop {
    /// Starts one, or says why it cannot (the caller skips with the reason).
    pub fn start() -> Result<Desktop, String> {
        let missing: Vec<&str> = ["Xvfb", "dbus-daemon", "dunst", "dunstctl"]
            .into_iter()
            .filter(|p| !on_path(p))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "{} not installed (./scripts/test installs them)",
                missing.join(", ")
            ));
        }
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut desktop = Desktop {
            children: Vec::new(),
            bus: format!("unix:path={}", dir.path().join("bus").display()),
            _dir: dir,
        };
        let display = (90..190)
            .find(|n| {
                !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                    && !Path::new(&format!("/tmp/.X{n}-lock")).exists()
            })
            .ok_or("no free X display")?;
        let display = format!(":{display}");
        desktop.spawn(Command::new("Xvfb").args([
            display.as_str(),
            "-screen",
            "0",
            "800x600x24",
            "-nolisten",
            "tcp",
        ]))?;
        let socket = PathBuf::from(format!("/tmp/.X11-unix/X{}", &display[1..]));
        wait_for(Duration::from_secs(10), || socket.exists().then_some(()))
            .ok_or("Xvfb did not start")?;
        let bus_path = desktop.bus.trim_start_matches("unix:path=").to_string();
        desktop.spawn(Command::new("dbus-daemon").args([
            "--session",
            "--nofork",
            "--nopidfile",
            &format!("--address={}", desktop.bus),
        ]))?;
        wait_for(Duration::from_secs(10), || {
            Path::new(&bus_path).exists().then_some(())
        })
        .ok_or("dbus-daemon did not start")?;
        let rc = PathBuf::from(&bus_path).with_file_name("dunstrc");
        std::fs::write(&rc, "[global]\n    timeout = 0\n").map_err(|e| e.to_string())?;
        desktop.spawn(
            Command::new("dunst")
                .args(["-config", rc.to_str().unwrap_or_default()])
                .env("DISPLAY", &display)
                .env("DBUS_SESSION_BUS_ADDRESS", &desktop.bus),
        )?;
        wait_for(Duration::from_secs(10), || {
            (desktop.dunstctl(&["count", "displayed"]).trim() == "0").then_some(())
        })
        .ok_or("dunst did not come up on the private bus")?;
        Ok(desktop)
    }

    fn spawn(&mut self, cmd: &mut Command) -> Result<(), String> {
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        self.children.push(child);
        Ok(())
    }

    pub fn dunstctl(&self, args: &[&str]) -> String {
        Command::new("dunstctl")
            .args(args)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// The notifications shown so far, as (app, summary, body), after
    /// closing them (dunst lists only closed ones in its history).
    pub fn shown(&self) -> Vec<(String, String, String)> {
        self.dunstctl(&["close-all"]);
        let mut out = Vec::new();
        wait_for(Duration::from_secs(10), || {
            let v: serde_json::Value = serde_json::from_str(&self.dunstctl(&["history"])).ok()?;
            let items = v["data"][0].as_array()?;
            out = items
                .iter()
                .map(|n| {
                    let s = |k: &str| n[k]["data"].as_str().unwrap_or("").to_string();
                    (s("appname"), s("summary"), s("body"))
                })
                .collect();
            (!out.is_empty()).then_some(())
        });
        out
    }
}
