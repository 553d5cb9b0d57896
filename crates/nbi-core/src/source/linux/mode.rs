//! How the Linux source sees connections on this machine.

use serde::{Deserialize, Serialize};

/// How the source sees connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum CaptureMode {
    /// Every socket's payload, TCP and UDP, counted by the kernel (eBPF).
    Kernel,
    /// sock_diag cannot be used here (not Linux, or the kernel lacks it).
    Unavailable,
    /// Polling the TCP table only.
    Polling,
    /// Polling plus the final counters of every closed connection.
    PollingWithDestroyEvents,
}

impl CaptureMode {
    /// One sentence for a status line.
    pub fn describe(self) -> &'static str {
        match self {
            CaptureMode::Kernel => {
                "every socket's bytes, TCP and UDP, counted by the kernel (eBPF)"
            }
            CaptureMode::Unavailable => "the kernel's socket table (sock_diag) is not available",
            CaptureMode::Polling => {
                "polling TCP sockets; what a connection moves after its last poll before it closes is missed (destroy notifications need CAP_NET_ADMIN)"
            }
            CaptureMode::PollingWithDestroyEvents => {
                "polling TCP sockets, with the final counters of every closed connection"
            }
        }
    }
}

/// As in `nbi status --json`.
impl std::fmt::Display for CaptureMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CaptureMode::Kernel => "kernel",
            CaptureMode::Unavailable => "unavailable",
            CaptureMode::Polling => "polling",
            CaptureMode::PollingWithDestroyEvents => "polling-with-destroy-events",
        })
    }
}

/// What this machine lets the source do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinuxCapabilities {
    /// The TCP socket table can be dumped.
    pub sock_diag: bool,
    /// TCP destroy notifications can be received (CAP_NET_ADMIN).
    pub destroy_events: bool,
    /// Every process's fd table is readable (root or CAP_SYS_PTRACE), so
    /// every process's sockets can be attributed, not only our own user's.
    pub all_processes: bool,
}

impl LinuxCapabilities {
    /// The mode of the fallback (TCP only) a source with destroy
    /// notifications enabled would use.
    pub fn mode(&self) -> CaptureMode {
        match (self.sock_diag, self.destroy_events) {
            (false, _) => CaptureMode::Unavailable,
            (true, false) => CaptureMode::Polling,
            (true, true) => CaptureMode::PollingWithDestroyEvents,
        }
    }
}
