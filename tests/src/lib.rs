//! Test harness: the reference server (npm `socket.io@0.6.18`) as a child process, a raw TCP
//! client (plain or TLS), normalised transcripts, and scripted exchanges for every transport.
//!
//! A script run against two servers that behave alike gives the same lines; the
//! differential tests compare them.

pub mod client;
pub mod cluster;
pub mod logs;
pub mod nginx;
pub mod ours;
pub mod raw;
pub mod redis_server;
pub mod reference;
pub mod scripts;
pub mod stream;
pub mod suite;
pub mod tls;
pub mod transcript;

pub use raw::{Conn, Framing, Head, Response};
pub use reference::{reference, Target};
pub use scripts::{Script, SCRIPTS};
pub use transcript::Transcript;

/// Asserts that two transcripts are equal; on failure prints both, with the first differing
/// line marked.
pub fn assert_same_transcript(name: &str, left: &[String], right: &[String]) {
    if left == right {
        return;
    }
    let first = left
        .iter()
        .zip(right)
        .position(|(l, r)| l != r)
        .unwrap_or(left.len().min(right.len()));
    let show = |lines: &[String]| {
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| format!("{} {l}", if i == first { ">>" } else { "  " }))
            .collect::<Vec<_>>()
            .join("\n")
    };
    panic!(
        "{name}: transcripts differ at line {}\n--- left\n{}\n--- right\n{}",
        first + 1,
        show(left),
        show(right)
    );
}
