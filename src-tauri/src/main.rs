//! The Tidemark desktop app binary (see the library for everything it does).

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

/// The relay's allocator, so that a pull here costs what `BENCHMARKS.md` measures (S2's pulling
/// child runs on it): with the system's, a province-year's pull took 15–35 % more CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    tidemark_client::tune_process();
    tidemark_app::run();
}
