pub mod demo;
pub mod import;
pub mod intel;
pub mod networks;
pub mod query;
pub mod run;
pub mod usage;
