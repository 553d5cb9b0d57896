//! What the OS says of the network an interface is on.

use serde::{Deserialize, Serialize};

use crate::tick::NetworkId;

/// What the OS says about the network an interface is on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sighting {
    pub id: NetworkId,
    /// What to call it until its owner names it: a Wi-Fi name, a
    /// connection's name, "Ethernet (eth0)".
    pub name: String,
    /// `Some(true)` when the OS says it is metered (NetworkManager metered
    /// "yes" or "guess-yes", macOS expensive or constrained), `Some(false)`
    /// when it says it is not, `None` when it does not say.
    pub metered: Option<bool>,
}
