//! The `kiln` command line (see [`kiln::cli::main`]).

fn main() {
    kiln::allocator::keep_freed_memory();
    let registry = kiln::train::Registry::builtin();
    std::process::exit(kiln::cli::main(&registry, std::env::args_os()));
}
