//! The nettop child process: started, owned, read line by line, and never
//! left behind.
//!
//! nettop's stdio buffers its output in blocks when it writes into a pipe: a
//! sample then arrives minutes late, in bursts that split it anywhere. So its
//! output goes to a pseudo-terminal (raw mode, so no CR is added, and a wide
//! window, so no line is cut), where stdio flushes every line, and
//! `NSUnbufferedIO=YES` is set as well, which Foundation's stdio honours on
//! a pipe. The terminal is nettop's controlling terminal: when we die, our
//! end closes and nettop gets SIGHUP (macOS has no parent-death signal).
//! Its stdin is a pipe we hold open and never write: at end of file
//! (`/dev/null`, what an app launched from Finder has) nettop's keyboard
//! loop spins at a whole core. `TZ=UTC` makes its `time` column UTC.
//! Where no terminal can be had, a plain pipe is used and the reader
//! expects bursts.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};

/// What nettop is asked for besides the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Ask {
    /// Loopback counts: no `-t external`.
    pub loopback: bool,
    /// Each process's socket rows (its remote ends and interfaces), not
    /// only its totals (`-P`).
    pub sockets: bool,
}

/// The flags of the one long-running nettop: deltas (`-d`), raw numbers
/// (`-x`), no name lookups (`-n`), logging forever (`-L 0`), every
/// `interval`, the sample time and the byte columns; per process only
/// (`-P`), or with each process's socket rows and their interface column;
/// only non-loopback interfaces (`-t external`) unless loopback counts.
pub(super) fn nettop_args(interval: Duration, ask: Ask) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    if !ask.sockets {
        args.push("-P".into());
    }
    let columns = if ask.sockets {
        "time,interface,bytes_in,bytes_out"
    } else {
        "time,bytes_in,bytes_out"
    };
    args.extend([
        "-d".into(),
        "-x".into(),
        "-n".into(),
        "-L".into(),
        "0".into(),
        "-s".into(),
        seconds_arg(interval),
        "-J".into(),
        columns.into(),
    ]);
    if !ask.loopback {
        args.extend(["-t".into(), "external".into()]);
    }
    args
}

/// Whole seconds as nettop takes them; a fraction only for sub-second
/// intervals (which stand-ins accept).
fn seconds_arg(interval: Duration) -> String {
    if interval.subsec_nanos() == 0 {
        interval.as_secs().to_string()
    } else {
        let s = format!("{:.3}", interval.as_secs_f64());
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// How nettop's output reaches us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Channel {
    /// A pseudo-terminal: every line as soon as nettop prints it.
    Terminal,
    /// A pipe: lines may come late and in bursts.
    Pipe,
}

/// A started nettop with its output.
pub(super) struct Spawned {
    pub child: Child,
    pub stdout: Output,
    pub stderr: ChildStderr,
    pub channel: Channel,
    /// Held open (never written) for as long as nettop runs.
    _stdin: ChildStdin,
}

/// nettop's standard output, from a terminal or a pipe.
pub(super) enum Output {
    Terminal(TerminalReader),
    Pipe(ChildStdout),
}

impl AsyncRead for Output {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Output::Terminal(t) => Pin::new(t).poll_read(cx, buf),
            Output::Pipe(p) => Pin::new(p).poll_read(cx, buf),
        }
    }
}

/// Starts nettop as described in the module documentation; `terminal:
/// false` (or a system out of terminals) uses a pipe. The child is killed
/// when its handle is dropped and, on Linux, when this process dies.
pub(super) fn spawn(
    program: &Path,
    interval: Duration,
    ask: Ask,
    terminal: bool,
) -> io::Result<Spawned> {
    let pty = if terminal {
        match open_terminal() {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!(error = %e, "no pseudo-terminal for nettop; reading it from a pipe");
                None
            }
        }
    } else {
        None
    };
    let mut cmd = Command::new(program);
    cmd.args(nettop_args(interval, ask))
        .env("NSUnbufferedIO", "YES")
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let (master, channel) = match pty {
        Some((master, slave)) => {
            cmd.stdout(Stdio::from(slave));
            (Some(master), Channel::Terminal)
        }
        None => {
            cmd.stdout(Stdio::piped());
            (None, Channel::Pipe)
        }
    };
    own_session(&mut cmd, channel == Channel::Terminal);
    let mut child = cmd.spawn()?;
    // The command holds our copy of the terminal's child end: once it is
    // gone, nettop's exit reads as the end of its output.
    drop(cmd);
    let (Some(stdin), Some(stderr)) = (child.stdin.take(), child.stderr.take()) else {
        return Err(io::Error::other("nettop's stdin and stderr were not piped"));
    };
    let stdout = match master {
        Some(m) => Output::Terminal(TerminalReader::new(m)?),
        None => Output::Pipe(
            child
                .stdout
                .take()
                .ok_or_else(|| io::Error::other("nettop's output was not piped"))?,
        ),
    };
    Ok(Spawned {
        child,
        stdout,
        stderr,
        channel,
        _stdin: stdin,
    })
}

