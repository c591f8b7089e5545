//! The benchmark behind bench/report.md (see `scripts/bench`): the pieces that are unit-tested
//! on their own. The run itself is in `main.rs`.

pub mod cpu;
pub mod machine;
pub mod pgbench;
pub mod report;
pub mod runtime_api;
pub mod stats;
