//! An async adapter for `io-core` on smol: one task reads each connection, one writes it,
//! one sleeps until the core's next deadline, and one calls the application's callbacks in
//! order. The core sits behind one short-held lock. The tasks run on smol's global
//! executor (set `SMOL_THREADS` for more than its one thread).
//!
//! ```no_run
//! use io_smol::{Options, Response, Server};
//!
//! smol::block_on(async {
//!     Server::bind("127.0.0.1:8080", Options::default())
//!         .await?
//!         .on_request(|_req| Response::with_body(200, "text/html", "<h1>Hello world</h1>"))
//!         .on_message(|client, msg| {
//!             let _ = client.send(msg); // echo
//!         })
//!         .run()
//!         .await
//! })
//! # ; Ok::<(), std::io::Error>(())
//! ```
#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, IoSlice, Read};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use io_core::hub::{self, Backlog, Callbacks, Driver, Hub, Outbox};
use io_core::policy;
use smol::channel::{self, Receiver, Sender};
use smol::future::FutureExt;
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::{TcpListener, TcpStream};
use smol::{Async, Timer};

pub use io_core::{
    ConnId, DisconnectReason, Error, Event, Message, Options, Request, Response, SessionId,
    TransportKind,
};

/// Read buffer; large, so that a burst is one core call.
const READ_BUF: usize = 64 * 1024;

/// A server bound to an address, not yet running.
pub struct Server {
    listener: TcpListener,
    core: io_core::Server,
    callbacks: Callbacks<Client>,
}

/// A connection's writer task, as the hub sees it.
struct Writer {
    tx: Sender<(Vec<Bytes>, bool)>,
    stream: TcpStream,
}

impl Outbox for Writer {
    fn push(&self, data: Vec<Bytes>, close: bool) -> bool {
        self.tx.try_send((data, close)).is_ok()
    }

