//! The standalone Flash policy listener (the original's `flashPolicyServer`), on a thread
//! of its own whatever the adapter: it serves a handful of probes per page load, so a
//! blocking loop is the simple and sufficient design.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use io_core::policy;

/// Probes answered at once; a peer opening more connections than this waits for none of
/// them: the surplus is closed unanswered, so a flood cannot make threads without bound.
const MAX_ANSWERING: usize = 64;

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
        let answering = Arc::new(AtomicUsize::new(0));
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
                    let Some(slot) = Slot::take(&answering) else {
                        let _ = stream.shutdown(Shutdown::Both);
                        continue;
                    };
                    let doc = doc.clone();
                    // The slot is given back when the thread ends, or at once if none starts.
                    let _ = thread::Builder::new()
                        .name("io-policy-conn".into())
                        .spawn(move || {
                            let _slot = slot;
                            answer(stream, &doc);
                        });
                }
            })?;
        Ok(PolicyListener { addr, stop })
    }

    /// Where it listens; with port 0, the port the OS picked.
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

/// One of the `MAX_ANSWERING` answers that may run at once, given back when dropped.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(answering: &Arc<AtomicUsize>) -> Option<Slot> {
        if answering.fetch_add(1, Ordering::AcqRel) >= MAX_ANSWERING {
            answering.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Slot(answering.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Reads the probe before answering (the original answered blindly), but never waits on a
/// silent peer for long.
fn answer(mut stream: TcpStream, doc: &[u8]) {
    let _ = stream.set_read_timeout(Some(policy::PROBE_TIMEOUT));
    let mut probe = [0u8; policy::PROBE.len()];
    let mut got = 0;
    while got < probe.len() {
        let Some(rest) = probe.get_mut(got..) else {
            break;
        };
        match stream.read(rest) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    if policy::classify(probe.get(..got).unwrap_or_default()) == policy::Probe::Policy {
        let _ = stream.write_all(doc);
    }
    let _ = stream.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn probe(addr: SocketAddr) -> Vec<u8> {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(policy::PROBE).unwrap();
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        answer
    }

    #[test]
    fn a_flood_of_silent_peers_holds_a_bounded_number_of_threads() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let doc = Bytes::from_static(b"<cross-domain-policy/>\0");
        let policy = PolicyListener::start(listener, doc.clone()).unwrap();
        let addr = policy.local_addr();
        assert_eq!(probe(addr), doc);
        // More silent peers than answers run at once: the surplus is closed at once.
        let silent: Vec<TcpStream> = (0..MAX_ANSWERING + 16)
            .map(|_| TcpStream::connect(addr).unwrap())
            .collect();
        let started = Instant::now();
        std::thread::sleep(Duration::from_millis(300));
        // Well before the probe timeout, after which every one of them is closed.
        let mut closed_early = 0;
        for mut s in silent {
            s.set_nonblocking(true).unwrap();
            if matches!(s.read(&mut [0u8; 1]), Ok(0)) {
                closed_early += 1;
            }
        }
        assert!(started.elapsed() < policy::PROBE_TIMEOUT);
        assert_eq!(closed_early, 16, "closed at once");
        // Once the silent ones have timed out, probes are answered again.
        std::thread::sleep(policy::PROBE_TIMEOUT.saturating_sub(started.elapsed()));
        let deadline = Instant::now() + Duration::from_secs(10);
        while probe(addr) != doc {
            assert!(Instant::now() < deadline, "no answer after the flood");
            std::thread::sleep(Duration::from_millis(100));
        }
        policy.stop();
    }
}
