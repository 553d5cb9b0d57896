//! Networks: which network each byte went over, as its owner knows it.
//!
//! A source sees the interface of each socket (nettop's socket rows on
//! macOS, the kernel-side counters' ifindex or the route on Linux). What
//! network an interface is on right now is asked of the OS: NetworkManager's
//! active connection on Linux, the Wi-Fi name or the router on macOS. The
//! answer is a [`NetworkId`] carried in each tick's `net` map, and a
//! [`Sighting`] (name, whether the OS says it is metered) recorded in the
//! store's networks table beside the owner's own names and flags.

mod identify;
pub mod ids;
#[cfg(target_os = "linux")]
pub mod linux;
#[cfg(target_os = "macos")]
pub mod macos;
#[cfg(any(test, target_os = "macos"))]
pub mod macos_text;
pub mod report;
pub mod route;
mod sighting;
mod watch;

pub use identify::identify;
pub use route::Routes;
pub use sighting::Sighting;
pub use watch::{by_interface_name, is_loopback, Identify, Watch};

pub use crate::tick::NetworkId;
