//! The benchmark's load generator, as a library of small sans-IO state machines so each piece
//! can be tested without a server: the Socket.IO 0.6 framing ([`frame`]), the WebSocket and
//! HTTP client sides ([`ws`], [`http`]), one Socket.IO session over any transport
//! ([`session`]), and the figures ([`stats`], [`procstat`]); [`tls`] configures rustls for
//! the connections that speak TLS. The event loop that drives them is [`driver`], used by
//! `src/bin/loadgen.rs`.
//!
//! It shares no code with the servers it measures, so it can measure the original as well.

pub mod driver;
pub mod frame;
pub mod http;
pub mod measure;
pub mod net;
pub mod procstat;
pub mod session;
pub mod stats;
pub mod tls;
pub mod ws;
