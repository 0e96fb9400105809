//! Which part of the server a request path belongs to.

use crate::transport::TransportKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route<'a> {
    /// Not Socket.IO's: the application answers it.
    App,
    /// The browser client script.
    ClientScript,
    /// The web-socket-js Flash object, which this server does not ship.
    FlashObject,
    /// `/<resource>/<transport>[/<session>[/…]]`.
    Transport {
        kind: TransportKind,
        session: Option<&'a str>,
    },
}

/// Splits `/<resource>/<transport>/<session>/…`.
///
/// Unlike the reference, the character after the resource must be `/`
/// (`/socket.ioXsocket.io.js` is the application's), and a transport name that is not
/// enabled is the application's too.
pub(crate) fn route<'a>(
    resource: &str,
    path: &'a str,
    enabled: impl Fn(TransportKind) -> bool,
) -> Route<'a> {
    let Some(rest) = path
        .strip_prefix('/')
        .and_then(|p| p.strip_prefix(resource))
        .and_then(|p| p.strip_prefix('/'))
    else {
        return Route::App;
    };
    match rest {
        "socket.io.js" => return Route::ClientScript,
        "WebSocketMain.swf" | "lib/vendor/web-socket-js/WebSocketMain.swf" => {
            return Route::FlashObject
        }
        _ => {}
    }
    let mut parts = rest.split('/');
    let Some(kind) = parts
        .next()
        .and_then(TransportKind::from_name)
        .filter(|k| enabled(*k))
    else {
        return Route::App;
    };
    let session = parts.next().filter(|s| !s.is_empty());
    Route::Transport { kind, session }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(path: &str) -> Route<'_> {
        route("socket.io", path, |k| k != TransportKind::FlashSocket)
    }

    #[test]
    fn routes() {
        assert_eq!(r("/"), Route::App);
        assert_eq!(r("/socket.io"), Route::App);
        assert_eq!(r("/socket.io/"), Route::App);
        assert_eq!(r("/socket.ioXsocket.io.js"), Route::App);
        assert_eq!(r("/socket.io_xhr-polling"), Route::App);
        assert_eq!(r("/socket.io/socket.io.js"), Route::ClientScript);
        assert_eq!(r("/socket.io/WebSocketMain.swf"), Route::FlashObject);
        assert_eq!(r("/socket.io/inexistent"), Route::App);
        assert_eq!(r("/socket.io/constructor"), Route::App);
        assert_eq!(r("/socket.io/flashsocket"), Route::App);
        assert_eq!(
            r("/socket.io/xhr-polling//1300000000001"),
            Route::Transport {
                kind: TransportKind::XhrPolling,
                session: None
            }
        );
        assert_eq!(
            r("/socket.io/xhr-polling/123/send"),
            Route::Transport {
                kind: TransportKind::XhrPolling,
                session: Some("123")
            }
        );
        assert_eq!(
            r("/socket.io/websocket"),
            Route::Transport {
                kind: TransportKind::WebSocket,
                session: None
            }
        );
        assert_eq!(
            route("a/b", "/a/b/htmlfile", |_| true),
            Route::Transport {
                kind: TransportKind::HtmlFile,
                session: None
            }
        );
    }
}
