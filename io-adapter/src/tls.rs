//! TLS with rustls: https and wss on every adapter, written once.
//!
//! The engine keeps a rustls session beside each connection's write queue, under the same
//! lock: ciphertext read from the socket goes through it before the core sees a byte, and
//! what the core produces goes through it on the way out. The adapters only move bytes, as
//! for plain TCP. Flow control holds: rustls takes plaintext only up to
//! [`SEND_BUFFER`] bytes it has not written yet, and the core counts as unwritten what
//! rustls has not taken.
//!
//! The core sees no bytes until the TLS handshake ends, so the handshake has its own time
//! limit here ([`TlsConfig::handshake_timeout`]).

use std::fmt;
use std::io::{self, IoSlice, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection};

use crate::engine::Socket;

/// Ciphertext and plaintext rustls may hold unwritten for one connection: one TLS record
/// and some, so that a full socket stops the core's writes instead of growing a buffer.
pub const SEND_BUFFER: usize = 64 * 1024;

/// The default of [`TlsConfig::handshake_timeout`].
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a server needs to speak TLS: rustls's configuration, and how long a client may take
/// over the handshake.
#[derive(Clone)]
pub struct TlsConfig {
    config: Arc<ServerConfig>,
    handshake_timeout: Duration,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("alpn", &self.config.alpn_protocols)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish()
    }
}

/// Why a certificate chain or key could not be used.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    Read {
        /// The path as given to [`TlsConfig::from_pem_files`].
        path: PathBuf,
        /// Why reading it failed.
        source: io::Error,
    },
    /// The certificate PEM holds no `CERTIFICATE` block (or a broken one).
    NoCertificate {
        /// The file it came from; `None` for PEM given to [`TlsConfig::from_pem`].
        path: Option<PathBuf>,
    },
    /// The key PEM holds no private key (PKCS#8, PKCS#1 or SEC1), or a broken one.
    NoKey {
        /// The file it came from; `None` for PEM given to [`TlsConfig::from_pem`].
        path: Option<PathBuf>,
    },
    /// rustls refused the pair: the key does not match the certificate, or is of a kind it
    /// does not support.
    Rejected(rustls::Error),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let named = |p: &Option<PathBuf>| match p {
            Some(p) => format!(" in {}", p.display()),
            None => String::new(),
        };
        match self {
            TlsError::Read { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            TlsError::NoCertificate { path } => {
                write!(f, "no PEM certificate{}", named(path))
            }
            TlsError::NoKey { path } => write!(
                f,
                "no PEM private key (PKCS#8, PKCS#1 or SEC1){}",
                named(path)
            ),
            TlsError::Rejected(e) => write!(f, "the certificate and key were refused: {e}"),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TlsError::Read { source, .. } => Some(source),
            TlsError::Rejected(e) => Some(e),
            _ => None,
        }
    }
}

impl From<TlsError> for io::Error {
    fn from(e: TlsError) -> Self {
        io::Error::new(io::ErrorKind::InvalidInput, e)
    }
}

impl TlsConfig {
    /// A configuration of the application's own (client certificates, resumption,
    /// protocol versions). It must offer HTTP/1.1: set `alpn_protocols` to `http/1.1` or
    /// leave it empty, since the server speaks nothing else.
    pub fn new(config: Arc<ServerConfig>) -> Self {
        TlsConfig {
            config,
            handshake_timeout: HANDSHAKE_TIMEOUT,
        }
    }

    /// A certificate chain (leaf first) and its private key, from PEM files: what a
    /// certificate authority or `certbot` hands out.
    pub fn from_pem_files(cert: impl AsRef<Path>, key: impl AsRef<Path>) -> Result<Self, TlsError> {
        let read = |p: &Path| {
            std::fs::read(p).map_err(|source| TlsError::Read {
                path: p.to_owned(),
                source,
            })
        };
        let (cert, key) = (cert.as_ref(), key.as_ref());
        Self::from_pem(&read(cert)?, &read(key)?).map_err(|e| match e {
            TlsError::NoCertificate { .. } => TlsError::NoCertificate {
                path: Some(cert.to_owned()),
            },
            TlsError::NoKey { .. } => TlsError::NoKey {
                path: Some(key.to_owned()),
            },
            e => e,
        })
    }

