//! The outcome of judging a day, as stores keep it.

use serde::{Deserialize, Serialize};

/// The outcome of judging a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Normal,
    Anomalous,
    /// Too few baseline days yet.
    Learning,
    /// The day itself was not watched for long enough.
    InsufficientData,
    /// Judging failed for good (the summary says why); the schedule moved
    /// on. `nbi detect --day` tries again.
    Failed,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Normal,
        Status::Anomalous,
        Status::Learning,
        Status::InsufficientData,
        Status::Failed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Status::Normal => "normal",
            Status::Anomalous => "anomalous",
            Status::Learning => "learning",
            Status::InsufficientData => "insufficient_data",
            Status::Failed => "failed",
        }
    }
}

impl std::str::FromStr for Status {
    type Err = String;

    fn from_str(s: &str) -> Result<Status, String> {
        Status::ALL
            .into_iter()
            .find(|st| st.name() == s)
            .ok_or_else(|| format!("unknown verdict status {s:?}"))
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
