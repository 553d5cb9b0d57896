//! Shared by the integration tests of nbi-core.
#![allow(dead_code)]

#[cfg(target_os = "linux")]
pub mod linux;
#[cfg(target_os = "linux")]
pub mod netns;
pub mod services;
