//! Sans-IO Socket.IO 0.6 server engine.
#![forbid(unsafe_code)]

pub mod codec;
pub mod http;
pub mod message;
pub mod policy;
pub mod websocket;

pub use http::request::Request;
pub use message::Message;
