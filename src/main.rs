use std::process::ExitCode;

use clap::Parser;

// mimalloc: glibc's malloc and free were a quarter of our CPU in an import (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Transparent huge pages grow mimalloc's resident memory in 2 MiB steps (an import's
    // peak 71 -> 98 MiB) for no gain here; this turns them off for this process (and what
    // it spawns). A kernel that refuses only costs memory, so the error is ignored.
    #[cfg(target_os = "linux")]
    let _ = nix::sys::prctl::set_thp_disable(true);
    dataflow::cli::run(dataflow::cli::Cli::parse())
}
