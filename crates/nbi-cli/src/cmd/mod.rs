pub mod demo;
pub mod import;
pub mod intel;
pub mod query;
pub mod run;
pub mod usage;
