//! Our own example servers, run in-process on a free port.

use std::net::TcpListener;
use std::time::Duration;

use io_std::{Options, TransportKind};

use crate::reference::Target;

/// A running server of ours; shut down on drop.
pub struct Ours {
    pub target: Target,
    handle: io_std::Handle,
}

impl Ours {
    pub fn handle(&self) -> &io_std::Handle {
        &self.handle
    }
}

impl Drop for Ours {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

/// Starts `mode` (`chat`, `echo` or `broadcast`), answering requests outside the resource
/// with `<h1>Hello world</h1>` as the reference harness does, with the reference's
/// `transportOptions` JSON (camelCase keys, milliseconds) applied.
pub fn ours(mode: &str, transport_options_json: &str) -> Ours {
    ours_with(mode, options_from_reference_json(transport_options_json))
}

pub fn ours_with(mode: &str, options: Options) -> Ours {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let addr = listener.local_addr().expect("local address");
    let server = io_std::Server::from_listener(listener, options)
        .expect("valid options")
        .on_request(examples::apps::hello);
    let server = match mode {
        "chat" => examples::apps::chat(server),
        "echo" => examples::apps::echo(server),
        "broadcast" => examples::apps::broadcast(server),
        other => panic!("unknown mode {other:?}"),
    };
    let handle = server.spawn().expect("start the server");
    Ours {
        target: Target::external(addr),
        handle,
    }
}

/// Our `Options` for the reference's `transportOptions` JSON.
pub fn options_from_reference_json(json: &str) -> Options {
    let mut options = Options::default();
    // Tests run in parallel: none of them may take the one policy port.
    options.flash_policy_server = None;
    if json.trim().is_empty() {
        return options;
    }
    let value: serde_json::Value = serde_json::from_str(json).expect("transport options JSON");
    let ms = |v: &serde_json::Value| Duration::from_millis(v.as_u64().expect("milliseconds"));
    for (name, opts) in value.as_object().expect("an object") {
        let kind: TransportKind = name.parse().expect("a transport name");
        let t = options.transport_options_mut(kind);
        for (key, v) in opts.as_object().expect("an object") {
            match key.as_str() {
                "duration" => t.duration = ms(v),
                "closeTimeout" => t.close_timeout = ms(v),
                "heartbeatInterval" => t.heartbeat_interval = ms(v),
                "timeout" => t.timeout = (!v.is_null()).then(|| ms(v)),
                other => panic!("unknown transport option {other:?}"),
            }
        }
    }
    options
}
