//! The target's own metrics: reading Prometheus and OpenMetrics exposition
//! text ([`exposition`]) and computing over a window what Prometheus would
//! ([`promql`]: counter rates and increases, histogram quantiles). Pure:
//! no clock, no I/O.

pub mod exposition;
pub mod promql;
pub mod selector;
