//! A node for the cluster tests: the example servers' command line, with an application
//! that relays. `to <session id> <text>` sends `from <sender>: <text>` to that session,
//! wherever it lives (the test of sends across nodes, which the chat never makes); any
//! other message goes to every other client, as in the chat.

use examples::cli::{Args, Attach};
use io_adapter::{Adapter, Server};
use io_core::{Message, SessionId};

#[derive(Debug)]
struct Relay;

impl Attach for Relay {
    fn attach<R: Adapter>(&self, server: Server<R>) -> Server<R> {
        server
            .on_request(examples::apps::hello)
            .on_message(|client, msg| {
                let to = match &msg {
                    Message::Text(t) => t.strip_prefix("to ").and_then(|rest| rest.split_once(' ')),
                    _ => None,
                };
                match to {
                    Some((sid, text)) => {
                        let target = sid
                            .parse::<SessionId>()
                            .ok()
                            .and_then(|id| client.client(id));
                        let sent = target.map(|t| {
                            t.send(format!("from {}: {text}", client.session_id()))
                                .is_ok()
                        });
                        if sent != Some(true) {
                            let _ = client.send(format!("unknown session {sid}"));
                        }
                    }
                    None => client.broadcast(msg),
                }
            })
    }
}

fn main() -> std::io::Result<()> {
    let args = Args::parse().unwrap_or_else(|e| {
        eprintln!("cluster-node: {e} (try --help)");
        std::process::exit(2)
    });
    args.run(Relay)
}
