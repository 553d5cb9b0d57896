//! Small conversions between SQLite's values and ours.

use std::path::Path;

use chrono::{DateTime, Datelike};
use chrono_tz::Tz;

use crate::store::error::StoreError;

/// A `file:` URI for `path`, escaping what URIs reserve.
pub(super) fn file_uri(path: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut uri = String::from("file:");
    for ch in abs.to_string_lossy().chars() {
        match ch {
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            '%' => uri.push_str("%25"),
            c => uri.push(c),
        }
    }
    uri
}

pub(super) fn sqlite_err(path: &Path, source: rusqlite::Error) -> StoreError {
    if source.sqlite_error_code() == Some(rusqlite::ErrorCode::ReadOnly) {
        return StoreError::ReadOnly {
            path: path.display().to_string(),
            reason: source.to_string(),
        };
    }
    StoreError::Sqlite {
        path: path.display().to_string(),
        source,
    }
}

/// Column `i` of a row of NOT NULL integers. Reads the raw value, which
/// skips rusqlite's per-value conversion checks on the hot scan paths.
/// The local day of `ts` in `tz`, as the daily table keys it.
pub(super) fn local_day_number(ts: i64, tz: Tz) -> i32 {
    let at = DateTime::from_timestamp(ts, 0).unwrap_or_default();
    at.with_timezone(&tz).date_naive().num_days_from_ce()
}

/// The database's size on disk: the file and its write-ahead log.
pub(super) fn file_bytes(path: &Path) -> u64 {
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    size(path) + size(Path::new(&wal))
}

pub(super) fn int_at(row: &rusqlite::Row<'_>, i: usize) -> i64 {
    row.get_ref(i)
        .ok()
        .and_then(|v| v.as_i64().ok())
        .unwrap_or(0)
}

pub(super) fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
