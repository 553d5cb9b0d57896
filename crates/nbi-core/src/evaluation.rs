//! How well days are judged, measured: synthetic days of every kind
//! against one model (`nbi eval`), a made-up year judged day by day as nbi
//! judges it (`nbi eval --year`), and real public series with labelled
//! days (`nbi eval --nab`).

pub mod nab;
pub mod synthetic;
pub mod year;
