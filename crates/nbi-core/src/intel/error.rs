//! What can go wrong while judging a day.

use crate::store::StoreError;

/// What can go wrong while judging a day.
#[derive(Debug, thiserror::Error)]
pub enum IntelError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("model: {0}")]
    Model(String),
    #[error("invalid: {0}")]
    Invalid(String),
}

impl IntelError {
    /// Whether judging the same day again later may succeed (a busy or
    /// unreachable store); a model or data problem stays.
    pub fn is_transient(&self) -> bool {
        match self {
            IntelError::Store(e) => e.is_transient(),
            IntelError::Model(_) | IntelError::Invalid(_) => false,
        }
    }
}
