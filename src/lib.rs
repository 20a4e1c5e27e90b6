//! loadprof: load a service while sampling its processes, capture flame
//! graphs, judge memory growth and benchmark local LLMs — one binary, one
//! result file, one exit code.
//!
//! Engines (`sample`, ...) measure and never print; `report` and the
//! binary's `main` talk to the user; `app` wires one command to both.

pub mod app;
pub mod cancel;
pub mod capacity;
pub mod cli;
pub mod config;
pub mod demo;
pub mod error;
pub mod escape;
pub mod files;
pub mod flame;
pub mod gate;
pub mod heap;
pub mod host;
pub mod http;
pub mod leak;
pub mod live;
pub mod llm;
pub mod load;
pub mod metrics;
pub mod outdir;
pub mod redact;
pub mod report;
pub mod sample;
pub mod session;

pub use error::{Error, Exit};
