//! WebSocket handshakes and framing: hixie-75, hixie-76 and RFC 6455.
