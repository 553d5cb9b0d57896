//! What can go wrong with a store.

/// What can go wrong with a store: the database, the server, the query.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("database {path} is read-only: {reason}")]
    ReadOnly { path: String, reason: String },
    #[error("database {path} was written by a newer nbi (schema {found}, this build reads up to {supported})")]
    Schema {
        path: String,
        found: i64,
        supported: i64,
    },
    #[error("InfluxDB at {url} cannot be reached: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("InfluxDB at {url} answered {status}: {body}")]
    Http {
        url: String,
        status: u16,
        body: String,
    },
    #[error("database {path} is damaged: {what} cannot be read")]
    Corrupt { path: String, what: String },
    #[error("database {path} holds no nbi data yet")]
    NotInitialized { path: String },
    #[error("{path} is not nbi's database: {reason}; it is left as it is (choose another file with --db or [store] db)")]
    Foreign { path: String, reason: String },
    #[error("creating {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid query: {0}")]
    Query(String),
}

impl StoreError {
    /// Whether the store refused the write for what it holds (a point the
    /// server rejects, a value out of its range), so that the same write
    /// without that tick may succeed; a store that cannot write at all (a
    /// bad token, a missing database, a full disk) is not.
    pub fn is_about_data(&self) -> bool {
        match self {
            // 400: a bad point (a partial write); 413: too large; 422.
            StoreError::Http { status, .. } => matches!(status, 400 | 413 | 422),
            StoreError::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(
                    rusqlite::ErrorCode::ConstraintViolation
                        | rusqlite::ErrorCode::TooBig
                        | rusqlite::ErrorCode::TypeMismatch
                )
            ),
            _ => false,
        }
    }

    /// Whether trying the same write again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(
                    rusqlite::ErrorCode::DatabaseBusy
                        | rusqlite::ErrorCode::DatabaseLocked
                        | rusqlite::ErrorCode::DiskFull
                        | rusqlite::ErrorCode::SystemIoFailure
                        | rusqlite::ErrorCode::CannotOpen
                )
            ),
            StoreError::Io { .. } => true,
            // A read-only file may be made writable again by its owner.
            StoreError::ReadOnly { .. } => true,
            StoreError::NotInitialized { .. } | StoreError::Unreachable { .. } => true,
            // A 4xx other than 429 (bad line, missing database, bad token)
            // will never succeed by itself; a 5xx or 429 may.
            StoreError::Http { status, .. } => *status >= 500 || *status == 429,
            StoreError::Schema { .. }
            | StoreError::Query(_)
            | StoreError::Corrupt { .. }
            | StoreError::Foreign { .. } => false,
        }
    }
}
