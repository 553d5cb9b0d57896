//! What every source shares: its kind, its state as the tray shows it,
//! the context it runs in, its errors, and monotonic tick stamps.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::counting::CountingPolicy;
use crate::source::linux::CaptureMode;

/// Which source to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Nettop,
    Linux,
    Replay,
}

impl SourceKind {
    /// nettop on macOS, the kernel's socket counters elsewhere.
    pub fn platform_default() -> SourceKind {
        if cfg!(target_os = "macos") {
            SourceKind::Nettop
        } else {
            SourceKind::Linux
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Nettop => "nettop",
            SourceKind::Linux => "linux",
            SourceKind::Replay => "replay",
        }
    }
}

impl std::fmt::Display for SourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SourceKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "nettop" => Ok(SourceKind::Nettop),
            "linux" => Ok(SourceKind::Linux),
            "replay" => Ok(SourceKind::Replay),
            other => Err(format!(
                "unknown source {other:?}: expected nettop, linux or replay"
            )),
        }
    }
}

/// What a source is doing, as the status line and the tray show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SourceState {
    Starting,
    Watching,
    Paused,
    /// Not watching; `reason` says why (restarts continue in the background).
    Failing {
        reason: String,
    },
    Stopped,
    /// A replay source that reached the end of its input.
    Finished,
}

/// A source's state with the time of its last tick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceStatus {
    pub source: SourceKind,
    #[serde(flatten)]
    pub state: SourceState,
    pub last_tick: Option<DateTime<Utc>>,
    pub ticks: u64,
    /// How the source sees traffic, where it has a choice (Linux: `kernel`,
    /// or a TCP-only fallback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<CaptureMode>,
    /// Why it runs in that mode, when it is less than it could be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode_note: Option<String>,
    /// Bytes the machine's interfaces moved in the last interval that no
    /// app's payload accounts for (headers, and what the mode cannot see).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unattributed: Option<Unattributed>,
}

/// Bytes of an interval no app was given, each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unattributed {
    pub bytes_in: u64,
    pub bytes_out: u64,
}

pub type StatusTx = watch::Sender<SourceStatus>;

/// What every source needs to run.
#[derive(Clone)]
pub struct SourceContext {
    pub host: String,
    pub interval: Duration,
    /// What counts: applied by the source where it sees processes and sockets.
    pub counting: Arc<CountingPolicy>,
    /// Which network each interface is on; what it sees, the runtime
    /// records.
    pub networks: Arc<crate::network::Watch>,
    pub status: StatusTx,
    pub shutdown: CancellationToken,
}

impl SourceContext {
    pub fn set_state(&self, state: SourceState) {
        self.status.send_if_modified(|s| {
            if s.state == state {
                false
            } else {
                s.state = state;
                true
            }
        });
    }

    /// Says how the source sees traffic, and why when it is a fallback.
    pub fn set_mode(&self, mode: CaptureMode, note: Option<String>) {
        self.status.send_modify(|s| {
            s.mode = Some(mode);
            s.mode_note = note;
        });
    }

    /// The last interval's bytes no app was given.
    pub fn set_unattributed(&self, u: Unattributed) {
        self.status.send_if_modified(|s| {
            let changed = s.unattributed != Some(u);
            s.unattributed = Some(u);
            changed
        });
    }

    pub fn record_tick(&self, at: DateTime<Utc>) {
        self.status.send_modify(|s| {
            s.last_tick = Some(at);
            s.ticks += 1;
            s.state = SourceState::Watching;
        });
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{0}")]
    Unavailable(String),
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the bus refused a tick: {0}")]
    Bus(#[from] crate::bus::BusError),
    #[error("{path}:{line}: {reason}")]
    Input {
        path: String,
        line: usize,
        reason: String,
    },
}

/// A fresh status for a source about to start.
pub fn status_channel(
    kind: SourceKind,
) -> (watch::Sender<SourceStatus>, watch::Receiver<SourceStatus>) {
    watch::channel(SourceStatus {
        source: kind,
        state: SourceState::Starting,
        last_tick: None,
        ticks: 0,
        mode: None,
        mode_note: None,
        unattributed: None,
    })
}

/// Keeps `at` strictly increasing for one source, so that a wall clock that
/// jumps back never makes two ticks share a key (which would drop one).
#[derive(Debug, Default)]
pub struct MonotonicStamp {
    last: Option<i64>,
}

impl MonotonicStamp {
    /// `at`, moved one second past the previous stamp when the wall clock
    /// is at or a little behind it (NTP stepping back a little). A clock
    /// set back by more than an hour is followed: stamping one second after
    /// a time far ahead would put every later tick there.
    pub fn stamp(&mut self, at: DateTime<Utc>) -> DateTime<Utc> {
        let mut secs = at.timestamp();
        if let Some(last) = self.last {
            if secs <= last && last - secs <= FOLLOW_BACK_AFTER_S {
                tracing::warn!(
                    wall = %at,
                    "wall clock is at or behind the previous tick; stamping this tick one second after it"
                );
                secs = last + 1;
            } else if secs < last {
                tracing::warn!(wall = %at, back_s = last - secs, "the wall clock went back; stamping by it");
            }
        }
        self.last = Some(secs);
        DateTime::from_timestamp(secs, 0).unwrap_or(at)
    }
}

/// A wall clock further back than this (seconds) is a clock set back, not
/// a step of NTP: ticks follow it.
const FOLLOW_BACK_AFTER_S: i64 = 3600;
