//! Where nbi keeps its files, per the OS conventions
//! (`~/Library/Application Support/…` on macOS, XDG directories elsewhere).

use std::path::PathBuf;

use directories::ProjectDirs;

fn dirs() -> Option<ProjectDirs> {
    ProjectDirs::from("dev", "nbi", "nbi")
}

/// The data directory; `./nbi-data` when the OS gives no home directory.
pub fn data_dir() -> PathBuf {
    dirs()
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from("nbi-data"))
}

/// The default database.
pub fn default_db() -> PathBuf {
    data_dir().join("nbi.sqlite")
}

/// The separate database `nbi demo` writes, so a demo never mixes with real history.
pub fn demo_db() -> PathBuf {
    data_dir().join("demo.sqlite")
}

/// The default configuration file.
pub fn default_config() -> Option<PathBuf> {
    dirs().map(|d| d.config_dir().join("config.toml"))
}
