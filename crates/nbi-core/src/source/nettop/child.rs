//! The nettop child process: started, owned, read line by line, and never
//! left behind.

use std::io;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

/// The flags of the one long-running nettop: per process (`-P`), deltas
/// (`-d`), raw numbers (`-x`), logging forever (`-L 0`), every `interval`,
/// only the byte columns.
pub(super) fn nettop_args(interval: Duration) -> Vec<String> {
    vec![
        "-P".into(),
        "-d".into(),
        "-x".into(),
        "-L".into(),
        "0".into(),
        "-s".into(),
        seconds_arg(interval),
        "-J".into(),
        "bytes_in,bytes_out".into(),
    ]
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

/// Starts nettop with its output piped to us. The child is killed when its
/// handle is dropped and, on Linux, when this process dies.
pub(super) fn spawn(program: &Path, interval: Duration) -> io::Result<Child> {
    let mut cmd = Command::new(program);
    cmd.args(nettop_args(interval))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // Its own process group: a Ctrl-C in our terminal is ours to handle;
        // nettop stops when we stop it.
        .process_group(0);
    die_with_parent(&mut cmd);
    cmd.spawn()
}

/// Linux: the kernel kills the child when the thread that started it dies,
/// even by SIGKILL. Children are started from runtime worker threads, which
/// live as long as the runtime.
#[cfg(target_os = "linux")]
fn die_with_parent(cmd: &mut Command) {
    let parent = std::process::id();
    // SAFETY: runs between fork and exec; prctl, getppid and _exit are
    // async-signal-safe and nothing is allocated.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if libc::getppid() as u32 != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

/// Elsewhere (macOS has no PDEATHSIG) nettop dies of SIGPIPE at its next
/// write once our end of the pipe is gone; the pid file covers the rest.
#[cfg(not(target_os = "linux"))]
fn die_with_parent(_cmd: &mut Command) {}

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

/// What [`LineReader::next`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReadEvent {
    /// A line is in [`LineReader::line`].
    Line,
    /// A line longer than the limit was read and thrown away.
    TooLong,
    Eof,
}

/// Reads lines of bounded length from a pipe. `next` is cancel-safe: a
/// partly read line is kept for the next call.
pub(super) struct LineReader<R> {
    inner: BufReader<R>,
    buf: Vec<u8>,
    max: usize,
    ready: bool,
    discarding: bool,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub(super) fn new(inner: R, max: usize) -> Self {
        LineReader {
            inner: BufReader::new(inner),
            buf: Vec::new(),
            max,
            ready: false,
            discarding: false,
        }
    }

    /// The last line read, without its newline.
    pub(super) fn line(&self) -> &[u8] {
        &self.buf
    }

    pub(super) async fn next(&mut self) -> io::Result<ReadEvent> {
        if self.ready {
            self.buf.clear();
            self.ready = false;
        }
        loop {
            let chunk = self.inner.fill_buf().await?;
            if chunk.is_empty() {
                if self.discarding {
                    self.discarding = false;
                    return Ok(ReadEvent::TooLong);
                }
                if self.buf.is_empty() {
                    return Ok(ReadEvent::Eof);
                }
                self.ready = true;
                return Ok(ReadEvent::Line);
            }
            let (take, newline) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            if !self.discarding {
                if self.buf.len() + take > self.max {
                    self.discarding = true;
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(&chunk[..take]);
                }
            }
            self.inner.consume(take + usize::from(newline));
            if newline {
                if self.discarding {
                    self.discarding = false;
                    return Ok(ReadEvent::TooLong);
                }
                self.ready = true;
                return Ok(ReadEvent::Line);
            }
        }
    }
}

/// Records the child's pid so a later run can stop it if we die first.
pub(super) fn write_pid_file(path: &Path, pid: u32) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, format!("{pid}\n"))
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
    named && tokens.contains(&"-P") && tokens.contains(&"bytes_in,bytes_out")
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
        assert_eq!(
            nettop_args(Duration::from_secs(60)).join(" "),
            "-P -d -x -L 0 -s 60 -J bytes_in,bytes_out"
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
        assert!(
            !looks_like_our_nettop("nettop -m route"),
            "a person's own nettop"
        );
        assert!(!looks_like_our_nettop("sleep 30 -P bytes_in,bytes_out"));
        assert!(!looks_like_our_nettop(""));
    }

    #[tokio::test]
    async fn lines_are_bounded_and_the_last_needs_no_newline() {
        let input: &[u8] = b"a,b\n\nxxxxxxxxxxxxxxxxxxxx\nlast";
        let mut r = LineReader::new(input, 8);
        assert_eq!(r.next().await.unwrap(), ReadEvent::Line);
        assert_eq!(r.line(), b"a,b");
        assert_eq!(r.next().await.unwrap(), ReadEvent::Line);
        assert_eq!(r.line(), b"");
        assert_eq!(r.next().await.unwrap(), ReadEvent::TooLong);
        assert_eq!(r.next().await.unwrap(), ReadEvent::Line);
        assert_eq!(r.line(), b"last");
        assert_eq!(r.next().await.unwrap(), ReadEvent::Eof);
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
