//! Which network each interface is on, as macOS's stock commands tell it
//! (see [`super::macos_text`] for what is read and how): the Wi-Fi name,
//! else the router's hardware address, else the interface. Each command
//! runs with a short time limit, and all of them within [`BUDGET`], so a
//! stuck command never stalls a source; what does not answer in time gives
//! the interface's own id.

use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::macos_text::sighting_for;
use super::sighting::Sighting;

/// The longest one command may run.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(1);
/// The longest one [`identify`] call may spend running commands in all.
pub const BUDGET: Duration = Duration::from_secs(3);

/// What each of `interfaces` is on, keyed by interface name: one
/// [`Sighting`] for each, whatever happens. Runs up to three commands per
/// `en*`/`bridge*` interface and blocks for up to [`BUDGET`]: call it from
/// a blocking context, never from inside an async task.
pub fn identify(interfaces: &[&str]) -> BTreeMap<String, Sighting> {
    let deadline = Instant::now() + BUDGET;
    let mut run = |program: &str, args: &[&str]| {
        let left = deadline.saturating_duration_since(Instant::now());
        run_for(program, args, left.min(COMMAND_TIMEOUT))
    };
    interfaces
        .iter()
        .map(|&i| (i.to_string(), sighting_for(i, &mut run)))
        .collect()
}

/// The standard output of `program args`, when it exits successfully
/// within `limit`; killed and `None` otherwise.
fn run_for(program: &str, args: &[&str], limit: Duration) -> Option<String> {
    if limit.is_zero() {
        tracing::debug!("network: no time left to run {program}");
        return None;
    }
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| tracing::debug!("network: cannot run {program}: {e}"))
        .ok()?;
    // Read on a thread of its own: a child that fills the pipe would never
    // exit while no one reads it.
    let mut stdout = child.stdout.take()?;
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        stdout.read_to_end(&mut out).map(|_| out)
    });
    let until = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) | Err(_) => break None,
        }
    };
    if status.is_none() {
        tracing::debug!("network: {program} {args:?} took longer than {limit:?}; stopped");
        let _ = child.kill();
        let _ = child.wait();
    }
    let out = reader.join().ok()?.ok()?;
    status
        .filter(|s| s.success())
        .and_then(|_| String::from_utf8(out).ok())
}
