//! App identity for nettop rows: pid → the application a person knows.
//!
//! nettop cuts names to 15 characters ("Google Chrome H"), and helpers of one
//! app show up under many names. On macOS `ps -o comm=` prints the full path
//! of a process's executable, whose outermost `.app` bundle names the app.
//! Elsewhere (or when the process is gone) `ps` prints no absolute path and
//! nettop's own name is kept.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use crate::app::app_name_for_exe;

/// Entries not seen for this many blocks are forgotten (pids are reused).
const FORGET_AFTER_BLOCKS: u64 = 1440;
const PS_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug)]
struct Entry {
    raw: String,
    identity: Identity,
    seen: u64,
}

/// What a process is: the app a person knows, and its executable when `ps`
/// could tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub app: String,
    pub exe: Option<PathBuf>,
}

impl Identity {
    /// Known by nettop's name only.
    fn unresolved(raw: &str) -> Identity {
        Identity {
            app: raw.trim_end().to_string(),
            exe: None,
        }
    }
}

/// Caches pid → app by (pid, nettop name) and asks `ps` once per block
/// about the pids it has not seen.
#[derive(Debug)]
pub struct AppResolver {
    ps: Option<PathBuf>,
    cache: HashMap<u32, Entry>,
    block: u64,
}

impl AppResolver {
    /// `ps`: the program to ask; `None` keeps nettop's names.
    pub fn new(ps: Option<PathBuf>) -> AppResolver {
        AppResolver {
            ps,
            cache: HashMap::new(),
            block: 0,
        }
    }

    /// The identity of each `(nettop name, pid)`, in order.
    pub async fn resolve(&mut self, procs: &[(&str, u32)]) -> Vec<Identity> {
        self.block += 1;
        let mut unknown: Vec<u32> = procs
            .iter()
            .filter(|(raw, pid)| self.cache.get(pid).is_none_or(|e| e.raw != *raw))
            .map(|(_, pid)| *pid)
            .collect();
        unknown.sort_unstable();
        unknown.dedup();
        if !unknown.is_empty() {
            let exes = match &self.ps {
                Some(ps) => executables(ps, &unknown).await,
                None => HashMap::new(),
            };
            for (raw, pid) in procs {
                if unknown.binary_search(pid).is_ok() {
                    let exe = exes.get(pid).map(String::as_str);
                    let identity = Identity {
                        app: app_for(raw, exe),
                        exe: exe.filter(|e| e.starts_with('/')).map(PathBuf::from),
                    };
                    self.cache.insert(
                        *pid,
                        Entry {
                            raw: raw.to_string(),
                            identity,
                            seen: 0,
                        },
                    );
                }
            }
        }
        let block = self.block;
        let apps = procs
            .iter()
            .map(|(raw, pid)| match self.cache.get_mut(pid) {
                Some(e) => {
                    e.seen = block;
                    e.identity.clone()
                }
                None => Identity::unresolved(raw),
            })
            .collect();
        if block % 64 == 0 {
            self.cache
                .retain(|_, e| e.seen + FORGET_AFTER_BLOCKS >= block);
        }
        apps
    }

    /// Processes currently remembered.
    pub fn cached(&self) -> usize {
        self.cache.len()
    }
}

/// The app for a process: its executable's app when `ps` gave an absolute
/// path, else nettop's name.
pub fn app_for(raw_name: &str, exe: Option<&str>) -> String {
    exe.filter(|e| e.starts_with('/'))
        .and_then(|e| app_name_for_exe(Path::new(e)))
        .unwrap_or_else(|| raw_name.trim_end().to_string())
}

/// Reads `ps -o pid=,comm=` output: one `pid command` per line, the command
/// possibly holding spaces.
pub fn parse_ps_output(text: &str) -> HashMap<u32, String> {
    text.lines()
        .filter_map(|line| {
            let (pid, comm) = line.trim().split_once(char::is_whitespace)?;
            let comm = comm.trim();
            if comm.is_empty() {
                return None;
            }
            Some((pid.parse().ok()?, comm.to_string()))
        })
        .collect()
}

/// One `ps` call for all `pids`; empty when `ps` cannot tell.
async fn executables(ps: &Path, pids: &[u32]) -> HashMap<u32, String> {
    let list = pids
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let run = Command::new(ps)
        .args(["-o", "pid=,comm=", "-p", &list])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(PS_TIMEOUT, run).await {
        // ps exits non-zero when some pid is gone: still read what it printed.
        Ok(Ok(out)) => parse_ps_output(&String::from_utf8_lossy(&out.stdout)),
        Ok(Err(e)) => {
            tracing::debug!(ps = %ps.display(), error = %e, "could not run ps; keeping nettop's names");
            HashMap::new()
        }
        Err(_) => {
            tracing::debug!(ps = %ps.display(), "ps timed out; keeping nettop's names");
            HashMap::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_output_with_spaces_in_paths() {
        let text = "  4142 /Applications/Google Chrome.app/Contents/Frameworks/Google Chrome Framework.framework/Helpers/Google Chrome Helper.app/Contents/MacOS/Google Chrome Helper\n\
                    1579 /Applications/Spotify.app/Contents/MacOS/Spotify\n\
                    junk\n\
                    99 \n\
                    12 curl\n";
        let m = parse_ps_output(text);
        assert_eq!(m.len(), 3);
        assert_eq!(
            app_for("Google Chrome H", m.get(&4142).map(String::as_str)),
            "Google Chrome"
        );
        assert_eq!(
            app_for("Spotify", m.get(&1579).map(String::as_str)),
            "Spotify"
        );
        // Linux's ps prints the short name: keep nettop's.
        assert_eq!(app_for("curl", m.get(&12).map(String::as_str)), "curl");
        assert_eq!(app_for("Microsoft Edge ", None), "Microsoft Edge");
        assert_eq!(
            app_for("mDNSResponder", Some("/usr/sbin/mDNSResponder")),
            "mDNSResponder"
        );
    }

    #[tokio::test]
    async fn missing_ps_keeps_nettop_names() {
        let mut r = AppResolver::new(Some(PathBuf::from("/nonexistent/ps")));
        let apps: Vec<String> = r
            .resolve(&[("Google Chrome H", 4142), ("curl", 9999)])
            .await
            .into_iter()
            .map(|i| i.app)
            .collect();
        assert_eq!(apps, vec!["Google Chrome H", "curl"]);
        assert_eq!(r.cached(), 2);
        let mut none = AppResolver::new(None);
        assert_eq!(
            none.resolve(&[("a b ", 1)]).await,
            vec![Identity {
                app: "a b".into(),
                exe: None
            }]
        );
    }
}
