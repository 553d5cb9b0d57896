//! What the system says: its host name and time zone.

use chrono_tz::Tz;

/// The machine's short host name ("localhost" when it has none).
pub fn local_hostname() -> String {
    let name = gethostname::gethostname().to_string_lossy().into_owned();
    let short = name.split('.').next().unwrap_or("").trim().to_string();
    if short.is_empty() {
        "localhost".to_string()
    } else {
        short
    }
}

/// The system's zone, as [`system_timezone`] names it.
pub fn system_tz() -> Tz {
    system_timezone().parse().unwrap_or(Tz::UTC)
}

/// The system's IANA zone (the `TZ` variable first), UTC when unknown.
pub fn system_timezone() -> String {
    if let Ok(tz) = std::env::var("TZ") {
        let tz = tz.trim_start_matches(':');
        if tz.parse::<Tz>().is_ok() {
            return tz.to_string();
        }
    }
    iana_time_zone::get_timezone()
        .ok()
        .filter(|z| z.parse::<Tz>().is_ok())
        .unwrap_or_else(|| "UTC".to_string())
}
