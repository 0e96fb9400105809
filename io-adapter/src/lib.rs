//! What every adapter of `io-core` shares, written once: the engine between sockets and the
//! core, the server builder and its handle, client handles, callback dispatch, the Flash
//! policy listener, write queues, and TLS (feature `tls`, rustls). An adapter (io-smol,
//! io-std, io-hyper) implements [`Runtime`] and [`Adapter`] with its own I/O loops and
//! nothing else; its [`Socket`] may be a kernel socket or, for an adapter that serves from
//! inside another HTTP stack (io-hyper), an in-memory pipe to that stack.
//!
//! The engine's contract, on every adapter:
//!
//! - **Writes** happen in the task or thread that produced them, without blocking: bytes
//!   the core produced go straight to the socket while it takes them; only the rest waits
//!   for a writer. The core owns flow control: it is told what each socket took, and cuts
//!   off a peer that stops reading.
//! - **Callbacks** run one at a time, in the order the core produced the events, so the
//!   events of one session reach the application in order, and no two callbacks run at the
//!   same time. They run on whichever task or thread fed the core the input behind them
//!   (a reader, the timer, or the code that called a client handle), outside the core's
//!   lock: a callback may call any handle method. A callback that blocks holds up the
//!   callbacks behind it (not the other sessions' reads and writes); one that panics is
//!   logged and the server goes on.
//! - **The timer** is woken only when the earliest deadline moves earlier than the one it
//!   sleeps until.
#![warn(missing_docs)]
#![forbid(unsafe_code)]
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

pub mod bus;
pub mod callbacks;
pub mod client;
pub mod engine;
pub mod policy;
pub mod server;
#[cfg(feature = "tls")]
pub mod tls;
pub mod verdict;
pub mod write;

pub use bus::{Bus, Inbox};
pub use callbacks::Callbacks;
pub use client::Client;
pub use engine::{Batch, Engine, Runtime, Socket};
pub use server::{Adapter, Handle, Server};
#[cfg(feature = "tls")]
pub use tls::{TlsConfig, TlsError};
pub use verdict::Verdict;
