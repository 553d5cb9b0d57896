pub mod demo;
pub mod import;
pub mod query;
pub mod run;
