//! An async adapter for `io-core` on smol. Each connection has one task that reads it; the
//! bytes the core produces are written by whichever task produced them, straight to the
//! non-blocking socket, and a writer task is spawned only for what the socket does not take
//! at once. One task sleeps until the core's next deadline. Callbacks run on the task that
//! fed the core the input behind them, one at a time and in order (see `io_adapter`).
//!
//! The tasks run on an executor of the server's own, on one thread that also waits on the
//! sockets when it has nothing to run: a readiness event and the task it wakes are on the same
//! thread, with no hand-over between threads. The core behind its lock is the part that does
//! not spread over cores anyway; handles work from any thread or task.
//!
//! ```no_run
//! use io_smol::{Options, Response, Server};
//!
//! smol::block_on(async {
//!     Server::bind("127.0.0.1:8080", Options::default())?
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
use std::future::Future;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use io_adapter::write::{consume, slices};
use io_adapter::{Engine, Socket};
use io_core::{ConnId, ConnectionInfo};
use smol::channel::{self, Receiver, Sender};
use smol::future::FutureExt;
use smol::{Async, Executor, Timer};

pub use io_core::{
    DisconnectReason, Error, Event, Message, Options, Request, Response, SessionId, TransportKind,
};

/// Read buffer; large, so that a burst is one core call. One per executor thread, not per
/// connection: an idle connection costs no buffer while it waits.
const READ_BUF: usize = 64 * 1024;

/// A server bound to an address, not yet running.
pub type Server = io_adapter::Server<Smol>;
/// A running server: broadcast, list clients, shut down. Cheap to clone.
pub type Handle = io_adapter::Handle<Smol>;
/// One session, as the application holds it. Cheap to clone, usable from any task.
pub type Client = io_adapter::Client<Smol>;

/// The smol runtime under the engine: its executor, and its channels to the timer and the
/// accept loop.
pub struct Smol {
    executor: Arc<Executor<'static>>,
    wake: (Sender<()>, Receiver<()>),
    stop: (Sender<()>, Receiver<()>),
    done: (Sender<()>, Receiver<()>),
}

impl Default for Smol {
    fn default() -> Self {
        Smol {
            executor: Arc::new(Executor::new()),
            wake: channel::bounded(1),
            stop: channel::bounded(1),
            done: channel::bounded(1),
        }
    }
}

impl Smol {
    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.executor.spawn(task).detach();
    }
}

/// How long the server's thread goes on after shutdown, so that the last writes finish.
const LINGER: Duration = Duration::from_millis(500);

/// A connection's socket, registered with smol's reactor.
pub struct SmolSocket(Async<TcpStream>);

impl Socket for SmolSocket {
    fn try_write(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        // The socket is non-blocking: this takes what fits and never waits.
        self.0.get_ref().write_vectored(bufs)
    }

    fn close(&self) {
        let _ = self.0.get_ref().shutdown(Shutdown::Both);
    }
}

impl io_adapter::Runtime for Smol {
    type Socket = SmolSocket;

    fn start_writer(
        &self,
        engine: &Arc<Engine<Self>>,
        conn: ConnId,
        socket: Arc<SmolSocket>,
    ) -> io::Result<()> {
        self.spawn(write_backlog(engine.clone(), conn, socket));
        Ok(())
    }

    fn wake_timer(&self) {
        let _ = self.wake.0.try_send(());
    }

    fn on_stopped(&self) {
        self.done.0.close();
    }
}

impl io_adapter::Adapter for Smol {
    type Run = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;
    type Stopped = Pin<Box<dyn Future<Output = ()> + Send>>;

    fn start(engine: &Arc<Engine<Self>>, listener: TcpListener) -> io::Result<()> {
        let listener = Async::new(listener)?;
        let rt = engine.runtime();
        rt.spawn(accept_loop(engine.clone(), listener));
        rt.spawn(timer_loop(engine.clone()));
        let executor = rt.executor.clone();
        let done = rt.done.1.clone();
        std::thread::Builder::new()
            .name("io-smol".into())
            .spawn(move || {
                smol::block_on(executor.run(async {
                    let _ = done.recv().await;
                    Timer::after(LINGER).await;
                }))
            })?;
        Ok(())
    }