    fn abort(&self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// The adapter's state behind every handle; its fields are its own.
pub struct Shared {
    hub: Mutex<Hub<Writer>>,
    /// Wakes the timer task when the next deadline may have moved.
    wake_timer: Sender<()>,
    events: Mutex<Option<Sender<Event>>>,
    stopping: AtomicBool,
    /// Tells the accept loops to stop.
    stop: Sender<()>,
    local_addr: SocketAddr,
}

/// A running server: broadcast, list clients, shut down. Cheap to clone.
#[derive(Clone)]
pub struct Handle {
    shared: Arc<Shared>,
    /// Closed once the callbacks of the last events have run.
    done: Receiver<()>,
}

/// One session, as the application holds it. Cheap to clone, usable from any task.
pub type Client = io_core::hub::Client<Shared>;

impl Server {
    /// Binds `addr`; requests outside the resource go to [`on_request`](Self::on_request).
    pub async fn bind(addr: impl ToSocketAddrs, options: Options) -> io::Result<Server> {
        let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
        Server::from_listener(TcpListener::bind(&addrs[..]).await?, options)
    }

    /// Serves on a listener the application already has.
    pub fn from_listener(listener: TcpListener, options: Options) -> io::Result<Server> {
        let core = io_core::Server::new(options)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(Server {
            listener,
            core,
            callbacks: Callbacks::default(),
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Answers every request that is not Socket.IO's. Without it they get a 404.
    pub fn on_request(mut self, f: impl Fn(&Request) -> Response + Send + Sync + 'static) -> Self {
        self.callbacks.request = Some(Box::new(f));
        self
    }

    pub fn on_connect(mut self, f: impl Fn(Client) + Send + Sync + 'static) -> Self {
        self.callbacks.connect = Some(Box::new(f));
        self
    }

    pub fn on_message(mut self, f: impl Fn(Client, Message) + Send + Sync + 'static) -> Self {
        self.callbacks.message = Some(Box::new(f));
        self
    }

    pub fn on_disconnect(
        mut self,
        f: impl Fn(Client, DisconnectReason) + Send + Sync + 'static,
    ) -> Self {
        self.callbacks.disconnect = Some(Box::new(f));
        self
    }

    /// Runs until [`Handle::shutdown`].
    pub async fn run(self) -> io::Result<()> {
        self.spawn()?.stopped().await;
        Ok(())
    }

    /// Starts the server's tasks on smol's global executor and returns at once.
    pub fn spawn(self) -> io::Result<Handle> {
        let local_addr = self.listener.local_addr()?;
        let log = self.core.options().log.clone();
        let policy_port = self.core.options().flash_policy_server;
        let policy_doc = self.core.policy_document();
        let (events_tx, events_rx) = channel::unbounded();
        let (wake_tx, wake_rx) = channel::bounded(1);
        let (stop_tx, stop_rx) = channel::bounded::<()>(1);
        let (done_tx, done_rx) = channel::bounded::<()>(1);
        let shared = Arc::new(Shared {
            hub: Mutex::new(Hub::new(self.core)),
            wake_timer: wake_tx,
            events: Mutex::new(Some(events_tx)),
            stopping: AtomicBool::new(false),
            stop: stop_tx,
            local_addr,
        });
        // The seed's flashPolicyServer: if its port cannot be bound, say so and rely on the
        // inline answers.
        if let Some(port) = policy_port {
            match std::net::TcpListener::bind((local_addr.ip(), port))
                .and_then(TcpListener::try_from)
            {
                Ok(l) => smol::spawn(policy_loop(l, policy_doc, stop_rx.clone())).detach(),
                Err(e) => {
                    if let Some(log) = &log {
                        log(&format!(
                            "cannot serve the Flash policy on port {port} ({e}); \
                             answering policy requests inline instead"
                        ));
                    }
                }
            }
        }
        smol::spawn(timer_loop(shared.clone(), wake_rx)).detach();
        let callbacks = self.callbacks;
        let s = shared.clone();
        smol::spawn(async move {
            dispatch_loop(s, events_rx, callbacks).await;
            drop(done_tx);
        })
        .detach();
        smol::spawn(accept_loop(shared.clone(), self.listener, stop_rx)).detach();
        Ok(Handle {
            shared,
            done: done_rx,
        })
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Hub<Writer>> {
        // A panic in another task must not take the whole server down with it.
        self.hub.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The peer is gone or its socket failed: the core hears of it, the socket is shut.
    fn closed(&self, conn: ConnId) {
        let mut hub = self.lock();
        let events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        hub.closed(conn, Instant::now(), |e| emit(&events, e));
        // The session's close timeout may now be the next deadline.
        let _ = self.wake_timer.try_send(());
    }
}

impl Driver for Shared {
    /// Runs one input against the core and carries out its outputs: writes go to the
    /// writer tasks, so nothing here waits on a socket; events go to the dispatcher.
    fn with_core<T>(&self, input: impl FnOnce(&mut io_core::Server, Instant) -> T) -> T {
        let mut hub = self.lock();
        let events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        let out = hub.with_core(Instant::now(), input, |e| emit(&events, e));
        let _ = self.wake_timer.try_send(());
        out
    }
}

fn emit(events: &Option<Sender<Event>>, e: Event) {
    if let Some(tx) = events {
        let _ = tx.try_send(e);
    }
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, stop: Receiver<()>) {
    loop {
        let accepted = async { Some(listener.accept().await) }
            .or(async {
                let _ = stop.recv().await;
                None
            })
            .await;
        match accepted {
            None => break,
            Some(Ok((stream, _))) => {
                let _ = stream.set_nodelay(true);
                start_connection(&shared, stream);
            }
            // Out of file descriptors and the like: back off instead of spinning.
            Some(Err(_)) => {
                Timer::after(Duration::from_millis(10)).await;
            }
        }
    }
}

fn start_connection(shared: &Arc<Shared>, stream: TcpStream) {
    let (tx, rx) = channel::unbounded();
    let writer = Writer {
        tx,
        stream: stream.clone(),
    };
    let (conn, backlog) = shared.lock().accept(writer, Instant::now());
    // The new connection's request timeout may be the next deadline.
    let _ = shared.wake_timer.try_send(());
    smol::spawn(write_loop(
        shared.clone(),
        conn,
        stream.clone(),
        rx,
        backlog,
    ))
    .detach();
    smol::spawn(read_loop(shared.clone(), conn, stream)).detach();
}

async fn read_loop(shared: Arc<Shared>, conn: ConnId, stream: TcpStream) {
    thread_local! {
        // One large buffer per executor thread, not per connection: an idle connection
        // then costs no buffer at all while it waits.
        static BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_BUF]);
    }
    let stream: Arc<Async<std::net::TcpStream>> = stream.into();
    while stream.readable().await.is_ok() {
        let done = BUF.with_borrow_mut(|buf| match stream.get_ref().read(buf) {
            Ok(0) => true,
            Ok(n) => {
                shared.with_core(|core, now| core.handle_bytes(conn, &buf[..n], now));
                false
            }
            Err(e) => !matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ),
        });
        if done {
            break;
        }
    }
    shared.closed(conn);
}

async fn write_loop(
    shared: Arc<Shared>,
    conn: ConnId,
    mut stream: TcpStream,
    rx: Receiver<(Vec<Bytes>, bool)>,
    backlog: Backlog,
) {
    while let Ok((mut data, mut close)) = rx.recv().await {
        // Whatever else is already waiting goes out in the same vectored write.
        while !close {
            match rx.try_recv() {
                Ok((more, c)) => {
                    data.extend(more);
                    close = c;
                }
                Err(_) => break,
            }
        }
        let len: usize = data.iter().map(Bytes::len).sum();
        if write_all_vectored(&mut stream, data).await.is_err() {
            return shared.closed(conn);
        }
        backlog.written(len);
        if close {
            let _ = stream.flush().await;
            let _ = stream.shutdown(std::net::Shutdown::Both);
            return;
        }
    }
}

async fn write_all_vectored(stream: &mut TcpStream, data: Vec<Bytes>) -> io::Result<()> {
    let mut queue = VecDeque::from(data);
    hub::consume(&mut queue, 0);
    while !queue.is_empty() {
        let slices: Vec<IoSlice<'_>> = queue.iter().map(|b| IoSlice::new(b)).collect();
        match stream.write_vectored(&slices).await? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => hub::consume(&mut queue, n),
        }
    }
    Ok(())
}

async fn timer_loop(shared: Arc<Shared>, wake: Receiver<()>) {
    while !shared.stopping.load(Ordering::Acquire) {
        let now = Instant::now();
        let next = shared.lock().poll_timeout();
        if next.is_some_and(|at| at <= now) {
            shared.with_core(|core, now| core.handle_timeout(now));
            continue;
        }
        let woken = async {
            let _ = wake.recv().await;
        };
        match next {
            Some(at) => {
                woken
                    .or(async {
                        Timer::at(at).await;
                    })
                    .await
            }
            None => woken.await,
        }
    }
}

async fn dispatch_loop(shared: Arc<Shared>, events: Receiver<Event>, callbacks: Callbacks<Client>) {
    while let Ok(event) = events.recv().await {
        let client = |id| Client::new(id, shared.clone());
        if let Some((conn, response)) = callbacks.dispatch(event, client) {
            shared.with_core(|core, now| {
                let _ = core.respond(conn, response, now);
            });
        }
    }
}

async fn policy_loop(listener: TcpListener, doc: Bytes, stop: Receiver<()>) {
    loop {
        let accepted = async { listener.accept().await.ok() }
            .or(async {
                let _ = stop.recv().await;
                None
            })
            .await;
        let Some((mut stream, _)) = accepted else {
            if stop.is_closed() {
                return;
            }
            continue;
        };
        let doc = doc.clone();
        // Read the probe before answering (the reference answered blindly), but never wait
        // on a silent peer for long.
        smol::spawn(async move {
            let mut probe = [0u8; policy::PROBE.len()];
            let mut got = 0;
            let read = async {
                while got < probe.len() {
                    match stream.read(&mut probe[got..]).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got += n,
                    }
                }
            };
            read.or(async {
                Timer::after(policy::PROBE_TIMEOUT).await;
            })
            .await;
            if policy::classify(&probe[..got]) == policy::Probe::Policy {
                let _ = stream.write_all(&doc).await;
            }
            let _ = stream.shutdown(std::net::Shutdown::Both);
        })
        .detach();
    }
}

impl Handle {
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// Sends to every connected client but those in `except`.
    pub fn broadcast(&self, msg: impl Into<Message>, except: &[SessionId]) {
        let msg = msg.into();
        self.shared
            .with_core(|core, now| core.broadcast(&msg, except, now));
    }

    /// Every connected client (the seed's `listener.clients`).
    pub fn clients(&self) -> Vec<Client> {
        hub::clients(&self.shared)
    }

    pub fn client(&self, id: SessionId) -> Option<Client> {
        let known = self.shared.with_core(|core, _| core.session(id).is_some());
        known.then(|| Client::new(id, self.shared.clone()))
    }

    /// Ends every session (each with a disconnect callback), closes every connection and
    /// stops accepting. Await [`stopped`](Self::stopped) for the callbacks to have run.
    pub fn shutdown(&self) {
        if self.shared.stopping.swap(true, Ordering::AcqRel) {
            return;
        }
        self.shared.with_core(|core, now| core.shutdown(now));
        // No more events: the dispatcher ends once it has delivered what is queued.
        self.shared
            .events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        self.shared.stop.close();
        self.shared.wake_timer.close();
    }

    /// Completes once the server has shut down and the last callbacks have run.
    pub async fn stopped(&self) {
        let _ = self.done.recv().await;
    }
}
