//! A blocking adapter for `io-core`: plain `std` threads and sockets, no async runtime.
//!
//! Each connection has a reader thread. The bytes the core produces are written by
//! whichever thread produced them, with a send that never blocks (`MSG_DONTWAIT`); a writer
//! thread is started only for what the socket does not take at once, and ends when that is
//! written. One thread sleeps until the core's next deadline. Callbacks run on the thread
//! that fed the core the input behind them, one at a time and in order (see `io_adapter`).
//!
//! That is simple and predictable up to a few thousand concurrent connections. Past that,
//! a thread per connection stops scaling: each costs a stack (touched pages only, but
//! some), a context switch per read, and a file descriptor of the 20,000 or so a process
//! may usually hold. For more connections, use `io-smol`.
//!
//! With the `tls` feature, `Server::tls` and `TlsConfig`
//! serve https and wss (rustls; see `io_adapter::tls`).
//!
//! ```no_run
//! use io_std::{Options, Response, Server};
//!
//! let server = Server::bind("127.0.0.1:8080", Options::default())?
//!     .on_request(|_req| Response::with_body(200, "text/html", "<h1>Hello world</h1>"))
//!     .on_message(|client, msg| {
//!         let _ = client.send(msg); // echo
//!     });
//! server.run()
//! # ; Ok::<(), std::io::Error>(())
//! ```
#![warn(missing_docs)]
#![deny(unsafe_code)]
// Nothing a peer does may panic the server: no unwrap, expect, panic or unchecked indexing
// outside tests; each exception says why it cannot fail.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

use std::io::{self, IoSlice, Read};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use io_adapter::{Engine, Socket};
use io_core::{ConnId, ConnectionInfo};
use socket2::SockRef;

#[cfg(feature = "tls")]
pub use io_adapter::{TlsConfig, TlsError};
pub use io_core::{
    DisconnectReason, Error, Event, Message, Options, Request, Response, SessionId, TransportKind,
};

/// Read buffer per connection; large, so that a burst is one core call.
const READ_BUF: usize = 64 * 1024;

/// A server bound to an address, not yet running.
pub type Server = io_adapter::Server<Threads>;
/// A running server: broadcast, list clients, shut down. Cheap to clone.
pub type Handle = io_adapter::Handle<Threads>;
/// One session, as the application holds it. Cheap to clone, usable from any thread.
pub type Client = io_adapter::Client<Threads>;

/// The thread runtime under the engine.
#[derive(Default)]
pub struct Threads {
    /// The timer's wake-up flag; the timer sleeps on `timer_cv`.
    timer: Mutex<TimerState>,
    timer_cv: Condvar,
    /// Set once the server has stopped and the last callbacks have run.
    done: Mutex<bool>,
    done_cv: Condvar,
    stopping: AtomicBool,
    local_addr: Mutex<Option<SocketAddr>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

#[derive(Default)]
struct TimerState {
    woken: bool,
    stop: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A connection's socket. Reads block (on the reader thread); writes from the engine never
/// do.
pub struct StdSocket(TcpStream);

impl Socket for StdSocket {
    fn try_write(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let socket = SockRef::from(&self.0);
        let flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
        match bufs {
            [one] => socket.send_with_flags(one, flags),
            _ => socket.send_vectored_with_flags(bufs, flags),
        }
    }

    fn close(&self) {
        let _ = self.0.shutdown(Shutdown::Both);
    }
}

fn named(name: &str, f: impl FnOnce() + Send + 'static) -> io::Result<JoinHandle<()>> {
    thread::Builder::new().name(name.into()).spawn(f)
}

impl io_adapter::Runtime for Threads {
    type Socket = StdSocket;

    fn start_writer(
        &self,
        engine: &Arc<Engine<Self>>,
        conn: ConnId,
        socket: Arc<StdSocket>,
    ) -> io::Result<()> {
        let engine = engine.clone();
        named("io-write", move || write_backlog(engine, conn, socket)).map(drop)
    }

    fn wake_timer(&self) {
        lock(&self.timer).woken = true;
        self.timer_cv.notify_one();
    }

    fn on_stopped(&self) {
        *lock(&self.done) = true;
        self.done_cv.notify_all();
    }
}

impl io_adapter::Adapter for Threads {
    type Run = io::Result<()>;
    type Stopped = ();

    fn start(engine: &Arc<Engine<Self>>, listener: Option<TcpListener>) -> io::Result<()> {
        let listener = io_adapter::server::own_port(listener)?;
        let rt = engine.runtime();
        *lock(&rt.local_addr) = listener.local_addr().ok();
        let e = engine.clone();
        let timer = named("io-timer", move || timer_loop(e))?;
        let e = engine.clone();
        let accept = named("io-accept", move || accept_loop(e, listener))?;
        lock(&rt.threads).extend([timer, accept]);
        Ok(())
    }

