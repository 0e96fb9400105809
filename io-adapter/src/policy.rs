//! The standalone Flash policy listener (the original's `flashPolicyServer`), on a thread
//! of its own whatever the adapter: it serves a handful of probes per page load, so a
//! blocking loop is the simple and sufficient design.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use io_core::policy;

/// A running policy listener; [`stop`](Self::stop) ends it.
#[derive(Debug)]
pub struct PolicyListener {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl PolicyListener {
    /// Answers policy probes on `listener` with `doc` until stopped.
    pub fn start(listener: TcpListener, doc: Bytes) -> io::Result<Self> {
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        thread::Builder::new()
            .name("io-policy".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if flag.load(Ordering::Acquire) {
                        break;
                    }
                    let Ok(stream) = stream else {
                        // Out of descriptors and the like: back off instead of spinning.
                        thread::sleep(Duration::from_millis(10));
                        continue;
                    };
                    let doc = doc.clone();
                    let _ = thread::Builder::new()
                        .name("io-policy-conn".into())
                        .spawn(move || answer(stream, &doc));
                }
            })?;
        Ok(PolicyListener { addr, stop })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting; probes being answered finish on their own.
    pub fn stop(&self) {
        if !self.stop.swap(true, Ordering::AcqRel) {
            // Wake the accept call so that it sees the flag.
            let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        }
    }
}

/// Reads the probe before answering (the original answered blindly), but never waits on a
/// silent peer for long.
fn answer(mut stream: TcpStream, doc: &[u8]) {
    let _ = stream.set_read_timeout(Some(policy::PROBE_TIMEOUT));
    let mut probe = [0u8; policy::PROBE.len()];
    let mut got = 0;
    while got < probe.len() {
        match stream.read(&mut probe[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    if policy::classify(&probe[..got]) == policy::Probe::Policy {
        let _ = stream.write_all(doc);
    }
    let _ = stream.shutdown(Shutdown::Both);
}
