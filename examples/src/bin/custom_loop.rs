//! The echo server on a hand-written event loop (see `examples/src/custom_loop.rs`).
//! `cargo run --release -p examples --bin custom_loop -- --port 8080`
//! It takes `--port`, `--host`, `--sessions-per-peer` and `--quiet`; it runs no Flash policy
//! listener (policy requests are answered inline) and no adapter, so it refuses
//! `--policy-port` and `--adapter`.

use examples::cli::{Args, Program};
use examples::custom_loop::Loop;

fn main() -> std::io::Result<()> {
    let args =
        Args::parse_from(Program::Embedded, lexopt::Parser::from_env()).unwrap_or_else(|e| {
            eprintln!("custom_loop: {e} (try --help)");
            std::process::exit(2)
        });
    let listener = std::net::TcpListener::bind(args.addr())?;
    eprintln!("echo server on http://{}/ (custom loop)", args.addr());
    Loop::new(listener, args.options())?.run()
}
