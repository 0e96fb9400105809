//! The example servers, as functions, so that tests run the very same code in-process.
//!
//! Each binary in `src/bin` parses the command line with [`cli::Args`] and calls one of
//! these.

pub mod apps;
pub mod axum_chat;
pub mod cli;
pub mod custom_loop;
pub mod logger;

/// The README's examples, compiled as tests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
