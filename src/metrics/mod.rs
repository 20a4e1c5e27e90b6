//! The target's own metrics: reading Prometheus and OpenMetrics exposition
//! text ([`exposition`]) and computing over a window what Prometheus would
//! ([`promql`]: counter rates and increases, histogram quantiles), kept
//! per series in a bounded [`store`]. These are pure: no clock, no I/O.
//! [`scraper`] fetches the text on the run's clock and asks a Prometheus
//! server ([`query`] reads its answers).

pub mod exposition;
pub mod figures;
pub mod promql;
pub mod query;
pub mod scraper;
pub mod selector;
pub mod store;
