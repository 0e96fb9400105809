//! The echo example server. `cargo run --release -p examples --bin echo -- --help`

use examples::{apps, cli::Args};

fn main() -> std::io::Result<()> {
    let args = Args::parse().unwrap_or_else(|e| {
        eprintln!("echo: {e} (try --help)");
        std::process::exit(2)
    });
    let server = io_std::Server::bind(args.addr(), args.options())?.on_request(apps::hello);
    eprintln!("echo server on http://{}/", args.addr());
    apps::echo(server).run()
}
