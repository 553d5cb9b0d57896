//! What nbi writes is its owner's alone: every file it creates 0600 and
//! every directory 0700, checked by `stat`, whatever umask it was started
//! with; a database an older version left open to others is tightened.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::{signal, wait_for, Sandbox};

/// The permissive umask of a careless shell, for the child.
fn permissive(cmd: &mut Command) -> &mut Command {
    // SAFETY: umask is async-signal-safe and touches nothing else.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0o022);
            Ok(())
        })
    }
}

/// One tick of Slack at the current second, as NDJSON.
fn ticks_now(bytes: u64) -> String {
    let at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
    format!(
        "{{\"schema\":1,\"host\":\"testhost\",\"timestamp\":\"{at}\",\"interval_s\":60,\"app_usage\":{{\"Slack\":{{\"in\":{bytes},\"out\":1}}}}}}\n"
    )
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
}

/// Every file and directory under `dir`, but the inputs the test wrote.
fn everything(dir: &Path, inputs: &[&Path]) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if inputs.contains(&p.as_path()) {
                continue;
            }
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}

#[test]
fn every_file_nbi_writes_is_its_owners_alone() {
    let s = Sandbox::new();
    let ticks = s.path("ticks.ndjson");
    // Ticks of now: over the plan's limit in the current billing period,
    // whatever the day.
    std::fs::write(&ticks, ticks_now(5_000)).unwrap();
    let config = s.write(
        "nbi.toml",
        "[plan]\nlimit = 1000\nbilling_day = 1\n[intel]\nsame_day = true\n",
    );
    let run = |args: &[&str]| {
        let mut c = s.cmd();
        // The default database, in the data directory nbi makes itself.
        c.env_remove("NBI_DB")
            .args(["--config", config.to_str().unwrap()])
            .args(args);
        let out = permissive(&mut c).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    run(&["import", ticks.to_str().unwrap()]);
    run(&["demo", "--days", "8"]);
    let export = s.path("out/export.csv");
    std::fs::create_dir(s.path("out")).unwrap();
    run(&[
        "export",
        "--from",
        "2020-01-01",
        "--out",
        export.to_str().unwrap(),
    ]);
    // `nbi run` writes its status file and, over its plan, the plan's alerts.
    let mut c = s.cmd();
    c.env_remove("NBI_DB")
        .args(["--config", config.to_str().unwrap()])
        .args([
            "run",
            "--source",
            "replay",
            "--replay-file",
            ticks.to_str().unwrap(),
            "--no-detect",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let child = permissive(&mut c).spawn().unwrap();
    let data = s.path("data/nbi");
    let status = wait_for(Duration::from_secs(30), || {
        let found: Vec<_> = std::fs::read_dir(&data)
            .ok()?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        (found.iter().any(|f| f.ends_with(".status.json"))
            && found.iter().any(|f| f.ends_with(".plan-alerts.json")))
        .then_some(found)
    });
    signal(&child, libc::SIGTERM);
    let _ = child.wait_with_output();
    assert!(status.is_some(), "the status and plan files appeared");
    // A watcher whose broker is away spools to disk.
    #[cfg(feature = "kafka")]
    {
        let mut c = s.cmd();
        c.env_remove("NBI_DB")
            .env("NBI_KAFKA__BROKERS", "127.0.0.1:9")
            .args([
                "watch",
                "--bus",
                "kafka",
                "--source",
                "replay",
                "--replay-file",
                ticks.to_str().unwrap(),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let child = permissive(&mut c).spawn().unwrap();
        let spooled = wait_for(Duration::from_secs(30), || {
            let found = everything(s.dir.path(), &[])
                .into_iter()
                .any(|p| p.extension().is_some_and(|e| e == "seg"));
            found.then_some(())
        });
        signal(&child, libc::SIGTERM);
        let _ = child.wait_with_output();
        assert!(spooled.is_some(), "a spool segment was written");
    }
    let inputs = [ticks.as_path(), config.as_path(), s.dir.path()];
    let mut checked = 0;
    for p in everything(s.dir.path(), &inputs) {
        // Directories the test made itself.
        if p == s.path("out") || p == s.path("data") || p == s.path("config") {
            continue;
        }
        let want = if p.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(&p), want, "{} is {:o}", p.display(), mode(&p));
        checked += 1;
    }
    let names: Vec<String> = everything(s.dir.path(), &inputs)
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    for expected in [
        "nbi.sqlite",
        "demo.sqlite",
        "nbi.sqlite.status.json",
        "nbi.sqlite.plan-alerts.json",
        "export.csv",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    assert!(checked >= 7, "{checked} files checked: {names:?}");
}

#[test]
fn a_database_left_open_by_an_older_version_is_tightened_once() {
    let s = Sandbox::new();
    let ticks = s.path("ticks.ndjson");
    std::fs::write(&ticks, ticks_now(5)).unwrap();
    s.ok(&["import", ticks.to_str().unwrap()]);
    std::fs::set_permissions(s.db(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = s.run(&["import", ticks.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tightened"), "{stderr}");
    assert_eq!(mode(&s.db()), 0o600);
    let again = s.run(&["import", ticks.to_str().unwrap()]);
    assert!(
        !String::from_utf8_lossy(&again.stderr).contains("tightened"),
        "once"
    );
}

#[test]
fn a_token_file_others_can_read_is_warned_of() {
    let s = Sandbox::new();
    let token = s.write("token", "secret\n");
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    let cfg = s.write(
        "nbi.toml",
        &format!(
            "[influxdb]\nurl = \"http://127.0.0.1:9\"\ntoken_file = \"{}\"\n",
            token.display()
        ),
    );
    let out = s.run(&[
        "--config",
        cfg.to_str().unwrap(),
        "--store",
        "influx",
        "status",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("can be read by other users"), "{stderr}");
}
