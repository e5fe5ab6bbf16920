//! The Tidemark desktop app binary (see the library for everything it does).

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    tidemark_app::run();
}
