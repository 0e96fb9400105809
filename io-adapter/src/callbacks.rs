//! The application's callbacks, and which one an event goes to.

use std::fmt;

use io_core::{ConnId, DisconnectReason, Event, Handshake, Message, Request, Response, SessionId};

type RequestFn = Box<dyn Fn(&Request) -> Response + Send + Sync>;
type RouteFn = Box<dyn Fn(&Request) -> Response + Send + Sync>;
type ConnectFn<C> = Box<dyn Fn(C) + Send + Sync>;
type MessageFn<C> = Box<dyn Fn(C, Message) + Send + Sync>;
type DisconnectFn<C> = Box<dyn Fn(C, DisconnectReason) + Send + Sync>;
type AuthorizeFn<V> = Box<dyn Fn(&Handshake, V) + Send + Sync>;

/// The application's callbacks, generic over the client handle `C` and the verdict `V`
/// they are given.
pub struct Callbacks<C, V = ()> {
    /// Decides whether a handshake may make a session; without it, every one may.
    pub authorize: Option<AuthorizeFn<V>>,
    /// Answers for exact paths outside the resource, asked before `request`.
    pub routes: Vec<(String, RouteFn)>,
    /// Answers a request outside the resource; without it, [`dispatch`](Self::dispatch) answers
    /// 404.
    pub request: Option<RequestFn>,
    /// Called when a session's first transport attaches.
    pub connect: Option<ConnectFn<C>>,
    /// Called for each message a client sends, text or JSON.
    pub message: Option<MessageFn<C>>,
    /// Called exactly once for every session that connected, with why it ended.
    pub disconnect: Option<DisconnectFn<C>>,
}

impl<C, V> Default for Callbacks<C, V> {
    fn default() -> Self {
        Callbacks {
            authorize: None,
            routes: Vec::new(),
            request: None,
            connect: None,
            message: None,
            disconnect: None,
        }
    }
}

impl<C, V> Callbacks<C, V> {
    /// Calls the callback for `event`. For a request outside the resource it returns the
    /// response to pass to `Server::respond` (a 404 when there is no request callback).
    /// A handshake goes to the authorize callback with `verdict(conn)`; without one the
    /// verdict is dropped, and the caller's verdict type decides what that means.
    pub fn dispatch(
        &self,
        event: Event,
        client: impl FnOnce(SessionId) -> C,
        verdict: impl FnOnce(ConnId) -> V,
    ) -> Option<(ConnId, Response)> {
        match event {
            Event::Authorize(conn, handshake) => {
                let v = verdict(conn);
                if let Some(f) = &self.authorize {
                    f(&handshake, v);
                }
            }
            Event::Connect(id) => {
                if let Some(f) = &self.connect {
                    f(client(id));
                }
            }
            Event::Message(id, msg) => {
                if let Some(f) = &self.message {
                    f(client(id), msg);
                }
            }
            Event::Disconnect(id, reason) => {
                if let Some(f) = &self.disconnect {
                    f(client(id), reason);
                }
            }
            Event::Request(conn, req) => {
                let route = self.routes.iter().find(|(path, _)| req.path() == path);
                let response = match (route, &self.request) {
                    (Some((_, f)), _) => f(&req),
                    (None, Some(f)) => f(&req),
                    (None, None) => Response::with_body(404, "text/plain", "Not Found"),
                };
                return Some((conn, response));
            }
            // An event of a newer core than this layer knows: nothing to call.
            _ => {}
        }
        None
    }
}

impl<C, V> fmt::Debug for Callbacks<C, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callbacks")
            .field("authorize", &self.authorize.is_some())
            .field(
                "routes",
                &self.routes.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            )
            .field("request", &self.request.is_some())
            .field("connect", &self.connect.is_some())
            .field("message", &self.message.is_some())
            .field("disconnect", &self.disconnect.is_some())
            .finish()
    }
}
