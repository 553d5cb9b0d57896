//! Shared by the integration tests of nbi-core.
#![allow(dead_code)]

pub mod services;
