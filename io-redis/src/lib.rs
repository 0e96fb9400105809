//! A Redis message bus for io-adapter servers: several nodes (processes, machines) share
//! broadcasts, and messages for sessions that another node owns, through Redis's
//! publish/subscribe.
//!
//! Redis carries broadcasts only; sessions stay with the node that created them (its id is
//! in theirs), and a proxy sends each session's requests there. Nothing about a session is
//! stored in Redis.
//!
//! ```no_run
//! use io_redis::RedisBus;
//! use io_smol::{Options, Server};
//!
//! let mut options = Options::default();
//! options.node_id = 1; // each node its own
//! let bus = RedisBus::new("redis://127.0.0.1:6379/")?;
//! let server = Server::bind("127.0.0.1:8081", options)?
//!     .bus(bus.clone())?
//!     .on_message(|client, msg| client.broadcast(msg));
//! let handle = server.spawn()?;
//! // Later: how the bus fares.
//! let counts = bus.counters();
//! println!("published {}, dropped {}", counts.published, counts.dropped);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! **Delivery is at most once.** A publication goes out on one connection, arrives on
//! another; what is published while Redis is unreachable, or while more than
//! [`MAX_QUEUED`] bytes wait to go out, is dropped and counted, and never holds up the
//! server. A node that loses Redis reconnects by itself, with back-off from 100 ms up to
//! [`MAX_BACKOFF`]; its local deliveries go on meanwhile.
//!
//! **Channels** are named after the resource: `io:<resource>:all` for broadcasts and
//! `io:<resource>:node:<node id, 4 hex digits>` for one node's sessions, so that several
//! applications can share one Redis ([`RedisBus::channel_prefix`] changes the `io`).
//!
//! Two threads per node do the work: one publishes (every publication queued meanwhile
//! goes out in one pipelined round trip), one subscribes. They are plain threads, so the
//! bus works under io-smol and io-std alike.
#![warn(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use io_adapter::{Bus, Inbox};
use io_core::{Audience, Publication};

/// Bytes of publications that may wait for Redis; past that, new ones are dropped.
pub const MAX_QUEUED: usize = 32 << 20;

/// The longest wait between two attempts to reach Redis.
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// The first wait after a failed attempt.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// How long a connection attempt, or a read, may take before it counts as failed.
const IO_TIMEOUT: Duration = Duration::from_secs(1);

/// How often the subscriber looks up from its reads to see whether it must stop.
const READ_TICK: Duration = Duration::from_millis(250);

/// What the bus has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// Publications Redis accepted.
    pub published: u64,
    /// Publications received from Redis (this node's own broadcasts included, which the
    /// server then ignores).
    pub received: u64,
    /// Publications dropped: Redis was unreachable, or too much waited for it.
    pub dropped: u64,
    /// Times a connection to Redis was (re-)established, by either thread.
    pub connects: u64,
}

/// Why a bus could not be made.
#[derive(Debug)]
#[non_exhaustive]
pub enum RedisBusError {
    /// The URL is not a Redis URL (`redis://host:port/db`, `unix:///path`).
    BadUrl(redis::RedisError),
}

impl fmt::Display for RedisBusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedisBusError::BadUrl(e) => write!(f, "not a Redis URL: {e}"),
        }
    }
}

impl std::error::Error for RedisBusError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RedisBusError::BadUrl(e) => Some(e),
        }
    }
}

impl From<RedisBusError> for io::Error {
    fn from(e: RedisBusError) -> Self {
        io::Error::new(io::ErrorKind::InvalidInput, e)
    }
}

/// A message bus over Redis. Cheap to clone: the clones are one bus, so an application
/// keeps one to read [`counters`](Self::counters) after giving one to the server.
#[derive(Clone)]
pub struct RedisBus {
    shared: Arc<Shared>,
}

impl fmt::Debug for RedisBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBus")
            .field("counters", &self.counters())
            .field("connected", &self.is_connected())
            .finish_non_exhaustive()
    }
}

