//! The message bus between the nodes of a cluster, as the engine sees it: what the core
//! publishes goes to [`Bus::publish`], and what other nodes published comes back through
//! the [`Inbox`] the bus was started with. A bus crate (io-redis) implements [`Bus`]; the
//! server takes it with [`Server::bus`](crate::Server::bus).

use std::fmt;
use std::io;
use std::sync::{Arc, Weak};

use bytes::Bytes;
use io_core::Publication;

/// A message bus shared by the nodes of a cluster. Delivery is at most once: a bus that
/// cannot carry a publication (disconnected, or behind) drops it and counts it, and never
/// holds up the server.
pub trait Bus: Send + Sync + 'static {
    /// Carries `publication` to the nodes it is for. Called with the server's lock held:
    /// it must not block (queue it, or drop it).
    fn publish(&self, publication: Publication);
    /// Starts delivering what the other nodes publish, to `inbox`, from a thread or task
    /// of the bus's own. Called once, when the server starts.
    fn start(&self, inbox: Inbox) -> io::Result<()>;
    /// Stops delivering and publishing; called once, when the server shuts down.
    fn stop(&self);
}

/// Where a bus hands what arrives from other nodes. Cheap to clone; once the server is
/// gone, deliveries are dropped.
#[derive(Clone)]
pub struct Inbox {
    deliver: Arc<dyn Fn(Bytes) + Send + Sync>,
    node_id: u16,
    resource: Arc<str>,
}

impl fmt::Debug for Inbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbox")
            .field("node_id", &self.node_id)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

impl Inbox {
    /// An inbox that calls `deliver` with what arrives, for the node `node_id` serving
    /// `resource`.
    pub fn new(
        deliver: impl Fn(Bytes) + Send + Sync + 'static,
        node_id: u16,
        resource: &str,
    ) -> Self {
        Inbox {
            deliver: Arc::new(deliver),
            node_id,
            resource: resource.into(),
        }
    }

    /// An inbox that feeds `engine`, as long as it lives.
    pub(crate) fn for_engine<T: Send + Sync + 'static>(
        engine: Weak<T>,
        feed: fn(&Arc<T>, Bytes),
        node_id: u16,
        resource: &str,
    ) -> Self {
        Self::new(
            move |bytes| {
                if let Some(engine) = engine.upgrade() {
                    feed(&engine, bytes);
                }
            },
            node_id,
            resource,
        )
    }

    /// Hands over a publication another node put on the bus.
    pub fn deliver(&self, publication: Bytes) {
        (self.deliver)(publication)
    }

    /// This node's id (`Options::node_id`): the bus subscribes to what is addressed to it.
    pub fn node_id(&self) -> u16 {
        self.node_id
    }

    /// The server's resource (`socket.io` by default), which names the bus's channels, so
    /// that several applications can share one bus.
    pub fn resource(&self) -> &str {
        &self.resource
    }
}
