//! `loadprof capacity`: the highest arrival rate at which the service
//! still meets its SLOs, found by probing (DESIGN.md "Capacity"). The
//! search ([`search`]) and each probe's verdict ([`judge`]) are pure; the
//! probes themselves are load runs.

pub mod judge;
pub mod probe;
pub mod search;
