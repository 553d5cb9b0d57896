//! Logs go to the OS log directory (`~/Library/Logs/dev.nbi.app` on macOS,
//! `~/.local/share/dev.nbi.app/logs` on Linux) and to stderr. `NBI_LOG`
//! sets the level (`info` by default, e.g. `debug` or `nbi_core=debug`).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{fmt, EnvFilter};

const FILE: &str = "nbi-app.log";
/// One older file is kept; the log starts afresh beyond this size.
const MAX_BYTES: u64 = 8 << 20;

/// Starts logging; returns the log file, when it could be opened.
pub fn init(dir: &Path) -> Option<PathBuf> {
    let filter = EnvFilter::try_from_env("NBI_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let path = dir.join(FILE);
    // The log says which apps were used when: its owner's alone.
    let file = nbi_core::files::create_dir_private(dir)
        .and_then(|_| {
            if std::fs::metadata(&path).is_ok_and(|m| m.len() > MAX_BYTES) {
                std::fs::rename(&path, path.with_extension("log.1"))?;
            }
            nbi_core::files::tighten(dir);
            nbi_core::files::tighten(&path.with_extension("log.1"));
            let file = nbi_core::files::open_append(&path)?;
            nbi_core::files::tighten(&path);
            Ok(file)
        })
        .map_err(|e| eprintln!("cannot write the log file {}: {e}", path.display()))
        .ok();
    let opened = file.is_some();
    let to_file = file.map(|f| fmt::layer().with_ansi(false).with_writer(Mutex::new(f)));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt::layer().with_writer(std::io::stderr))
        .with(to_file)
        .try_init();
    opened.then_some(path)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_log_is_its_owners_alone() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        let path = super::init(&logs).expect("the log opens");
        tracing::info!("a line");
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&logs), 0o700);
    }
}
