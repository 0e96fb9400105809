//! HTTP/1.x: an incremental request parser, form bodies, and the response writer.

pub mod form;
pub mod parser;
pub mod request;
pub mod response;
mod syntax;
