//! The chat demo inside an axum application, on one port with the application's own
//! routes. `cargo run --release -p examples --bin axum-chat -- --help`

use std::net::SocketAddr;

use examples::cli::{Args, Program};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args =
        Args::parse_from(Program::Embedded, lexopt::Parser::from_env()).unwrap_or_else(|e| {
            eprintln!("axum-chat: {e} (try --help)");
            std::process::exit(2)
        });
    let (app, _handle) = examples::axum_chat::app(args.options())?;
    let listener = tokio::net::TcpListener::bind(args.addr()).await?;
    eprintln!("chat inside axum on http://{}/ (io-hyper)", listener.local_addr()?);
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
}
