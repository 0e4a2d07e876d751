use std::process::ExitCode;

// The gateway allocates small objects per request on every thread; mimalloc's thread-local
// free lists cost measurably less CPU per request than the system allocator (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    tollgate::cli::main()
}
