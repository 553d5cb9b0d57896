//! Native notifications: Notification Center on macOS, the desktop's
//! notification daemon (D-Bus) on Linux.

/// The application name notifications are sent under.
pub const APP_NAME: &str = "Network Behavior Intelligence";

/// What a notification says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub title: String,
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(
        "cannot show a notification: {0} (is a notification service running in this session?)"
    )]
    Unavailable(String),
}

/// Shows `notice` now. Fails, rather than blocking, when no notification
/// service answers (a headless server, no D-Bus session).
pub fn send(notice: &Notice) -> Result<(), NotifyError> {
    let mut n = notify_rust::Notification::new();
    n.appname(APP_NAME)
        .summary(&notice.title)
        .body(&notice.body)
        .timeout(notify_rust::Timeout::Milliseconds(15_000));
    #[cfg(all(unix, not(target_os = "macos")))]
    n.hint(notify_rust::Hint::Category("network".to_string()));
    n.show()
        .map(|_| ())
        .map_err(|e| NotifyError::Unavailable(e.to_string()))
}
