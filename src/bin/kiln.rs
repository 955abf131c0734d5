//! The `kiln` command line (see [`kiln::cli::main`]).

/// Large blocks on transparent huge pages ([`kiln::allocator::HugePages`]).
#[global_allocator]
static ALLOCATOR: kiln::allocator::HugePages = kiln::allocator::HugePages;

fn main() {
    kiln::allocator::keep_freed_memory();
    let registry = kiln::train::Registry::builtin();
    std::process::exit(kiln::cli::main(&registry, std::env::args_os()));
}