    /// The same, from PEM text in memory.
    pub fn from_pem(cert: &[u8], key: &[u8]) -> Result<Self, TlsError> {
        let chain = CertificateDer::pem_slice_iter(cert)
            .collect::<Result<Vec<_>, _>>()
            .ok()
            .filter(|c| !c.is_empty())
            .ok_or(TlsError::NoCertificate { path: None })?;
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|_| TlsError::NoKey { path: None })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Rejected)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(TlsError::Rejected)?;
        // A browser that is offered nothing may pick HTTP/2, which the server does not speak.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self::new(Arc::new(config)))
    }

    /// How long a client may take from connecting to the end of the TLS handshake before
    /// it is cut off. Ten seconds unless set.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The time limit on a handshake.
    pub fn timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// A session for a new connection.
    pub(crate) fn accept(&self) -> Result<Session, rustls::Error> {
        let mut conn = ServerConnection::new(self.config.clone())?;
        conn.set_buffer_limit(Some(SEND_BUFFER));
        Ok(Session {
            conn,
            started: false,
            read_closed: false,
        })
    }
}

/// One connection's TLS state.
pub(crate) struct Session {
    conn: ServerConnection,
    /// A byte has arrived: the first one tells TLS from plain HTTP.
    started: bool,
    /// The peer sent its close_notify.
    read_closed: bool,
}

/// What a read did.
pub(crate) enum Input {
    /// Plaintext (possibly none) for the core; `closed` once the peer has said it sends no
    /// more.
    Plain { closed: bool },
    /// The bytes were not TLS at all but a plain HTTP request: answer it with
    /// [`PLAIN_HTTP_REFUSAL`], unencrypted, and close.
    PlainHttp,
    /// TLS failed (a bad record, a handshake the server cannot agree to): its alert is
    /// queued; write it and close.
    Failed(rustls::Error),
}

/// The answer to a plain HTTP request on a TLS port, so that whoever typed `http://` sees
/// why instead of an empty reply.
pub const PLAIN_HTTP_REFUSAL: &[u8] = b"HTTP/1.1 400 Bad Request\r\n\
    Content-Type: text/plain\r\nContent-Length: 59\r\nConnection: close\r\n\r\n\
    This port speaks TLS: use https:// or wss:// to reach it.\r\n";

impl Session {
    /// Feeds ciphertext read from the socket; the plaintext it carried goes to `plain`.
    pub fn read(&mut self, mut data: &[u8], plain: &mut Vec<u8>) -> Input {
        plain.clear();
        if !self.started && !data.is_empty() {
            self.started = true;
            // A TLS record starts with its content type (20 to 24); an HTTP request with a
            // method in capitals.
            if data.first().is_some_and(u8::is_ascii_uppercase) {
                return Input::PlainHttp;
            }
        }
        while !data.is_empty() {
            if let Err(e) = self.conn.read_tls(&mut data) {
                // Only a full buffer, which processing the packets below empties first.
                return Input::Failed(rustls::Error::General(e.to_string()));
            }
            let state = match self.conn.process_new_packets() {
                Ok(state) => state,
                Err(e) => return Input::Failed(e),
            };
            let n = state.plaintext_bytes_to_read();
            if n > 0 {
                let start = plain.len();
                plain.resize(start + n, 0);
                if let Some(room) = plain.get_mut(start..) {
                    if let Err(e) = self.conn.reader().read_exact(room) {
                        return Input::Failed(rustls::Error::General(e.to_string()));
                    }
                }
            }
            if state.peer_has_closed() {
                let first = !self.read_closed;
                self.read_closed = true;
                return Input::Plain { closed: first };
            }
        }
        Input::Plain { closed: false }
    }

    /// Still in the handshake: the core has seen nothing yet.
    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// Writes out what rustls holds. `Ok(true)`: all of it; `Ok(false)`: the socket is
    /// full.
    pub fn write_out(&mut self, socket: &impl Socket) -> io::Result<bool> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut SocketWrite(socket)) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Hands plaintext to rustls; returns how much it took (0 once [`SEND_BUFFER`] is
    /// full, or while the handshake runs).
    pub fn take_plain(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        if self.conn.is_handshaking() {
            return Ok(0);
        }
        self.conn.writer().write_vectored(bufs)
    }

    /// Says goodbye (close_notify) before the socket closes, as far as the socket takes it
    /// at once.
    pub fn close(&mut self, socket: &impl Socket) {
        self.conn.send_close_notify();
        let _ = self.write_out(socket);
    }
}

/// A socket as rustls writes ciphertext to it: never blocking.
struct SocketWrite<'a, S>(&'a S);

impl<S: Socket> Write for SocketWrite<'_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.try_write(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.0.try_write(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_http_refusal_says_its_length() {
        let text = std::str::from_utf8(PLAIN_HTTP_REFUSAL).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(len, body.len());
    }
}
