//! The application's answer to a handshake, which it may give at once or later (after a
//! database lookup, on another thread or task).

use std::fmt;
use std::sync::Arc;

use io_core::ConnId;

use crate::engine::{Engine, Runtime};

/// The verdict on one handshake: call [`accept`](Self::accept) or
/// [`refuse`](Self::refuse), now or later, from anywhere. Dropped without either, it
/// refuses ("no verdict"), so that no handshake waits forever.
pub struct Verdict<R: Runtime> {
    conn: ConnId,
    engine: Option<Arc<Engine<R>>>,
}

impl<R: Runtime> fmt::Debug for Verdict<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verdict")
            .field("conn", &self.conn)
            .field("given", &self.engine.is_none())
            .finish()
    }
}

impl<R: Runtime> Verdict<R> {
    pub(crate) fn new(conn: ConnId, engine: Arc<Engine<R>>) -> Self {
        Verdict {
            conn,
            engine: Some(engine),
        }
    }

    /// Lets the session be: the handshake is answered as usual and the connect callback
    /// follows.
    pub fn accept(mut self) {
        self.give(Ok(()));
    }

    /// Refuses the session: the client gets `403` with `refused by the application:
    /// <reason>`; our browser client reports it as `connect_failed` with that text.
    pub fn refuse(mut self, reason: impl Into<String>) {
        self.give(Err(reason.into()));
    }

    fn give(&mut self, verdict: Result<(), String>) {
        if let Some(engine) = self.engine.take() {
            // The client may have gone meanwhile; then there is nobody to answer.
            let conn = self.conn;
            let _ = engine.command(|core, now| core.authorize(conn, verdict, now));
        }
    }
}

impl<R: Runtime> Drop for Verdict<R> {
    fn drop(&mut self) {
        self.give(Err("no verdict".into()));
    }
}
