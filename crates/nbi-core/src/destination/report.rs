//! `nbi destinations` and the window's History: per app, where its bytes
//! went over a range of local days, named.

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::Serialize;

use super::names::NameCache;
use super::Namer;
use crate::store::{HostFilter, StoreError, UsageQuery};

/// One app's bytes to one destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DestinationRow {
    pub app: String,
    /// What is shown: the organisation and country, "local network", or
    /// the address.
    pub destination: String,
    /// The remote address.
    pub address: std::net::IpAddr,
    pub org: Option<String>,
    pub country: Option<String>,
    /// The address's reverse DNS name, when one was found.
    pub host: Option<String>,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// The destinations of a range of local days, largest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Destinations {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub rows: Vec<DestinationRow>,
}

/// What to read.
#[derive(Debug, Clone)]
pub struct DestinationsQuery {
    pub host: HostFilter,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Only this app.
    pub app: Option<String>,
}

/// Reads and names the destinations `query` asks for; `names` gives the
/// reverse DNS names found so far (none when lookups are off).
///
/// # Errors
/// The store's (an unreachable server, a range that ends before it starts).
pub fn read(
    store: &dyn UsageQuery,
    query: &DestinationsQuery,
    tz: Tz,
    namer: &Namer,
    names: Option<&NameCache>,
) -> Result<Destinations, StoreError> {
    let totals = store.destinations(&query.host, query.from, query.to, tz, query.app.as_deref())?;
    let rows = totals
        .into_iter()
        .map(|t| {
            let named = namer.name(t.address);
            DestinationRow {
                app: t.app,
                destination: named.destination,
                address: named.address,
                org: named.org,
                country: named.country,
                host: names.and_then(|n| n.name(t.address)).map(str::to_string),
                bytes_in: t.bytes_in,
                bytes_out: t.bytes_out,
            }
        })
        .collect();
    Ok(Destinations {
        from: query.from,
        to: query.to,
        rows,
    })
}
