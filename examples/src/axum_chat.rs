//! The chat inside an axum application: the application's own routes and Socket.IO on one
//! port, one tokio runtime. `cargo run --release -p examples --bin axum-chat -- --port 8080`

use std::io;
use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};
use io_core::Options;
use io_hyper::{Handle, Server, SocketIo};
use serde_json::json;

/// The application: its pages, its own `/api/status`, and the chat under `/socket.io/`.
/// Call it from inside a tokio runtime (the chat's timer runs on it); serve the router
/// with connection info, so that the chat sees each client's address:
/// `axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())`.
pub fn app(options: Options) -> io::Result<(Router, Handle)> {
    let server = crate::apps::chat(Server::new(options)?);
    let (socketio, handle) = SocketIo::mount(server)?;
    let socketio = socketio.peer_addr(|ext| ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0));
    let status = handle.clone();
    let router = Router::new()
        .route("/", get(|| async { Html(crate::apps::WELCOME) }))
        .route("/chat.html", get(|| async { Html(crate::apps::CHAT) }))
        .route(
            "/api/status",
            get(move || {
                let sessions = status.clients().len();
                async move { Json(json!({ "sessions": sessions })) }
            }),
        )
        .route_service("/socket.io/{*rest}", socketio);
    Ok((router, handle))
}
