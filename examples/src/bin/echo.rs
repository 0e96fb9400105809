//! The echo example server. `cargo run --release -p examples --bin echo -- --help`

use examples::{apps::App, cli::Args};

fn main() -> std::io::Result<()> {
    let args = Args::parse().unwrap_or_else(|e| {
        eprintln!("echo: {e} (try --help)");
        std::process::exit(2)
    });
    args.run(App::Echo)
}
