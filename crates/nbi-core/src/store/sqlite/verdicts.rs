//! Verdicts, as the judge writes and the owner marks them.

use chrono::{DateTime, NaiveDate};
use rusqlite::params;

use super::SqliteStore;
use crate::store::error::StoreError;
use crate::store::usage::VerdictRecord;
use crate::store::VerdictStore;

const VERDICT_COLUMNS: &str =
    "host, day, status, judged_at, verdict, model, model_meta, marked_normal";

fn verdict_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<VerdictRecord> {
    let day: String = r.get(1)?;
    let day = NaiveDate::parse_from_str(&day, "%Y-%m-%d").map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(VerdictRecord {
        host: r.get(0)?,
        day,
        status: {
            let text: String = r.get(2)?;
            text.parse().map_err(|e: String| {
                rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, e.into())
            })?
        },
        judged_at: DateTime::from_timestamp(r.get(3)?, 0).unwrap_or_default(),
        verdict_json: r.get(4)?,
        model: r.get(5)?,
        model_meta: r.get(6)?,
        marked_normal: r.get::<_, i64>(7)? != 0,
    })
}

/// A database written before verdicts existed, opened read-only, has no
/// verdicts table: it simply has no verdicts.
fn no_verdicts_table(e: &rusqlite::Error) -> bool {
    e.to_string().contains("no such table: verdicts")
}

impl VerdictStore for SqliteStore {
    fn put_verdict(&mut self, v: &VerdictRecord) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO verdicts (host, day, status, judged_at, verdict, model, model_meta, marked_normal)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (host, day) DO UPDATE SET
                   status = excluded.status, judged_at = excluded.judged_at,
                   verdict = excluded.verdict, model = excluded.model,
                   model_meta = excluded.model_meta,
                   marked_normal = marked_normal OR excluded.marked_normal",
                params![
                    v.host,
                    v.day.format("%Y-%m-%d").to_string(),
                    v.status.name(),
                    v.judged_at.timestamp(),
                    v.verdict_json,
                    v.model,
                    v.model_meta,
                    v.marked_normal
                ],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    fn verdicts(
        &self,
        host: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<VerdictRecord>, StoreError> {
        let sql = format!(
            "SELECT {VERDICT_COLUMNS} FROM verdicts WHERE host = ?1 AND day >= ?2 AND day <= ?3
             ORDER BY day"
        );
        let run = || -> rusqlite::Result<Vec<VerdictRecord>> {
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(
                params![
                    host,
                    from.format("%Y-%m-%d").to_string(),
                    to.format("%Y-%m-%d").to_string()
                ],
                verdict_row,
            )?;
            rows.collect()
        };
        match run() {
            Ok(v) => Ok(v),
            Err(e) if no_verdicts_table(&e) => Ok(Vec::new()),
            Err(e) => Err(self.err(e)),
        }
    }

    fn recent_verdicts(&self, host: &str, limit: usize) -> Result<Vec<VerdictRecord>, StoreError> {
        let sql = format!(
            "SELECT {VERDICT_COLUMNS} FROM verdicts WHERE host = ?1 ORDER BY day DESC LIMIT ?2"
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let run = || -> rusqlite::Result<Vec<VerdictRecord>> {
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![host, limit], verdict_row)?;
            rows.collect()
        };
        match run() {
            Ok(v) => Ok(v),
            Err(e) if no_verdicts_table(&e) => Ok(Vec::new()),
            Err(e) => Err(self.err(e)),
        }
    }

    fn mark_normal(&mut self, host: &str, day: NaiveDate) -> Result<bool, StoreError> {
        self.conn
            .execute(
                "UPDATE verdicts SET marked_normal = 1 WHERE host = ?1 AND day = ?2",
                params![host, day.format("%Y-%m-%d").to_string()],
            )
            .map(|n| n > 0)
            .map_err(|e| self.err(e))
    }
}
