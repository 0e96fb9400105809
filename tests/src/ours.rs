//! Our own example servers, run in-process on a free port, on either adapter.

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use examples::custom_loop::Loop;
use io_adapter::{Adapter as Runtime, Server, TlsConfig};
use io_core::{Options, TransportKind};

use crate::reference::Target;

/// Which adapter runs the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adapter {
    Smol,
    Std,
    /// The hand-written event loop of `examples/src/custom_loop.rs`; it plays echo only.
    CustomLoop,
    /// io-hyper on a port of its own: hyper parses the requests.
    Hyper,
}

pub const ADAPTERS: [Adapter; 4] = [
    Adapter::Smol,
    Adapter::Std,
    Adapter::CustomLoop,
    Adapter::Hyper,
];

impl Adapter {
    /// Whether this driver can run the example `mode`.
    pub fn supports(self, mode: &str) -> bool {
        self != Adapter::CustomLoop || mode == "echo"
    }
}

enum Running {
    Smol(io_smol::Handle),
    Std(io_std::Handle),
    CustomLoop(examples::custom_loop::Handle, Mutex<Option<JoinHandle<()>>>),
    Hyper(io_hyper::Handle),
}

/// A running server of ours; shut down on drop.
pub struct Ours {
    pub target: Target,
    running: Running,
    /// Disconnect callbacks so far: echo and broadcast only (the chat app sets its own).
    disconnects: Arc<AtomicUsize>,
}

impl Ours {
    /// Ends every session and waits until the disconnect callbacks have run.
    pub fn shutdown(&self) {
        match &self.running {
            Running::Smol(h) => {
                h.shutdown();
                smol::block_on(h.stopped());
            }
            Running::Hyper(h) => {
                h.shutdown();
                smol::block_on(h.stopped());
            }
            Running::Std(h) => {
                h.shutdown();
                h.stopped();
            }
            Running::CustomLoop(stop, thread) => {
                stop.stop();
                if let Some(t) = thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
                    t.join().expect("the loop ends cleanly");
                }
            }
        }
    }

    /// Sessions that have ended so far, each counted once by its disconnect callback.
    pub fn disconnects(&self) -> usize {
        match &self.running {
            Running::CustomLoop(h, _) => h.disconnects(),
            _ => self.disconnects.load(Ordering::Acquire),
        }
    }

    /// Timers armed in the core.
    pub fn timer_count(&self) -> usize {
        match &self.running {
            Running::Smol(h) => h.engine().query(|core| core.timer_count()),
            Running::Std(h) => h.engine().query(|core| core.timer_count()),
            Running::Hyper(h) => h.engine().query(|core| core.timer_count()),
            Running::CustomLoop(h, _) => h.timers(),
        }
    }

    /// Sessions alive now.
    pub fn session_count(&self) -> usize {
        match &self.running {
            Running::Smol(h) => h.clients().len(),
            Running::Std(h) => h.clients().len(),
            Running::Hyper(h) => h.clients().len(),
            Running::CustomLoop(h, _) => h.sessions(),
        }
    }
}

impl Drop for Ours {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts `mode` (`chat`, `echo` or `broadcast`) on io-smol, answering requests outside the
/// resource with `<h1>Hello world</h1>` as the reference harness does, with the reference's
/// `transportOptions` JSON (camelCase keys, milliseconds) applied.
pub fn ours(mode: &str, transport_options_json: &str) -> Ours {
    ours_on(
        Adapter::Smol,
        mode,
        options_from_reference_json(transport_options_json),
    )
}

/// The same on a chosen adapter with options of our own.
pub fn ours_on(adapter: Adapter, mode: &str, options: Options) -> Ours {
    start(adapter, mode, options, None)
}

/// The same over TLS with the test certificate; every [`Conn`](crate::raw::Conn) to it
/// speaks TLS. Not on the custom loop, which has no TLS of its own.
pub fn ours_tls(adapter: Adapter, mode: &str, options: Options, tls: TlsConfig) -> Ours {
    assert_ne!(
        adapter,
        Adapter::CustomLoop,
        "the custom loop speaks no TLS"
    );
    let ours = start(adapter, mode, options, Some(tls));
    crate::tls::register(ours.target.addr);
    ours
}

fn start(adapter: Adapter, mode: &str, options: Options, tls: Option<TlsConfig>) -> Ours {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let addr = listener.local_addr().expect("local address");
    let disconnects = Arc::new(AtomicUsize::new(0));
    let running = match adapter {
        Adapter::Smol => {
            let server = io_smol::Server::from_listener(listener, options).expect("valid options");
            let server = server.on_disconnect(counting(&disconnects));
            let server = match tls {
                Some(tls) => server.tls(tls),
                None => server,
            };
            Running::Smol(app(mode, server).spawn().expect("start the server"))
        }
        Adapter::Std => {
            let server = io_std::Server::from_listener(listener, options).expect("valid options");
            let server = server.on_disconnect(counting(&disconnects));
            let server = match tls {
                Some(tls) => server.tls(tls),
                None => server,
            };
            Running::Std(app(mode, server).spawn().expect("start the server"))
        }
        Adapter::Hyper => {
            assert!(
                tls.is_none(),
                "io-hyper leaves TLS to the server it runs in"
            );
            let server = io_hyper::Server::from_listener(listener, options).expect("valid options");
            let server = server.on_disconnect(counting(&disconnects));
            Running::Hyper(app(mode, server).spawn().expect("start the server"))
        }
        Adapter::CustomLoop => {
            assert_eq!(mode, "echo", "the custom loop plays echo only");
            let event_loop = Loop::new(listener, options).expect("valid options");
            let stop = event_loop.handle();
            let thread = std::thread::spawn(move || event_loop.run().expect("the loop runs"));
            Running::CustomLoop(stop, Mutex::new(Some(thread)))
        }
    };
    Ours {
        target: Target::external(addr),
        running,
        disconnects,
    }
}

/// A disconnect callback that counts.
fn counting<C>(count: &Arc<AtomicUsize>) -> impl Fn(C, io_core::DisconnectReason) + Send + Sync {
    let count = count.clone();
    move |_, _| {
        count.fetch_add(1, Ordering::AcqRel);
    }
}

fn app<R: Runtime>(mode: &str, server: Server<R>) -> Server<R> {
    let server = server.on_request(examples::apps::hello);
    match mode {
        "chat" => examples::apps::chat(server),
        "echo" => examples::apps::echo(server),
        "broadcast" => examples::apps::broadcast(server),
        other => panic!("unknown mode {other:?}"),
    }
}

/// Default options for tests: no standalone policy listener, since tests run in parallel
/// and only one of them could take its port.
pub fn test_options() -> Options {
    let mut options = Options::default();
    options.flash_policy_server = None;
    options
}

/// Our `Options` for the reference's `transportOptions` JSON.
pub fn options_from_reference_json(json: &str) -> Options {
    let mut options = test_options();
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