    fn stop(engine: &Arc<Engine<Self>>) {
        let rt = engine.runtime();
        rt.stopping.store(true, Ordering::Release);
        lock(&rt.timer).stop = true;
        rt.timer_cv.notify_one();
        // Wake the accept call so that it sees the flag.
        if let Some(addr) = *lock(&rt.local_addr) {
            let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
        }
    }

    fn run(handle: Handle) -> Self::Run {
        handle.stopped();
        Ok(())
    }

    fn run_failed(error: io::Error) -> Self::Run {
        Err(error)
    }

    /// Blocks until the server has shut down, the last callbacks have run and the
    /// server's threads have ended.
    fn stopped(handle: &Handle) -> Self::Stopped {
        let rt = handle.engine().runtime();
        let mut done = lock(&rt.done);
        while !*done {
            done = rt.done_cv.wait(done).unwrap_or_else(|e| e.into_inner());
        }
        drop(done);
        let current = thread::current().id();
        let threads: Vec<JoinHandle<()>> = {
            let mut t = lock(&rt.threads);
            // A callback may wait for the server from the timer thread; not for itself.
            let (mine, others): (Vec<_>, Vec<_>) =
                t.drain(..).partition(|h| h.thread().id() == current);
            t.extend(mine);
            others
        };
        for t in threads {
            let _ = t.join();
        }
    }
}

fn accept_loop(engine: Arc<Engine<Threads>>, listener: TcpListener) {
    let local = listener.local_addr().ok();
    for stream in listener.incoming() {
        if engine.runtime().stopping.load(Ordering::Acquire) {
            break;
        }
        let Ok(stream) = stream else {
            // Out of file descriptors and the like: back off instead of spinning.
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        if let Err(e) = start_connection(&engine, stream, local) {
            log::warn!("cannot start a connection: {e}");
        }
    }
}

fn start_connection(
    engine: &Arc<Engine<Threads>>,
    stream: TcpStream,
    local: Option<SocketAddr>,
) -> io::Result<()> {
    let _ = stream.set_nodelay(true);
    let peer = stream.peer_addr()?;
    let info = ConnectionInfo::new(peer, local.unwrap_or(peer));
    let reader = stream.try_clone()?;
    let socket = Arc::new(StdSocket(stream));
    let Some(conn) = engine.accept(socket.clone(), info) else {
        return Ok(());
    };
    let e = engine.clone();
    if let Err(err) = named("io-read", move || read_loop(e, conn, reader)) {
        engine.failed(conn);
        return Err(err);
    }
    Ok(())
}

fn read_loop(engine: Arc<Engine<Threads>>, conn: ConnId, mut stream: TcpStream) {
    let mut buf = vec![0u8; READ_BUF];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return engine.read_closed(conn),
            Ok(n) => engine.received(conn, buf.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return engine.failed(conn),
        }
    }
}

/// Waits for the socket to take more of what it did not take at once, hands it to the
/// engine (which writes it, through TLS when the server speaks it), and ends when all is
/// written or the connection is gone. A peer that never reads holds this thread until the
/// core cuts it off, which closes the socket and wakes the wait.
fn write_backlog(engine: Arc<Engine<Threads>>, conn: ConnId, socket: Arc<StdSocket>) {
    loop {
        wait_writable(&socket.0, WRITABLE_WAIT);
        if !engine.flush_backlog(conn) {
            return;
        }
    }
}

/// How long a writer waits for writability before it looks again.
const WRITABLE_WAIT: Duration = Duration::from_secs(1);

/// Blocks until `stream` can take bytes (or is closed, or has failed), or `timeout` passes.
fn wait_writable(stream: &TcpStream, timeout: Duration) {
    let mut fd = libc::pollfd {
        fd: stream.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    #[allow(unsafe_code)]
    // SAFETY: `fd` is one valid pollfd on the stack, and the count says one; the
    // descriptor stays open while `stream` is borrowed.
    unsafe {
        libc::poll(&mut fd, 1, ms);
    }
}

fn timer_loop(engine: Arc<Engine<Threads>>) {
    let rt = engine.runtime();
    loop {
        let next = engine.tick();
        let mut t = lock(&rt.timer);
        while !t.woken && !t.stop {
            match next {
                Some(at) => {
                    let now = Instant::now();
                    if at <= now {
                        break;
                    }
                    t = rt
                        .timer_cv
                        .wait_timeout(t, at - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
                None => t = rt.timer_cv.wait(t).unwrap_or_else(|e| e.into_inner()),
            }
        }
        if t.stop {
            return;
        }
        t.woken = false;
    }
}
