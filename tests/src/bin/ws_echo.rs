//! A plain WebSocket echo server on io-core's handshake and framing code, RFC 6455 and
//! hixie-76: every message comes back unchanged, pings are answered, a close is returned,
//! and a framing error closes (RFC 6455: with the decoder's code).
//!
//! The Autobahn conformance cases run against its RFC 6455 side (`scripts/autobahn`); its
//! hixie-76 side is compared with another implementation's (`tests/tests/hixie_oracle.rs`).
//! Unlike a Socket.IO endpoint it takes binary messages (Socket.IO 0.6 has none and refuses
//! them with 1003), so the suite's binary cases test the decoder too. One thread per
//! connection keeps it simple; it is a test fixture, not a server to deploy.
//!
//! `ws_echo --port N` (0: any free port); it prints `listening on 127.0.0.1:PORT`.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};

use io_core::http::parser::RequestParser;
use io_core::http::request::Request;
use io_core::websocket::handshake::{
    classify, hixie76_answer, hixie76_key_number, hixie76_response, rfc6455_accept,
    rfc6455_response, Flavour,
};
use io_core::websocket::hixie::{self, HixieDecoder};
use io_core::websocket::rfc6455::{self, Rfc6455Decoder};
use io_core::websocket::WsEvent;

/// The suite's largest messages are 16 MiB (cases 9.x).
const MAX_MESSAGE: usize = 64 * 1024 * 1024;
const MAX_HEAD: usize = 16 * 1024;

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut port = 9001;
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--port", Some(p)) => port = p.parse().map_err(io::Error::other)?,
            _ => return Err(io::Error::other("usage: ws_echo --port N")),
        }
    }
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    println!("listening on {}", listener.local_addr()?);
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        std::thread::spawn(move || {
            let _ = serve(stream);
        });
    }
    Ok(())
}

fn serve(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut parser = RequestParser::new(MAX_HEAD, 0);
    let mut pending = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let request = loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        pending.extend_from_slice(&buf[..n]);
        let progress = parser.feed(&pending).map_err(io::Error::other)?;
        pending.drain(..progress.consumed);
        if let Some(request) = progress.request {
            break request;
        }
    };
    if let Ok(Flavour::Hixie76) = classify(&request) {
        return serve_hixie76(stream, &request, pending, buf);
    }
    let accept = match classify(&request) {
        Ok(Flavour::Rfc6455) => request
            .header("sec-websocket-key")
            .ok_or(())
            .and_then(|k| rfc6455_accept(k).map_err(|_| ())),
        _ => Err(()),
    };
    let Ok(accept) = accept else {
        stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")?;
        return Ok(());
    };
    stream.write_all(&rfc6455_response(&accept))?;

    let mut decoder = Rfc6455Decoder::new(MAX_MESSAGE).with_binary();
    let mut events = Vec::new();
    let mut input = pending;
    loop {
        let fed = decoder.feed(&input, &mut events);
        for event in events.drain(..) {
            match event {
                WsEvent::Text(text) => send(&mut stream, rfc6455::OP_TEXT, text.as_bytes())?,
                WsEvent::Binary(data) => send(&mut stream, rfc6455::OP_BINARY, &data)?,
                WsEvent::Ping(p) => stream.write_all(&rfc6455::pong_frame(&p))?,
                WsEvent::Pong(_) => {}
                WsEvent::Close { code, .. } => {
                    match code {
                        Some(code) => stream.write_all(&rfc6455::close_frame(code, ""))?,
                        None => stream.write_all(&[0x88, 0])?,
                    }
                    return linger_close(stream);
                }
                // Nothing else is decoded today.
                _ => {}
            }
        }
        if let Err(e) = fed {
            stream.write_all(&rfc6455::close_frame(e.close_code, e.reason))?;
            return linger_close(stream);
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        input = buf[..n].to_vec();
    }
}

/// hixie-76: the head at once, the 16-byte answer once key3 is in, then echoes.
fn serve_hixie76(
    mut stream: TcpStream,
    request: &Request,
    mut input: Vec<u8>,
    mut buf: Vec<u8>,
) -> io::Result<()> {
    let key = |name| {
        request
            .header(name)
            .ok_or(())
            .and_then(|k| hixie76_key_number(k).map_err(|_| ()))
    };
    let (Ok(key1), Ok(key2)) = (key("sec-websocket-key1"), key("sec-websocket-key2")) else {
        stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")?;
        return Ok(());
    };
    let origin = request.header("origin").unwrap_or("null");
    let location = format!(
        "ws://{}{}",
        request.header("host").unwrap_or(""),
        request.target
    );
    stream.write_all(&hixie76_response(
        origin,
        &location,
        request.header("sec-websocket-protocol"),
    ))?;
    while input.len() < 8 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        input.extend_from_slice(&buf[..n]);
    }
    let mut key3 = [0u8; 8];
    key3.copy_from_slice(&input[..8]);
    stream.write_all(&hixie76_answer(key1, key2, &key3))?;
    let mut decoder = HixieDecoder::new(MAX_MESSAGE);
    let mut events = Vec::new();
    let mut input = input.split_off(8);
    loop {
        let fed = decoder.feed(&input, &mut events);
        for event in events.drain(..) {
            match event {
                WsEvent::Text(text) => {
                    let mut frame = hixie::FRAME_START.to_vec();
                    frame.extend_from_slice(text.as_bytes());
                    frame.extend_from_slice(hixie::FRAME_END);
                    stream.write_all(&frame)?;
                }
                WsEvent::Close { .. } => {
                    stream.write_all(hixie::CLOSE)?;
                    return linger_close(stream);
                }
                _ => {}
            }
        }
        if fed.is_err() {
            return linger_close(stream);
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        input = buf[..n].to_vec();
    }
}

fn send(stream: &mut TcpStream, opcode: u8, payload: &[u8]) -> io::Result<()> {
    let mut frame = rfc6455::frame_header(opcode, payload.len()).to_vec();
    frame.extend_from_slice(payload);
    stream.write_all(&frame)
}

/// Half-closes and waits briefly for the peer's end, so that the close frame is read before
/// the connection goes (RFC 6455 §7.1.1: the server closes the TCP connection first).
fn linger_close(mut stream: TcpStream) -> io::Result<()> {
    stream.shutdown(Shutdown::Write)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(2)))?;
    let mut sink = [0u8; 1024];
    while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
    Ok(())
}
