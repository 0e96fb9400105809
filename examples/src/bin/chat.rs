//! The chat example server. `cargo run --release -p examples --bin chat -- --help`

use examples::{apps, cli::Args};

fn main() -> std::io::Result<()> {
    let args = Args::parse().unwrap_or_else(|e| {
        eprintln!("chat: {e} (try --help)");
        std::process::exit(2)
    });
    let server = io_std::Server::bind(args.addr(), args.options())?.on_request(apps::chat_pages);
    eprintln!("chat server on http://{}/", args.addr());
    apps::chat(server).run()
}
