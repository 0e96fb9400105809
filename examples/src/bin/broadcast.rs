//! The broadcast example server. `cargo run --release -p examples --bin broadcast -- --help`

use examples::{apps::App, cli::Args};

fn main() -> std::io::Result<()> {
    let args = Args::parse().unwrap_or_else(|e| {
        eprintln!("broadcast: {e} (try --help)");
        std::process::exit(2)
    });
    args.run(App::Broadcast)
}
