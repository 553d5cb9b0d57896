//! Where each run of an explanation sent and received its bytes: the
//! day's destinations of the run's apps in the run's hours, named, the
//! largest in the run's direction first.

use std::collections::BTreeMap;

use crate::destination::Namer;
use crate::intel::matrix::AppView;
use crate::intel::verdict::{Direction, Explanation, RunDestination, TOP_DESTINATIONS};
use crate::store::HourlyDestination;

/// Names the destinations of each of `runs` from the day's `places`. A
/// run's app is a matrix column: a group (the browsers) gathers its apps.
pub(crate) fn name_runs(
    runs: &mut [Explanation],
    places: &[HourlyDestination],
    view: &AppView,
    namer: &Namer,
) {
    for run in runs.iter_mut().filter(|r| r.destinations.is_empty()) {
        // Per name shown: its bytes in and out, and the org and country.
        let mut by_name: BTreeMap<String, RunDestination> = BTreeMap::new();
        // A run of a group (the browsers) is named after the member app
        // that moved most of it: that app's destinations, or the group's.
        let of_run = |app: &str| app == run.app || view.label(app) == run.app;
        for p in places
            .iter()
            .filter(|p| of_run(&p.app) && (run.from_hour..run.to_hour).contains(&p.hour))
        {
            let named = namer.name(p.address);
            let e = by_name
                .entry(named.destination.clone())
                .or_insert_with(|| RunDestination {
                    destination: named.destination,
                    org: named.org,
                    country: named.country,
                    bytes_in: 0,
                    bytes_out: 0,
                });
            e.bytes_in = e.bytes_in.saturating_add(p.bytes_in);
            e.bytes_out = e.bytes_out.saturating_add(p.bytes_out);
        }
        let upload = run.direction == Some(Direction::Upload);
        let size = |d: &RunDestination| match upload {
            true => d.bytes_out,
            false => d.bytes_in.saturating_add(d.bytes_out),
        };
        let mut found: Vec<RunDestination> =
            by_name.into_values().filter(|d| size(d) > 0).collect();
        found.sort_by(|a, b| {
            size(b)
                .cmp(&size(a))
                .then_with(|| a.destination.cmp(&b.destination))
        });
        found.truncate(TOP_DESTINATIONS);
        run.destinations = found;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::matrix::browsers;
    use chrono::NaiveDate;

    fn place(app: &str, hour: u8, addr: &str, i: u64, o: u64) -> HourlyDestination {
        HourlyDestination {
            day: NaiveDate::from_ymd_opt(2026, 7, 14).unwrap(),
            hour,
            app: app.into(),
            address: addr.parse().unwrap(),
            bytes_in: i,
            bytes_out: o,
        }
    }

    #[test]
    fn an_upload_names_where_it_went_and_a_group_gathers_its_apps() {
        let mut runs = vec![Explanation {
            app: "Web browsers".into(),
            from_hour: 3,
            to_hour: 4,
            bytes: 2_000_000_000,
            typical_bytes: 33_000_000,
            direction: Some(Direction::Upload),
            destinations: Vec::new(),
            new: None,
        }];
        let places = vec![
            place("Google Chrome", 3, "192.0.2.10", 900_000_000, 1_000),
            place("Google Chrome", 3, "192.168.1.1", 1_000, 5_000),
            place("Safari", 3, "198.51.100.7", 0, 1_990_000_000),
            place("Safari", 5, "198.51.100.7", 0, 7_000_000_000),
            place("Slack", 3, "203.0.113.1", 0, 9_000_000_000),
        ];
        name_runs(
            &mut runs,
            &places,
            &AppView::new(vec![browsers()]),
            &Namer::shipped(),
        );
        let names: Vec<(&str, u64)> = runs[0]
            .destinations
            .iter()
            .map(|d| (d.destination.as_str(), d.bytes_out))
            .collect();
        assert_eq!(
            names,
            vec![
                ("198.51.100.7", 1_990_000_000),
                ("local network", 5_000),
                ("192.0.2.10", 1_000)
            ],
            "the upload's largest sent first; other hours and apps left out"
        );
        assert_eq!(
            runs[0].sentence(),
            "Web browsers 03:00–04:00, uploaded 2.0 GB to 198.51.100.7; typically 33 MB"
        );
    }
}
