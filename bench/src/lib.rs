//! Tidemark's benchmarks (issue 9): a seeded synthetic province in the interchange format
//! ([`workload`], [`edits`]), the province on loopback with a real relay and a byte-counting
//! proxy ([`harness`], [`child`]), six scenarios ([`scenarios`]) and their report as JSON and
//! markdown ([`report`]). `cargo run --release -p tidemark-bench -- all` runs everything.

pub mod child;
pub mod edits;
pub mod harness;
pub mod measure;
pub mod report;
pub mod scenarios;
pub mod workload;
