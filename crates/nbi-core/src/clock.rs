//! The wall clock, trusted as far as the machine's own clock agrees.
//!
//! What deletes or judges by the date (retention, the nightly check) must
//! not follow a wall clock set 120 days ahead by mistake: it would delete
//! every minute of history, and judge days that have not happened. A
//! [`PacedClock`] holds the wall clock against the time since boot (which
//! counts suspended time too: Linux's `CLOCK_BOOTTIME`, macOS's
//! `CLOCK_MONOTONIC`), so a laptop waking after a night still sees the
//! night pass, while a jump forward is logged and followed only as fast as
//! time really passes. A jump back is followed at once (and logged): later
//! is never earlier than the truth that way.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// How far the wall clock may run ahead of the boot clock before it is a
/// jump (NTP's corrections are seconds).
pub const SLACK: Duration = Duration::from_secs(5 * 60);

/// Time since boot, suspended time included.
pub fn since_boot() -> Duration {
    #[cfg(target_os = "linux")]
    let id = libc::CLOCK_BOOTTIME;
    #[cfg(all(unix, not(target_os = "linux")))]
    let id = libc::CLOCK_MONOTONIC;
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes into the timespec it is given.
        if unsafe { libc::clock_gettime(id, &mut ts) } == 0 {
            return Duration::new(
                ts.tv_sec.max(0) as u64,
                ts.tv_nsec.clamp(0, 999_999_999) as u32,
            );
        }
    }
    // No boot clock: the process's own, which still paces a running one.
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}

/// The wall clock, paced by the boot clock (see the module's documentation).
#[derive(Debug, Clone, Default)]
pub struct PacedClock {
    /// The time it gave last, and the boot clock then.
    last: Option<(DateTime<Utc>, Duration)>,
}

impl PacedClock {
    pub fn new() -> PacedClock {
        PacedClock::default()
    }

    /// Now.
    pub fn now(&mut self) -> DateTime<Utc> {
        self.at(Utc::now(), since_boot())
    }

    /// The time to act by, given the wall clock `wall` and the boot clock
    /// `boot` (both read now): `wall`, unless it ran ahead of the time
    /// that passed since the last reading by more than [`SLACK`].
    pub fn at(&mut self, wall: DateTime<Utc>, boot: Duration) -> DateTime<Utc> {
        let Some((last, last_boot)) = self.last else {
            self.last = Some((wall, boot));
            return wall;
        };
        let passed = chrono::Duration::from_std(boot.saturating_sub(last_boot))
            .unwrap_or(chrono::Duration::MAX);
        let paced = last.checked_add_signed(passed).unwrap_or(last);
        let slack = chrono::Duration::from_std(SLACK).unwrap_or_default();
        let now = if wall > paced + slack {
            tracing::warn!(
                wall = %wall,
                expected = %paced,
                ahead = %crate::human::duration(wall - paced),
                "the wall clock jumped forward: judging and retention follow the time that really passed"
            );
            paced
        } else {
            if wall < last - slack {
                tracing::warn!(wall = %wall, was = %last, back = %crate::human::duration(last - wall), "the wall clock went back");
            }
            wall
        };
        self.last = Some((now, boot));
        now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jump_forward_is_not_followed_and_one_back_is() {
        let t0: DateTime<Utc> = "2026-12-07T10:00:00Z".parse().unwrap();
        let mut c = PacedClock::new();
        let boot = Duration::from_secs(1000);
        assert_eq!(c.at(t0, boot), t0);
        // Ten minutes later by both clocks.
        let t1 = t0 + chrono::Duration::minutes(10);
        assert_eq!(c.at(t1, boot + Duration::from_secs(600)), t1);
        // The wall clock 120 days ahead, five more minutes really passed.
        let ahead = t1 + chrono::Duration::days(120);
        let paced = c.at(ahead, boot + Duration::from_secs(900));
        assert_eq!(paced, t1 + chrono::Duration::minutes(5));
        // Still ahead an hour later: an hour has passed.
        let later = c.at(
            ahead + chrono::Duration::hours(1),
            boot + Duration::from_secs(4500),
        );
        assert_eq!(later, t1 + chrono::Duration::minutes(65));
        // Back to the truth.
        let back = t1 + chrono::Duration::minutes(70);
        assert_eq!(c.at(back, boot + Duration::from_secs(4800)), back);
        // A night asleep: the boot clock counts it, so it is followed.
        let morning = back + chrono::Duration::hours(8);
        assert_eq!(
            c.at(morning, boot + Duration::from_secs(4800 + 8 * 3600)),
            morning
        );
    }

    #[test]
    fn the_boot_clock_moves() {
        let a = since_boot();
        std::thread::sleep(Duration::from_millis(5));
        assert!(since_boot() > a);
    }
}
