//! Files that are their owner's alone. A minute-by-minute record of which
//! apps someone used is private: everything nbi writes is created 0600 in
//! directories 0700 (Unix), whatever the umask; files an older version left
//! open to others are tightened once, with a log line; state files are
//! replaced whole (a temporary file created exclusively beside them, synced,
//! renamed over them, the directory synced), so a crash or a planted
//! symlink never leaves half a file or writes through someone else's link.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Mode of every file nbi writes.
pub const FILE_MODE: u32 = 0o600;
/// Mode of every directory nbi makes.
pub const DIR_MODE: u32 = 0o700;

/// Restricts the process's umask so that nothing it (or a library such as
/// SQLite, which makes its `-wal` and `-shm` files itself) creates is open
/// to group or others. Called once at start by every binary.
pub fn restrict_umask() {
    #[cfg(unix)]
    // SAFETY: umask only sets the process's file mode creation mask.
    unsafe {
        libc::umask(0o077);
    }
}

/// Creates `dir` and its missing parents, each one made 0700; directories
/// that already exist are left as they are (they may be the owner's home,
/// or /tmp).
///
/// # Errors
/// The I/O error of the directory that could not be made.
pub fn create_dir_private(dir: &Path) -> std::io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    builder.create(dir)
}

/// Takes group and other permissions off `path` (a file or directory nbi
/// owns) when it has any, and says so; missing paths and paths of another
/// owner are left alone. Returns whether it changed anything.
pub fn tighten(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return false;
        };
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        if meta.file_type().is_symlink() || meta.uid() != me || meta.mode() & 0o077 == 0 {
            return false;
        }
        let mode = if meta.is_dir() { DIR_MODE } else { FILE_MODE };
        let was = meta.mode() & 0o777;
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
            Ok(()) => {
                tracing::info!(path = %path.display(), was = %format!("{was:o}"), now = %format!("{mode:o}"), "tightened: this file is its owner's alone");
                true
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "could not tighten the permissions of a file others can read");
                false
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

/// Whether `path` can be read by users other than its owner (Unix).
pub fn readable_by_others(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o044 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

/// Opens `path` for appending, creating it 0600 (a log, a spool segment).
///
/// # Errors
/// As [`std::fs::OpenOptions::open`].
pub fn open_append(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    options.open(path)
}

/// Replaces `path` with `bytes` whole (see [`Replacement`]), making its
/// directory (0700) first if needed: a state file of nbi's own.
///
/// # Errors
/// The I/O error of the step that failed; `path` is then as it was.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    create_dir_private(parent(path))?;
    let mut file = Replacement::begin(path)?;
    file.write_all(bytes)?;
    file.commit()
}

/// A file being written in place of `path`: a temporary file beside it,
/// created exclusively (a random name; an existing file or link there is
/// never opened) and 0600, which [`Replacement::commit`] syncs and renames
/// over `path`, then syncs the directory. Dropped without a commit, it is
/// removed and `path` is as it was.
pub struct Replacement {
    file: tempfile::NamedTempFile,
    path: PathBuf,
}

impl Replacement {
    /// Starts replacing `path`, in a directory that must exist (an export
    /// into a directory that is not there is an error, not a new one).
    ///
    /// # Errors
    /// The temporary file cannot be made.
    pub fn begin(path: &Path) -> std::io::Result<Replacement> {
        let dir = parent(path);
        let name = path
            .file_name()
            .map(|n| format!(".{}.", n.to_string_lossy()))
            .unwrap_or_else(|| ".nbi.".into());
        let file = tempfile::Builder::new()
            .prefix(&name)
            .suffix(".partial")
            .tempfile_in(dir)?;
        Ok(Replacement {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Syncs the new content, puts it in place of the old, and syncs the
    /// directory so the rename itself survives a power cut.
    ///
    /// # Errors
    /// The I/O error of the step that failed; the old file is then kept.
    pub fn commit(self) -> std::io::Result<()> {
        self.file.as_file().sync_all()?;
        let Replacement { file, path } = self;
        file.persist(&path).map_err(|e| e.error)?;
        sync_dir(parent(&path));
        Ok(())
    }
}

impl Write for Replacement {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Syncs a directory (its entries), where the platform allows it.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Err(e) = std::fs::File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!(dir = %dir.display(), error = %e, "could not sync the directory");
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_replaced_file_is_whole_private_and_never_written_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("state.json");
        write_atomic(&target, b"one").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"one");
        assert_eq!(mode(&target), 0o600);
        // A link planted where a temporary file might go, and one in place
        // of the file itself: neither is written through.
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"untouched").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("state.json.partial")).unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("link.json")).unwrap();
        write_atomic(&target, b"two").unwrap();
        write_atomic(&dir.path().join("link.json"), b"three").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"untouched");
        assert_eq!(std::fs::read(&target).unwrap(), b"two");
        assert_eq!(
            std::fs::read(dir.path().join("link.json")).unwrap(),
            b"three"
        );
        // An abandoned replacement leaves nothing behind.
        let mut r = Replacement::begin(&target).unwrap();
        r.write_all(b"half").unwrap();
        drop(r);
        assert_eq!(std::fs::read(&target).unwrap(), b"two");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".partial") && n.starts_with('.'))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn made_directories_are_private_and_open_files_are_tightened() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b");
        create_dir_private(&deep).unwrap();
        assert_eq!(mode(&deep), 0o700);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        let f = dir.path().join("old.sqlite");
        std::fs::write(&f, b"x").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(readable_by_others(&f));
        assert!(tighten(&f));
        assert_eq!(mode(&f), 0o600);
        assert!(!tighten(&f), "once");
        assert!(!readable_by_others(&f));
    }
}