    fn stop(engine: &Arc<Engine<Self>>) {
        engine.runtime().stop.0.close();
        engine.runtime().wake.0.close();
    }

    fn run(handle: Handle) -> Self::Run {
        Box::pin(async move {
            handle.stopped().await;
            Ok(())
        })
    }

    fn run_failed(error: io::Error) -> Self::Run {
        Box::pin(async move { Err(error) })
    }

    fn stopped(handle: &Handle) -> Self::Stopped {
        let done = handle.engine().runtime().done.1.clone();
        Box::pin(async move {
            let _ = done.recv().await;
        })
    }
}

async fn accept_loop(engine: Arc<Engine<Smol>>, listener: Async<TcpListener>) {
    let stop = engine.runtime().stop.1.clone();
    let local = listener.get_ref().local_addr().ok();
    loop {
        let accepted = async { Some(listener.accept().await) }
            .or(async {
                let _ = stop.recv().await;
                None
            })
            .await;
        match accepted {
            None => break,
            Some(Ok((stream, peer))) => {
                let _ = stream.get_ref().set_nodelay(true);
                let info = ConnectionInfo::new(peer, local.unwrap_or(peer));
                let socket = Arc::new(SmolSocket(stream));
                if let Some(conn) = engine.accept(socket.clone(), info) {
                    engine
                        .runtime()
                        .spawn(read_loop(engine.clone(), conn, socket));
                }
            }
            // Out of file descriptors and the like: back off instead of spinning.
            Some(Err(_)) => {
                Timer::after(Duration::from_millis(10)).await;
            }
        }
    }
}

/// What one read came to.
enum Outcome {
    /// Keep reading.
    More,
    /// End of stream: the peer sends no more.
    Ended,
    /// The socket failed.
    Failed,
}

async fn read_loop(engine: Arc<Engine<Smol>>, conn: ConnId, socket: Arc<SmolSocket>) {
    thread_local! {
        static BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_BUF]);
    }
    loop {
        if socket.0.readable().await.is_err() {
            return engine.failed(conn);
        }
        let outcome = BUF.with_borrow_mut(|buf| match socket.0.get_ref().read(buf) {
            Ok(0) => Outcome::Ended,
            Ok(n) => {
                engine.received(conn, &buf[..n]);
                Outcome::More
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                Outcome::More
            }
            Err(_) => Outcome::Failed,
        });
        match outcome {
            Outcome::More => {}
            Outcome::Ended => return engine.read_closed(conn),
            Outcome::Failed => return engine.failed(conn),
        }
    }
}

/// Writes what the socket did not take at once, as it becomes writable.
async fn write_backlog(engine: Arc<Engine<Smol>>, conn: ConnId, socket: Arc<SmolSocket>) {
    while let Some(batch) = engine.take_backlog(conn) {
        let mut queue = VecDeque::from(batch);
        while !queue.is_empty() {
            let written = match socket.0.get_ref().write_vectored(&slices(&queue)) {
                Ok(0) => Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    match socket.0.writable().await {
                        Ok(()) => continue,
                        Err(e) => Err(e),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
            match written {
                Ok(n) => {
                    consume(&mut queue, n);
                    engine.written(conn, n);
                }
                Err(_) => return engine.failed(conn),
            }
        }
    }
}

async fn timer_loop(engine: Arc<Engine<Smol>>) {
    let wake = engine.runtime().wake.1.clone();
    loop {
        let next = engine.tick();
        let woken = async { wake.recv().await.is_ok() };
        let go_on = match next {
            Some(at) => {
                woken
                    .or(async {
                        Timer::at(at).await;
                        true
                    })
                    .await
            }
            None => woken.await,
        };
        if !go_on {
            return;
        }
    }
}
