//! The echo server on a hand-written event loop (see `examples/src/custom_loop.rs`).
//! `cargo run --release -p examples --bin custom_loop -- --port 8080`

use examples::{cli::Args, custom_loop::Loop};

fn main() -> std::io::Result<()> {
    let args = Args::parse().unwrap_or_else(|e| {
        eprintln!("custom_loop: {e} (try --help)");
        std::process::exit(2)
    });
    let listener = std::net::TcpListener::bind(args.addr())?;
    eprintln!("echo server on http://{}/ (custom loop)", args.addr());
    Loop::new(listener, args.options())?.run()
}
