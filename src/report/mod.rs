//! Everything that talks to the user or writes results: the result.json
//! schema, the CSV writers, the human summary and the live progress line.
//! Writers take a `Write`, so each format is testable without a terminal.

pub mod csv;
pub mod progress;
pub mod schema;
pub mod text;