struct Shared {
    client: redis::Client,
    prefix: Mutex<String>,
    /// Channels, once started: (broadcasts, this node's).
    channels: Mutex<Option<(String, String)>>,
    queue: Mutex<Queue>,
    wake: Condvar,
    stop: AtomicBool,
    publisher_up: AtomicBool,
    subscriber_up: AtomicBool,
    published: AtomicU64,
    received: AtomicU64,
    dropped: AtomicU64,
    connects: AtomicU64,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<(String, Bytes)>,
    bytes: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl RedisBus {
    /// A bus on the Redis at `url` (`redis://127.0.0.1:6379/`). Nothing connects until the
    /// server starts; an unreachable Redis is then retried, not an error.
    pub fn new(url: &str) -> Result<RedisBus, RedisBusError> {
        let client = redis::Client::open(url).map_err(RedisBusError::BadUrl)?;
        Ok(RedisBus {
            shared: Arc::new(Shared {
                client,
                prefix: Mutex::new("io".into()),
                channels: Mutex::new(None),
                queue: Mutex::default(),
                wake: Condvar::new(),
                stop: AtomicBool::new(false),
                publisher_up: AtomicBool::new(false),
                subscriber_up: AtomicBool::new(false),
                published: AtomicU64::new(0),
                received: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
                connects: AtomicU64::new(0),
            }),
        })
    }

    /// The first part of every channel name (`io` unless set), before the server starts.
    pub fn channel_prefix(self, prefix: &str) -> Self {
        *lock(&self.shared.prefix) = prefix.into();
        self
    }

    /// What the bus has done so far.
    pub fn counters(&self) -> Counters {
        let s = &self.shared;
        Counters {
            published: s.published.load(Ordering::Relaxed),
            received: s.received.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
            connects: s.connects.load(Ordering::Relaxed),
        }
    }

    /// Both connections to Redis are up.
    pub fn is_connected(&self) -> bool {
        self.shared.publisher_up.load(Ordering::Relaxed)
            && self.shared.subscriber_up.load(Ordering::Relaxed)
    }

    /// The channels of the node `node` serving `resource`: (broadcasts, the node's own).
    fn channels(&self, resource: &str, node: u16) -> (String, String) {
        let prefix = lock(&self.shared.prefix).clone();
        (
            format!("{prefix}:{resource}:all"),
            format!("{prefix}:{resource}:node:{node:04x}"),
        )
    }
}

impl Bus for RedisBus {
    fn publish(&self, publication: Publication) {
        let s = &self.shared;
        let channel = match (&*lock(&s.channels), publication.audience) {
            (Some((all, _)), Audience::Everyone) => all.clone(),
            (Some((all, _)), Audience::Node(node)) => match all.strip_suffix(":all") {
                Some(base) => format!("{base}:node:{node:04x}"),
                None => return,
            },
            // Not started, or an audience this version does not know.
            _ => {
                s.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        let mut q = lock(&s.queue);
        if q.bytes + publication.bytes.len() > MAX_QUEUED {
            s.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        q.bytes += publication.bytes.len();
        q.items.push_back((channel, publication.bytes));
        drop(q);
        s.wake.notify_one();
    }

    fn start(&self, inbox: Inbox) -> io::Result<()> {
        let (all, mine) = self.channels(inbox.resource(), inbox.node_id());
        *lock(&self.shared.channels) = Some((all.clone(), mine.clone()));
        let s = self.shared.clone();
        thread::Builder::new()
            .name("io-redis-pub".into())
            .spawn(move || publisher(&s))?;
        let s = self.shared.clone();
        thread::Builder::new()
            .name("io-redis-sub".into())
            .spawn(move || subscriber(&s, &[all, mine], &inbox))?;
        Ok(())
    }

    fn stop(&self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.wake.notify_all();
    }
}

impl Shared {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Waits `d`, or less if the bus is told to stop.
    fn pause(&self, d: Duration) {
        let q = lock(&self.queue);
        if !self.stopping() {
            let _ = self.wake.wait_timeout(q, d);
        }
    }

    fn connect(&self) -> redis::RedisResult<redis::Connection> {
        let con = self.client.get_connection_with_timeout(IO_TIMEOUT)?;
        self.connects.fetch_add(1, Ordering::Relaxed);
        Ok(con)
    }

    /// Drops everything waiting, counted: Redis cannot take it now.
    fn drop_queue(&self) {
        let mut q = lock(&self.queue);
        self.dropped
            .fetch_add(q.items.len() as u64, Ordering::Relaxed);
        q.items.clear();
        q.bytes = 0;
    }
}

/// The next wait after a failed attempt.
fn backoff(d: Duration) -> Duration {
    (d * 2).min(MAX_BACKOFF)
}

/// Publishes what is queued, a pipelined batch at a time, until the bus stops.
fn publisher(s: &Shared) {
    let mut con: Option<redis::Connection> = None;
    let mut wait = FIRST_BACKOFF;
    while !s.stopping() {
        let Some(c) = con.as_mut() else {
            match s.connect() {
                Ok(c) => {
                    let _ = c.set_read_timeout(Some(IO_TIMEOUT));
                    let _ = c.set_write_timeout(Some(IO_TIMEOUT));
                    con = Some(c);
                    s.publisher_up.store(true, Ordering::Relaxed);
                    wait = FIRST_BACKOFF;
                }
                Err(_) => {
                    // What waits now would wait for an unknown time: dropped, counted.
                    s.drop_queue();
                    s.pause(wait);
                    wait = backoff(wait);
                }
            }
            continue;
        };
        let batch: Vec<(String, Bytes)> = {
            let mut q = lock(&s.queue);
            while q.items.is_empty() && !s.stopping() {
                q = s.wake.wait(q).unwrap_or_else(|e| e.into_inner());
            }
            q.bytes = 0;
            q.items.drain(..).collect()
        };
        if batch.is_empty() {
            continue;
        }
        let mut pipe = redis::pipe();
        for (channel, bytes) in &batch {
            pipe.cmd("PUBLISH").arg(channel).arg(&bytes[..]).ignore();
        }
        match pipe.query::<()>(c) {
            Ok(()) => {
                s.published.fetch_add(batch.len() as u64, Ordering::Relaxed);
            }
            Err(_) => {
                s.dropped.fetch_add(batch.len() as u64, Ordering::Relaxed);
                s.publisher_up.store(false, Ordering::Relaxed);
                con = None;
            }
        }
    }
    s.publisher_up.store(false, Ordering::Relaxed);
}

/// Receives what the other nodes publish, and hands it to the server, until the bus
/// stops; reconnects when Redis goes away.
fn subscriber(s: &Shared, channels: &[String], inbox: &Inbox) {
    let mut wait = FIRST_BACKOFF;
    while !s.stopping() {
        let mut con = match s.connect() {
            Ok(c) => c,
            Err(_) => {
                s.pause(wait);
                wait = backoff(wait);
                continue;
            }
        };
        let mut pubsub = con.as_pubsub();
        if pubsub.subscribe(channels).is_err() || pubsub.set_read_timeout(Some(READ_TICK)).is_err()
        {
            s.pause(wait);
            wait = backoff(wait);
            continue;
        }
        s.subscriber_up.store(true, Ordering::Relaxed);
        wait = FIRST_BACKOFF;
        while !s.stopping() {
            match pubsub.get_message() {
                Ok(msg) => {
                    s.received.fetch_add(1, Ordering::Relaxed);
                    inbox.deliver(Bytes::copy_from_slice(msg.get_payload_bytes()));
                }
                Err(e) if e.is_timeout() => {}
                Err(_) => break,
            }
        }
        s.subscriber_up.store(false, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_named_after_the_resource_and_the_node() {
        let bus = RedisBus::new("redis://127.0.0.1:1/").unwrap();
        assert_eq!(
            bus.channels("socket.io", 0x2a),
            ("io:socket.io:all".into(), "io:socket.io:node:002a".into())
        );
        let bus = bus.channel_prefix("chat");
        assert_eq!(bus.channels("rt", 1).0, "chat:rt:all");
    }

    #[test]
    fn a_bad_url_is_refused_and_backoff_is_capped() {
        assert!(RedisBus::new("http://nope").is_err());
        let mut d = FIRST_BACKOFF;
        for _ in 0..10 {
            d = backoff(d);
        }
        assert_eq!(d, MAX_BACKOFF);
    }

    #[test]
    fn publications_before_the_start_are_dropped_and_counted() {
        let bus = RedisBus::new("redis://127.0.0.1:1/").unwrap();
        bus.publish(Publication {
            audience: Audience::Everyone,
            bytes: Bytes::from_static(b"x"),
        });
        assert_eq!(bus.counters().dropped, 1);
    }
}