/// A pseudo-terminal in raw mode with a wide window: (our end, nettop's end).
fn open_terminal() -> io::Result<(OwnedFd, OwnedFd)> {
    let (mut master, mut slave): (RawFd, RawFd) = (-1, -1);
    // SAFETY: openpty writes two descriptors; name, termios and window are
    // optional (null) and set below.
    let r = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: openpty succeeded, so both are open descriptors owned by us.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    // SAFETY: plain fcntl/termios/ioctl calls on descriptors we own.
    unsafe {
        // nettop must not inherit our end (it would keep its own terminal open).
        if libc::fcntl(master.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) != 0 {
            return Err(io::Error::last_os_error());
        }
        let flags = libc::fcntl(master.as_raw_fd(), libc::F_GETFL);
        if flags < 0
            || libc::fcntl(master.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) != 0
        {
            return Err(io::Error::last_os_error());
        }
        let mut tio: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(slave.as_raw_fd(), &mut tio) != 0 {
            return Err(io::Error::last_os_error());
        }
        // Raw: no "\n" → "\r\n", no echo, no line discipline.
        libc::cfmakeraw(&mut tio);
        if libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &tio) != 0 {
            return Err(io::Error::last_os_error());
        }
        // A zero-sized window makes nettop exit; a narrow one cuts lines.
        let ws = libc::winsize {
            ws_row: 1000,
            ws_col: 32767,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        if libc::ioctl(slave.as_raw_fd(), libc::TIOCSWINSZ, &ws) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok((master, slave))
}

/// nettop leads a session of its own: a Ctrl-C in our terminal is ours to
/// handle, and with `terminal` its stdout becomes its controlling terminal,
/// which hangs up when our end closes. On Linux the kernel also kills it
/// when the thread that started it dies, even by SIGKILL (children are
/// started from runtime worker threads, which live as long as the runtime).
fn own_session(cmd: &mut Command, terminal: bool) {
    #[cfg(target_os = "linux")]
    let parent = std::process::id();
    // SAFETY: runs between fork and exec; setsid, ioctl, prctl, getppid and
    // _exit are async-signal-safe and nothing is allocated.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            if terminal && libc::ioctl(1, libc::TIOCSCTTY as _, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            #[cfg(target_os = "linux")]
            {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                // The parent may have died before prctl took effect.
                if libc::getppid() as u32 != parent {
                    libc::_exit(1);
                }
            }
            Ok(())
        });
    }
}

/// Our end of nettop's terminal, read without blocking a thread. When
/// nettop's end closes, Linux answers EIO and macOS end of file: both read
/// as end of file.
pub(super) struct TerminalReader {
    fd: AsyncFd<OwnedFd>,
}

impl TerminalReader {
    fn new(master: OwnedFd) -> io::Result<TerminalReader> {
        // SAFETY: the OwnedFd is open and is only closed when the AsyncFd
        // holding it is dropped; its raw descriptor never changes.
        let fd = unsafe { AsyncFd::register_with_interest(master, Interest::READABLE) }?;
        Ok(TerminalReader { fd })
    }
}

