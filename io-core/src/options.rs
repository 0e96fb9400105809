//! Server options: the seed's names and defaults, plus the limits the seed never had.

use std::fmt;
use std::time::Duration;

use crate::origin::Origins;
use crate::transport::TransportKind;

/// Per-transport session timings (the seed's `transportOptions[<name>]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportOptions {
    /// How long to wait for a heartbeat's echo; `None` turns heartbeats off.
    pub timeout: Option<Duration>,
    /// How long after an attach, or the echo of the last heartbeat, the next heartbeat is sent
    /// (when `timeout` is set).
    pub heartbeat_interval: Duration,
    /// How long a session outlives its transport before it is disconnected.
    pub close_timeout: Duration,
    /// How long a long poll is held before it is answered empty (polling transports only).
    pub duration: Duration,
}

impl TransportOptions {
    /// The reference's defaults for `kind` (docs/PROTOCOL.md §3.8).
    pub fn defaults(kind: TransportKind) -> Self {
        let streaming = TransportOptions {
            timeout: Some(Duration::from_millis(8000)),
            heartbeat_interval: Duration::from_millis(10_000),
            close_timeout: Duration::ZERO,
            duration: Duration::from_millis(20_000),
        };
        if kind.is_polling() {
            TransportOptions {
                timeout: None,
                close_timeout: Duration::from_millis(8000),
                ..streaming
            }
        } else {
            streaming
        }
    }
}

/// Sizes and counts past which the server refuses work instead of growing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Request line plus headers, in bytes (431 past it).
    pub max_head: usize,
    /// A request body, in bytes (413 past it).
    pub max_body: usize,
    /// One WebSocket message, in bytes (close 1009 past it).
    pub max_frame: usize,
    /// Encoded bytes queued for a session that has no transport attached; past it the
    /// session is disconnected, because a consumer that never reads must not eat the heap.
    pub max_queue: usize,
    /// Bytes transmitted to one connection that the embedder has not yet reported written
    /// (`Server::handle_written`): a peer that stops reading while more is sent to it past
    /// this is cut off (see `DisconnectReason::SlowPeer`). One response larger than this still
    /// goes out whole.
    pub max_unwritten: usize,
    /// Sessions alive at once (503 past it).
    pub max_sessions: usize,
    /// New sessions one peer address may make per second (503 past it; 0: no limit). IPv6
    /// addresses count by their /64. Behind a proxy every client has the proxy's address:
    /// raise it or set 0 there.
    pub max_new_sessions_per_peer: u32,
    /// Time a request may take to arrive whole, from its first byte (`408` past it).
    pub request_timeout: Duration,
    /// The longest a connection may sit without a request begun: a new connection that has
    /// sent nothing yet, or a keep-alive one between requests. It is then closed, so that
    /// connections opened and left silent do not hold descriptors for long.
    pub idle_timeout: Duration,
    /// The longest a hixie-76 handshake waits for the 8 bytes of key3 after its head;
    /// browsers send them with the head. The connection is then closed.
    pub handshake_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head: 16 * 1024,
            max_body: 8 * 1024 * 1024,
            max_frame: 8 * 1024 * 1024,
            max_queue: 16 * 1024 * 1024,
            max_unwritten: 16 * 1024 * 1024,
            max_sessions: 100_000,
            max_new_sessions_per_peer: 100,
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(15),
            handshake_timeout: Duration::from_secs(5),
        }
    }
}

/// Fills a buffer with unpredictable bytes; session ids are drawn from it.
pub type RandomFn = Box<dyn FnMut(&mut [u8]) + Send>;

