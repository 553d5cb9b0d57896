//! Where bytes went: remote addresses, and the names people know them by.
//!
//! A destination is a remote address. It is shown as the organisation and
//! country that announce it (from the offline [`table::AddressTable`]),
//! as "local network" for private, link-local and CGNAT ranges, else as the
//! address itself.

pub mod names;
pub mod report;
pub mod table;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;
use table::{AddressTable, Place};

/// The `[destinations]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DestinationsConfig {
    /// A newer address table than the one nbi ships: ip-location-db's
    /// `asn-ipv4.csv`/`asn-ipv6.csv` layout, or the file
    /// `scripts/update-address-table` writes. The shipped table is used
    /// when it is unset, missing or unreadable (with a warning).
    pub address_table: Option<PathBuf>,
    /// Look up the reverse DNS name of destinations, beside a run (never
    /// on a source's path), a few dozen every five minutes, kept a week
    /// in `<db>.names.json`. False: no lookups, and no names shown.
    pub reverse_dns: bool,
}

impl Default for DestinationsConfig {
    fn default() -> Self {
        DestinationsConfig {
            address_table: None,
            reverse_dns: true,
        }
    }
}

impl DestinationsConfig {
    /// Checks the keys; an error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self
            .address_table
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            return Err(ConfigError::Invalid(
                "key `destinations.address_table`: expected a file path".into(),
            ));
        }
        Ok(())
    }

    /// The namer these keys describe: the user's table when it loads, else
    /// the shipped one and the reason the user's was not used.
    pub fn namer(&self) -> (Namer, Option<String>) {
        let Some(path) = &self.address_table else {
            return (Namer::shipped(), None);
        };
        match AddressTable::from_path(path) {
            Ok(t) => (Namer::with(Arc::new(t)), None),
            Err(e) => (
                Namer::shipped(),
                Some(format!("{e}; using the address table nbi ships")),
            ),
        }
    }
}

/// A remote address as people know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Named {
    /// What is shown: "Example Hosting (RU)", "local network", or the address.
    pub destination: String,
    pub address: IpAddr,
    /// The organisation announcing the address, when the table knows it.
    pub org: Option<String>,
    /// Its ISO 3166 country code, when the table knows it.
    pub country: Option<String>,
}

/// What a destination is shown as when it is on the owner's own networks.
pub const LOCAL_NETWORK: &str = "local network";

/// Names addresses from an address table.
#[derive(Clone, Default)]
pub struct Namer {
    /// The user's table; `None`: the shipped one.
    table: Option<Arc<AddressTable>>,
}

impl std::fmt::Debug for Namer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.table {
            Some(_) => "Namer(the user's table)",
            None => "Namer(the shipped table)",
        })
    }
}

impl PartialEq for Namer {
    /// The same table.
    fn eq(&self, other: &Namer) -> bool {
        match (&self.table, &other.table) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }
}

impl Namer {
    /// Names from the table nbi ships.
    pub fn shipped() -> Namer {
        Namer { table: None }
    }

    /// Names from `table`.
    pub fn with(table: Arc<AddressTable>) -> Namer {
        Namer { table: Some(table) }
    }

    fn table(&self) -> &AddressTable {
        match &self.table {
            Some(t) => t,
            None => AddressTable::shipped(),
        }
    }

    /// `addr` as people know it.
    pub fn name(&self, addr: IpAddr) -> Named {
        let addr = addr.to_canonical();
        let (org, country) = match self.table().lookup(addr) {
            Place::Local => {
                return Named {
                    destination: LOCAL_NETWORK.into(),
                    address: addr,
                    org: None,
                    country: None,
                }
            }
            Place::Known { org, country, .. } => {
                (org.map(|o| o.to_string()), country.map(|c| c.to_string()))
            }
            Place::Unknown => (None, None),
        };
        let destination = match (&org, &country) {
            (Some(o), Some(c)) => format!("{o} ({c})"),
            (Some(o), None) => o.clone(),
            _ => addr.to_string(),
        };
        Named {
            destination,
            address: addr,
            org,
            country,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_table_that_does_not_load_is_named_and_the_shipped_one_used() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("asn-ipv4.csv");
        let cfg = DestinationsConfig {
            address_table: Some(missing.clone()),
            ..DestinationsConfig::default()
        };
        let (namer, why) = cfg.namer();
        let why = why.expect("the reason is said");
        assert!(why.contains(&missing.display().to_string()), "{why}");
        assert_eq!(namer, Namer::shipped());
        assert_eq!(
            namer.name("8.8.8.8".parse().unwrap()).org.as_deref(),
            Some("Google LLC")
        );
        // A table of the user's own names from it.
        let csv = dir.path().join("mine.csv");
        std::fs::write(&csv, "8.8.8.0,8.8.8.255,64500,Example Resolver\n").unwrap();
        let cfg = DestinationsConfig {
            address_table: Some(csv),
            ..DestinationsConfig::default()
        };
        let (namer, why) = cfg.namer();
        assert!(why.is_none(), "{why:?}");
        let named = namer.name("8.8.8.8".parse().unwrap());
        assert_eq!(named.destination, "Example Resolver");
        assert_eq!(
            namer.name("192.168.1.1".parse().unwrap()).destination,
            LOCAL_NETWORK
        );
        assert_eq!(
            namer.name("9.9.9.9".parse().unwrap()).destination,
            "9.9.9.9",
            "not in the user's table"
        );
    }
}