impl AsyncRead for TerminalReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut guard = match self.fd.poll_read_ready(cx) {
                Poll::Ready(Ok(g)) => g,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            let unfilled = buf.initialize_unfilled();
            let read = guard.try_io(|fd| {
                // SAFETY: reads into a slice we own, at most its length.
                let n = unsafe {
                    libc::read(
                        fd.get_ref().as_raw_fd(),
                        unfilled.as_mut_ptr().cast(),
                        unfilled.len(),
                    )
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match read {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => return Poll::Ready(Ok(())),
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

/// Stops the child and reaps it, returning how it ended. A child that
/// already exited is just reaped.
pub(super) async fn stop(child: &mut Child, grace: Duration) -> Option<std::process::ExitStatus> {
    if let Ok(Ok(status)) = tokio::time::timeout(grace, child.wait()).await {
        return Some(status);
    }
    if let Err(e) = child.start_kill() {
        tracing::debug!(error = %e, "killing nettop");
    }
    match tokio::time::timeout(Duration::from_secs(5), child.wait()).await {
        Ok(Ok(status)) => Some(status),
        _ => None,
    }
}

/// Records the child's pid so a later run can stop it if we die first.
pub(super) fn write_pid_file(path: &Path, pid: u32) -> io::Result<()> {
    crate::files::write_atomic(path, format!("{pid}\n").as_bytes())
}

pub(super) fn read_pid_file(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Removes the pid file if it still names `pid`.
pub(super) fn remove_pid_file(path: &Path, pid: u32) {
    if read_pid_file(path) == Some(pid) {
        if let Err(e) = std::fs::remove_file(path) {
            tracing::debug!(path = %path.display(), error = %e, "removing nettop pid file");
        }
    }
}

/// Whether `ps -o args=` output is a nettop started the way we start it
/// (directly, or as a script run by an interpreter).
pub(super) fn looks_like_our_nettop(args: &str) -> bool {
    let tokens: Vec<&str> = args.split_whitespace().collect();
    let named = tokens
        .iter()
        .take(2)
        .any(|t| Path::new(t).file_name().and_then(|n| n.to_str()) == Some("nettop"));
    // Older versions asked for the bytes alone, then with the time, per
    // process; newer ones with the socket rows' interface too.
    let per_process = tokens.contains(&"-P")
        && tokens
            .iter()
            .any(|t| *t == "bytes_in,bytes_out" || *t == "time,bytes_in,bytes_out");
    let per_socket = tokens.contains(&"time,interface,bytes_in,bytes_out");
    named && (per_process || per_socket)
}

/// Kills a nettop that a previous run of ours left behind (recorded in
/// `path`), after checking with `ps` that the pid is still such a nettop
/// and not a reused pid. Returns the pid it killed.
pub(super) async fn kill_stale(path: &Path, ps: &Path) -> Option<u32> {
    let pid = read_pid_file(path)?;
    let result = kill_if_ours(pid, ps).await;
    if let Err(e) = std::fs::remove_file(path) {
        tracing::debug!(path = %path.display(), error = %e, "removing stale nettop pid file");
    }
    result
}

async fn kill_if_ours(pid: u32, ps: &Path) -> Option<u32> {
    if pid <= 1 || pid == std::process::id() {
        return None;
    }
    let raw_pid = i32::try_from(pid).ok()?;
    let run = Command::new(ps)
        .args(["-o", "args=", "-p", &pid.to_string()])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(2), run)
        .await
        .ok()?
        .ok()?;
    let args = String::from_utf8_lossy(&out.stdout);
    if !looks_like_our_nettop(&args) {
        tracing::debug!(pid, args = %args.trim(), "pid file names a process that is not our nettop; leaving it");
        return None;
    }
    // SAFETY: kill(2) with a checked positive pid has no memory effects.
    if unsafe { libc::kill(raw_pid, libc::SIGKILL) } != 0 {
        tracing::warn!(pid, error = %io::Error::last_os_error(), "could not stop a nettop left by a previous run");
        return None;
    }
    tracing::info!(pid, "stopped a nettop left by a previous run");
    Some(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_argument() {
        assert_eq!(seconds_arg(Duration::from_secs(60)), "60");
        assert_eq!(seconds_arg(Duration::from_millis(200)), "0.2");
        assert_eq!(seconds_arg(Duration::from_millis(1500)), "1.5");
        let ask = |loopback, sockets| Ask { loopback, sockets };
        assert_eq!(
            nettop_args(Duration::from_secs(60), ask(false, false)).join(" "),
            "-P -d -x -n -L 0 -s 60 -J time,bytes_in,bytes_out -t external"
        );
        assert_eq!(
            nettop_args(Duration::from_secs(60), ask(true, false)).join(" "),
            "-P -d -x -n -L 0 -s 60 -J time,bytes_in,bytes_out",
            "loopback counts: every interface"
        );
        assert_eq!(
            nettop_args(Duration::from_secs(60), ask(false, true)).join(" "),
            "-d -x -n -L 0 -s 60 -J time,interface,bytes_in,bytes_out -t external",
            "destinations: each process's socket rows, with their interface"
        );
    }

    #[test]
    fn recognises_only_our_nettop() {
        assert!(looks_like_our_nettop(
            "/usr/bin/nettop -P -d -x -L 0 -s 60 -J bytes_in,bytes_out\n"
        ));
        assert!(looks_like_our_nettop(
            "python3 /x/support/bin/nettop -P -d -x -L 0 -s 0.2 -J bytes_in,bytes_out"
        ));
        assert!(looks_like_our_nettop(
            "/usr/bin/nettop -P -d -x -n -L 0 -s 60 -J time,bytes_in,bytes_out -t external"
        ));
        assert!(looks_like_our_nettop(
            "/usr/bin/nettop -d -x -n -L 0 -s 60 -J time,interface,bytes_in,bytes_out -t external"
        ));
        assert!(
            !looks_like_our_nettop("nettop -m route"),
            "a person's own nettop"
        );
        assert!(!looks_like_our_nettop("sleep 30 -P bytes_in,bytes_out"));
        assert!(!looks_like_our_nettop(""));
    }

    #[test]
    fn pid_file_round_trip_only_removes_its_own_pid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/nettop.pid");
        write_pid_file(&path, 4242).unwrap();
        assert_eq!(read_pid_file(&path), Some(4242));
        remove_pid_file(&path, 1);
        assert!(path.exists(), "another pid's file stays");
        remove_pid_file(&path, 4242);
        assert!(!path.exists());
    }
}
