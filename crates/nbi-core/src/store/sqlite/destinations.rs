//! Where bytes went: the destination breakdown ([`super::breakdown`])
//! keyed by remote address.

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::NaiveDate;
use chrono_tz::Tz;

use super::breakdown::{Placed, DESTINATIONS};
use super::SqliteStore;
use crate::store::error::StoreError;
use crate::store::usage::{DestinationTotal, HostFilter};

impl SqliteStore {
    /// Every address id and its address.
    pub(super) fn address_names(&self) -> Result<BTreeMap<i64, IpAddr>, StoreError> {
        self.keys_of(DESTINATIONS, |text| text.parse().ok())
    }

    /// The destinations of the ticks at `[start, end)` (minute rows), by
    /// (ts, host id) then app id.
    pub(super) fn tick_destinations(
        &self,
        host: Option<i64>,
        start: i64,
        end: i64,
    ) -> Result<Placed<IpAddr>, StoreError> {
        self.tick_parts(DESTINATIONS, &self.address_names()?, host, start, end)
    }

    /// The hourly destination sums of the hours at `[start, end)`, by
    /// (hour, host id) then app id.
    pub(super) fn hourly_destinations_by_id(
        &self,
        host: Option<i64>,
        start: i64,
        end: i64,
    ) -> Result<Placed<IpAddr>, StoreError> {
        self.hourly_parts(DESTINATIONS, &self.address_names()?, host, start, end)
    }

    /// Per app and address, the bytes of the local days `from..=to`
    /// (hours that start inside them), largest first; `app` keeps one app.
    pub(super) fn destination_totals(
        &self,
        host: &HostFilter,
        from: NaiveDate,
        to: NaiveDate,
        tz: Tz,
        app: Option<&str>,
    ) -> Result<Vec<DestinationTotal>, StoreError> {
        crate::store::answer::range(from, to, tz)?;
        let Some(host_id) = self.host_id_for_query(host)? else {
            return Ok(Vec::new());
        };
        let sums = self.totals_by_key(DESTINATIONS, host_id, from, to, tz)?;
        if sums.is_empty() {
            return Ok(Vec::new());
        }
        let apps = self.app_names()?;
        let addresses = self.address_names()?;
        let mut out: Vec<DestinationTotal> = sums
            .into_iter()
            .filter_map(|((app_id, addr_id), (i, o))| {
                let name = apps.get(&app_id)?;
                if app.is_some_and(|a| a != name) {
                    return None;
                }
                Some(DestinationTotal {
                    app: name.clone(),
                    address: *addresses.get(&addr_id)?,
                    bytes_in: i,
                    bytes_out: o,
                })
            })
            .collect();
        crate::store::answer::sort_destinations(&mut out);
        Ok(out)
    }
}
