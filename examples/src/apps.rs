//! The behaviour of each example, attached to a server on any adapter.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use io_core::{Message, Request, Response};
use serde_json::{json, Value};

use io_adapter::{Adapter, Server};

/// Which example behaviour to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum App {
    Chat,
    Echo,
    Broadcast,
}

impl App {
    pub fn attach<R: Adapter>(self, server: Server<R>) -> Server<R> {
        match self {
            App::Chat => chat(server.on_request(chat_pages)),
            App::Echo => echo(server.on_request(hello)),
            App::Broadcast => broadcast(server.on_request(hello)),
        }
    }
}

/// The seed's chat demo: a newcomer gets the last 15 messages, everyone else hears who
/// came and went, and each message goes to every other client as
/// `{"message": ["<id>", message]}`.
pub fn chat<R: Adapter>(server: Server<R>) -> Server<R> {
    let buffer: Arc<Mutex<VecDeque<Value>>> = Arc::default();
    let on_connect = buffer.clone();
    server
        .on_connect(move |client| {
            let history: Vec<Value> = lock(&on_connect).iter().cloned().collect();
            let _ = client.send(json!({ "buffer": history }));
            client
                .broadcast(json!({ "announcement": format!("{} connected", client.session_id()) }));
        })
        .on_message(move |client, msg| {
            let msg = json!({ "message": [client.session_id().to_string(), as_json(msg)] });
            {
                let mut buffer = lock(&buffer);
                buffer.push_back(msg.clone());
                if buffer.len() > 15 {
                    buffer.pop_front();
                }
            }
            client.broadcast(msg);
        })
        .on_disconnect(|client, _reason| {
            client.broadcast(
                json!({ "announcement": format!("{} disconnected", client.session_id()) }),
            );
        })
}

/// Each message goes back to its sender unchanged.
pub fn echo<R: Adapter>(server: Server<R>) -> Server<R> {
    server.on_message(|client, msg| {
        let _ = client.send(msg);
    })
}

/// Each message goes to every other client unchanged.
pub fn broadcast<R: Adapter>(server: Server<R>) -> Server<R> {
    server.on_message(|client, msg| client.broadcast(msg))
}

/// The chat demo's pages: a welcome page and the chat page.
pub fn chat_pages(req: &Request) -> Response {
    match req.path() {
        "/" => html(WELCOME),
        "/chat.html" => html(CHAT),
        _ => Response::with_body(404, "text/plain", "Not Found"),
    }
}

/// The page the echo and broadcast servers answer with outside the resource.
pub fn hello(_req: &Request) -> Response {
    Response::with_body(200, "text/html", "<h1>Hello world</h1>")
}

fn html(body: &'static str) -> Response {
    Response::with_body(200, "text/html; charset=UTF-8", body)
}

/// The chat demo's welcome page.
pub const WELCOME: &str = include_str!("../static/index.html");
/// The chat demo's chat page.
pub const CHAT: &str = include_str!("../static/chat.html");

fn as_json(msg: Message) -> Value {
    match msg {
        Message::Text(s) => Value::String(s),
        Message::Json(v) => v,
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
