//! The service an application mounts, and the server that runs it on a port of its own.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use io_adapter::Engine;
use io_core::ConnectionInfo;
use tokio::net::TcpStream;

use crate::eof::{Eof, Shared};
use crate::exchange::{answer, Answer, Body, Exchange};
use crate::{timer_loop, Handle, Hyper, Server, LINGER};

/// Where a mounted service learns a request's peer address from.
type PeerFn = dyn Fn(&http::Extensions) -> Option<SocketAddr> + Send + Sync;

/// Socket.IO as a service: mount it under the resource (`/socket.io/…`) of a hyper or axum
/// server. Cheap to clone.
#[derive(Clone)]
pub struct SocketIo {
    engine: Arc<Engine<Hyper>>,
    /// The connection's addresses, when this service serves one connection.
    addrs: Option<(SocketAddr, SocketAddr)>,
    /// When this service serves one connection of the server's own: its end of stream.
    eof: Option<Eof>,
    peer: Arc<PeerFn>,
}

impl fmt::Debug for SocketIo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketIo")
            .field("addrs", &self.addrs)
            .finish_non_exhaustive()
    }
}

impl SocketIo {
    /// Starts `server` without a port of its own and gives the service to mount, and the
    /// handle. Call it from inside a tokio runtime: the server's timer runs on it.
    pub fn mount(server: Server) -> io::Result<(SocketIo, Handle)> {
        let handle = server.spawn()?;
        let service = SocketIo {
            engine: handle.engine().clone(),
            addrs: None,
            eof: None,
            peer: Arc::new(|ext| ext.get::<SocketAddr>().copied()),
        };
        Ok((service, handle))
    }

    /// Where the peer address of each request is found: the session limit per address, the
    /// handshake the application sees and the logs need it. By default a `SocketAddr` in
    /// the request's extensions; axum puts its `ConnectInfo<SocketAddr>` there instead:
    /// `.peer_addr(|ext| ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0))`.
    pub fn peer_addr(
        mut self,
        f: impl Fn(&http::Extensions) -> Option<SocketAddr> + Send + Sync + 'static,
    ) -> Self {
        self.peer = Arc::new(f);
        self
    }

    /// This service for one connection whose addresses are known (a hyper server that
    /// builds a service per connection).
    pub fn for_connection(&self, peer: SocketAddr, local: SocketAddr) -> SocketIo {
        SocketIo {
            addrs: Some((peer, local)),
            ..self.clone()
        }
    }

    fn info(&self, ext: &http::Extensions) -> ConnectionInfo {
        let unknown = SocketAddr::from(([0, 0, 0, 0], 0));
        let (peer, local) = self
            .addrs
            .unwrap_or_else(|| ((self.peer)(ext).unwrap_or(unknown), unknown));
        ConnectionInfo::new(peer, local)
    }

    fn call_answer<B>(&self, req: Request<B>) -> impl Future<Output = Answer> + Send + 'static
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: fmt::Display,
    {
        let info = self.info(req.extensions());
        answer(self.engine.clone(), req, info, self.eof.clone())
    }
}

/// A boxed response future, as both service traits return.
type ResponseFuture<E> = Pin<Box<dyn Future<Output = Result<Response<Body>, E>> + Send>>;

/// For hyper's own servers (`serve_connection`): an error closes the connection
/// unanswered.
impl hyper::service::Service<Request<Incoming>> for SocketIo {
    type Response = Response<Body>;
    type Error = io::Error;
    type Future = ResponseFuture<io::Error>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let answer = self.call_answer(req);
        Box::pin(async move {
            match answer.await {
                Answer::Response(r) => Ok(r),
                Answer::Unanswered => Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "closed without an answer",
                )),
            }
        })
    }
}

/// For axum and tower stacks, whose services do not fail: a connection to be closed
/// unanswered gets a body that fails before its head goes out.
impl<B> tower_service::Service<Request<B>> for SocketIo
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: fmt::Display,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = ResponseFuture<Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let answer = self.call_answer(req);
        Box::pin(async move {
            Ok(match answer.await {
                Answer::Response(r) => r,
                Answer::Unanswered => {
                    let mut r = Response::new(Body::unanswered());
                    *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                    r
                }
            })
        })
    }
}

/// Runs the server on `listener` with hyper, on a tokio runtime of its own on one thread.
pub(crate) fn start_own_port(engine: &Arc<Engine<Hyper>>, listener: TcpListener) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = listener.local_addr()?;
    let listener = {
        let _entered = runtime.enter();
        tokio::net::TcpListener::from_std(listener)?
    };
    let engine = engine.clone();
    std::thread::Builder::new()
        .name("io-hyper".into())
        .spawn(move || {
            runtime.block_on(async move {
                tokio::spawn(timer_loop(engine.clone()));
                tokio::spawn(accept_loop(engine.clone(), listener, local));
                let mut stopped = engine.runtime().stopped.subscribe();
                let _ = stopped.wait_for(|s| *s).await;
                tokio::time::sleep(LINGER).await;
            });
        })?;
    Ok(())
}

async fn accept_loop(
    engine: Arc<Engine<Hyper>>,
    listener: tokio::net::TcpListener,
    local: SocketAddr,
) {
    let mut stop = engine.runtime().stop.subscribe();
    let service = SocketIo {
        engine: engine.clone(),
        addrs: None,
        eof: None,
        peer: Arc::new(|_| None),
    };
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve_connection(
                    service.for_connection(peer, local),
                    stream,
                ));
            }
            // Out of file descriptors and the like: back off instead of spinning.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Serves one connection of the server's own port: with hyper, or, when its first byte says
/// it is a Flash policy request rather than HTTP, by the core from the raw bytes.
async fn serve_connection(service: SocketIo, stream: TcpStream) {
    let engine = service.engine.clone();
    let (inline_policy, limits) = engine.query(|core| {
        let o = core.options();
        (
            o.inline_flash_policy && o.is_enabled(io_core::TransportKind::FlashSocket),
            o.limits,
        )
    });
    if inline_policy {
        let mut first = [0u8; 1];
        match tokio::time::timeout(limits.idle_timeout, stream.peek(&mut first)).await {
            Ok(Ok(1)) if first == *b"<" => {
                let info = service.info(&http::Extensions::new());
                if let Some(exchange) = Exchange::open(&engine, info, None) {
                    let (ahead, first) = (bytes::Bytes::new(), bytes::BytesMut::new());
                    crate::bridge::bridge_tcp(Arc::new(stream), exchange, ahead, first).await;
                }
                return;
            }
            Ok(Ok(n)) if n > 0 => {}
            // Closed, failed or silent: nothing to serve.
            _ => return,
        }
    }
    // hyper goes on writing to a peer that stopped sending (it may still read); the core
    // hears of it through `eof`.
    let stream = Arc::new(stream);
    let service = SocketIo {
        eof: Some(Eof(stream.clone())),
        ..service
    };
    let stream = Shared(stream);
    let connection = hyper::server::conn::http1::Builder::new()
        .title_case_headers(true)
        .half_close(true)
        .max_buf_size(limits.max_head.max(8192))
        .timer(TokioTimer::new())
        .header_read_timeout(limits.request_timeout)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    if let Err(e) = connection.await {
        log::debug!("connection ended: {e}");
    }
}
