//! Retention: the ticks before a day go, their sums and identities stay.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::packed::{content_digest, for_each_packed};
use super::rows::int_at;
use super::{SqliteStore, META_MINUTE_DATA_FROM};
use crate::store::error::StoreError;

impl SqliteStore {
    /// Retention: deletes the ticks before `before` (and what only they
    /// needed, their destinations among it), keeping the hourly, daily,
    /// destination and coverage sums, and gives the
    /// freed pages back to the file system. Returns the ticks deleted.
    /// `before` only moves forward: an earlier one deletes nothing. With no
    /// tick before `before`, nothing changes.
    pub fn prune_minutes(&mut self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let cut = before.timestamp();
        if self.minute_data_from.is_some_and(|t| t >= cut) {
            return Ok(0);
        }
        let deleted = (|| -> rusqlite::Result<u64> {
            let tx = self.conn.transaction()?;
            {
                let mut keep = tx.prepare(
                    "INSERT OR REPLACE INTO pruned (ts, host_id, digest) VALUES (?1, ?2, ?3)",
                )?;
                let mut old =
                    tx.prepare("SELECT ts, host_id, interval_s, apps FROM ticks WHERE ts < ?1")?;
                let mut rows = old.query([cut])?;
                while let Some(r) = rows.next()? {
                    let blob = r.get_ref(3)?.as_blob().unwrap_or(&[]);
                    let mut samples = Vec::new();
                    // A damaged blob keeps a digest nothing will match.
                    let _ = for_each_packed(blob, |a, i, o| samples.push((a, i, o)));
                    keep.execute(params![
                        int_at(r, 0),
                        int_at(r, 1),
                        content_digest(int_at(r, 2), &samples)
                    ])?;
                }
            }
            let n = tx.execute("DELETE FROM ticks WHERE ts < ?1", [cut])?;
            tx.execute("DELETE FROM tick_destinations WHERE ts < ?1", [cut])?;
            tx.execute("DELETE FROM tick_networks WHERE ts < ?1", [cut])?;
            if n == 0 {
                // Nothing older: the minutes imported later stay whole
                // until the next round.
                return Ok(0);
            }
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [META_MINUTE_DATA_FROM, &cut.to_string()],
            )?;
            tx.commit()?;
            Ok(n as u64)
        })()
        .map_err(|e| self.err(e))?;
        if deleted > 0 {
            self.minute_data_from = Some(cut);
            self.give_back_free_pages()?;
        }
        Ok(deleted)
    }

    /// Frees the pages of deleted rows: incrementally where the file was
    /// made so, else once by a full `VACUUM`, which makes it so.
    fn give_back_free_pages(&mut self) -> Result<(), StoreError> {
        let mode: i64 = self
            .conn
            .pragma_query_value(None, "auto_vacuum", |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if mode == 2 {
            // Each step of the pragma frees one page: run it to its end.
            let mut stmt = self
                .conn
                .prepare("PRAGMA incremental_vacuum")
                .map_err(|e| self.err(e))?;
            let mut rows = stmt.query([]).map_err(|e| self.err(e))?;
            while rows.next().map_err(|e| self.err(e))?.is_some() {}
        } else {
            self.conn
                .execute_batch("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;")
                .map_err(|e| self.err(e))?;
        }
        // The write-ahead log holds the old pages until a checkpoint.
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(|e| self.err(e))
    }
}