/// Everything the seed's `io.listen(server, options)` took, in Rust form.
#[derive(Clone)]
pub struct Options {
    /// The path prefix that marks Socket.IO requests: `/<resource>/…`. May contain `/`.
    pub resource: String,
    /// Enabled transports, in the client's order of preference.
    pub transports: Vec<TransportKind>,
    /// Origin patterns (`host:port`, either part `*`); also the Flash policy's entries.
    pub origins: Origins,
    /// The port of a standalone Flash policy server for the adapter to start (the seed's
    /// `flashPolicyServer`, on 843, which needs root); `None` starts none.
    pub flash_policy_server: Option<u16>,
    /// Answer `<policy-file-request/>` probes inline on the HTTP port (when flashsocket is on),
    /// which is where Flash asks when the policy server does not answer.
    pub inline_flash_policy: bool,
    /// Count every connection as secure: hixie WebSocket locations say `wss://`. For a
    /// TLS-terminating proxy that does not send `X-Forwarded-Proto`; connections the
    /// adapter itself serves over TLS are secure without it.
    pub secure: bool,
    /// Reverse proxies (their addresses as the server sees them) whose `X-Forwarded-Proto`,
    /// `X-Forwarded-Host` and `X-Forwarded-For` are believed: for the scheme and host in
    /// hixie locations, and the client address that per-address limits count. From any
    /// other peer these headers are ignored, since a client can send them too.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Sizes, counts and timeouts past which a peer is refused or cut off.
    pub limits: Limits,
    /// This process's node in a cluster: the first part of every session id it creates,
    /// so that a proxy can route a session's requests to it. 0 when there is one node.
    pub node_id: u16,
    /// This node shares a message bus with others: broadcasts, and messages for sessions
    /// that another node owns, also become publications for the bus
    /// ([`Server::poll_publication`](crate::Server::poll_publication)). Off, nothing is
    /// published and a broadcast costs what it always did.
    pub cluster: bool,
    /// Ask the application about every new session before it exists: each handshake
    /// becomes an [`Event::Authorize`](crate::Event::Authorize), and waits for
    /// [`Server::authorize`](crate::Server::authorize) (which may come later, after a
    /// database lookup). A refusal is answered `403`.
    pub authorize: bool,
    /// Keep each session's handshake for the application to read
    /// ([`Server::handshake`](crate::Server::handshake)): its headers, cookies, query and
    /// client address. Off, a session costs no memory for it.
    pub keep_handshakes: bool,
    /// Keep, for each session, the latest request that attached a transport to it (a poll,
    /// a stream, a WebSocket connecting again) for the application to read
    /// ([`Server::latest_request`](crate::Server::latest_request)): its cookies or address
    /// may have changed since the handshake. Off, attaching costs nothing more.
    pub keep_latest_requests: bool,
    transport_options: [TransportOptions; TransportKind::COUNT],
}

impl Options {
    /// The seed's defaults: resource `socket.io`, every transport, any origin, a Flash policy
    /// server on 843 and the inline policy answer.
    pub fn new() -> Self {
        Options {
            resource: "socket.io".into(),
            transports: TransportKind::ALL.to_vec(),
            origins: Origins::any(),
            flash_policy_server: Some(843),
            inline_flash_policy: true,
            secure: false,
            trusted_proxies: Vec::new(),
            limits: Limits::default(),
            node_id: 0,
            cluster: false,
            authorize: false,
            keep_handshakes: false,
            keep_latest_requests: false,
            transport_options: TransportKind::ALL.map(TransportOptions::defaults),
        }
    }

    /// The timings for sessions on `kind`.
    #[expect(
        clippy::indexing_slicing,
        reason = "one slot per TransportKind, whose discriminants are 0..COUNT"
    )]
    pub fn transport_options(&self, kind: TransportKind) -> &TransportOptions {
        &self.transport_options[kind as usize]
    }

    /// The timings for sessions on `kind`, to change them.
    #[expect(
        clippy::indexing_slicing,
        reason = "one slot per TransportKind, whose discriminants are 0..COUNT"
    )]
    pub fn transport_options_mut(&mut self, kind: TransportKind) -> &mut TransportOptions {
        &mut self.transport_options[kind as usize]
    }

    /// Sets the same change on every transport, e.g. a short heartbeat for tests.
    pub fn for_each_transport(&mut self, mut f: impl FnMut(TransportKind, &mut TransportOptions)) {
        for kind in TransportKind::ALL {
            f(kind, self.transport_options_mut(kind));
        }
    }

    /// Whether `kind` is in [`transports`](Self::transports); a request naming another one
    /// goes to the application like any request outside the resource.
    pub fn is_enabled(&self, kind: TransportKind) -> bool {
        self.transports.contains(&kind)
    }
}

impl Default for Options {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("resource", &self.resource)
            .field("transports", &self.transports)
            .field("origins", &self.origins)
            .field("flash_policy_server", &self.flash_policy_server)
            .field("inline_flash_policy", &self.inline_flash_policy)
            .field("secure", &self.secure)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("limits", &self.limits)
            .field("node_id", &self.node_id)
            .field("cluster", &self.cluster)
            .field("authorize", &self.authorize)
            .field("keep_handshakes", &self.keep_handshakes)
            .field("keep_latest_requests", &self.keep_latest_requests)
            .field("transport_options", &self.transport_options)
            .finish_non_exhaustive()
    }
}
