//! How well days are judged, measured: synthetic days of every kind
//! against one model (`nbi eval`), and a made-up year judged day by day as
//! nbi judges it (`nbi eval --year`).

pub mod synthetic;
pub mod year;
