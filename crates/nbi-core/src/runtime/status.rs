//! The status of a running pipeline, as `nbi status` and the tray read it:
//! a small JSON file next to the database, written at most a few times a
//! second, replaced atomically.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::bus::BusStatus;
use crate::collector::CollectorStats;
use crate::source::{SourceKind, SourceStatus};

/// A fresh status for a source about to start.
pub fn channel(kind: SourceKind) -> (watch::Sender<SourceStatus>, watch::Receiver<SourceStatus>) {
    crate::source::status_channel(kind)
}

/// What `nbi status` reads: written by a running pipeline next to its database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunStatus {
    pub pid: u32,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub source: SourceStatus,
    pub collector: CollectorSnapshot,
    /// The broker bus (`--bus kafka`): spool and connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bus: Option<BusStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectorSnapshot {
    pub ticks_written: u64,
    pub ticks_skipped: u64,
    #[serde(default)]
    pub ticks_merged: u64,
    pub retries: u64,
    pub last_error: Option<String>,
}

impl From<&CollectorStats> for CollectorSnapshot {
    fn from(s: &CollectorStats) -> Self {
        CollectorSnapshot {
            ticks_written: s.ticks_written,
            ticks_skipped: s.ticks_skipped,
            ticks_merged: s.ticks_merged,
            retries: s.retries,
            last_error: s.last_error.clone(),
        }
    }
}

/// The status file of the pipeline writing to `db`.
pub fn status_path(db: &Path) -> PathBuf {
    beside_db(db, ".status.json")
}

/// A file of the database's own beside it: its name with `suffix` added.
pub fn beside_db(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(suffix);
    db.with_file_name(name)
}

impl RunStatus {
    pub fn read(path: &Path) -> Option<RunStatus> {
        let text = std::fs::read_to_string(path).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Replaced whole (see [`crate::files::write_atomic`]): readers never
    /// see half of it.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        crate::files::write_atomic(path, text.as_bytes())
    }

    /// Whether the process that wrote it is still running.
    pub fn is_live(&self) -> bool {
        process_alive(self.pid)
    }
}

fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

pub(super) async fn forward_stats(
    mut stats: watch::Receiver<CollectorStats>,
    out: watch::Sender<CollectorStats>,
    stop: CancellationToken,
) {
    loop {
        out.send_replace(stats.borrow_and_update().clone());
        tokio::select! {
            _ = stop.cancelled() => break,
            r = stats.changed() => if r.is_err() { break },
        }
    }
}

pub(super) async fn write_status(
    path: PathBuf,
    mut source: watch::Receiver<SourceStatus>,
    mut stats: watch::Receiver<CollectorStats>,
    mut bus: Option<watch::Receiver<BusStatus>>,
    shutdown: CancellationToken,
) {
    let started = Utc::now();
    loop {
        let s = source.borrow_and_update().clone();
        let c = stats.borrow_and_update().clone();
        let b = bus.as_mut().map(|b| b.borrow_and_update().clone());
        write_once(&path, &s, &c, b, Some(started));
        let bus_changed = async {
            match bus.as_mut() {
                Some(b) => b.changed().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            r = source.changed() => if r.is_err() { break },
            r = stats.changed() => if r.is_err() { break },
            r = bus_changed => if r.is_err() { break },
        }
        // At most a few writes a second, however busy the pipeline is.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub(super) fn write_once(
    path: &Path,
    s: &SourceStatus,
    c: &CollectorStats,
    bus: Option<BusStatus>,
    started: Option<DateTime<Utc>>,
) {
    let started_at = started
        .or_else(|| RunStatus::read(path).map(|r| r.started_at))
        .unwrap_or_else(Utc::now);
    let status = RunStatus {
        pid: std::process::id(),
        started_at,
        updated_at: Utc::now(),
        source: s.clone(),
        collector: c.into(),
        bus,
    };
    if let Err(e) = status.write(path) {
        tracing::warn!(path = %path.display(), error = %e, "cannot write the status file");
    }
}
