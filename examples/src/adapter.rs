//! The little the examples need from an adapter, so that each example is written once and
//! runs on io-std and io-smol alike.

use io_core::{DisconnectReason, Error, Message, Request, Response, SessionId};

pub trait Client: Clone + Send + Sync + 'static {
    fn session_id(&self) -> SessionId;
    fn send(&self, msg: impl Into<Message>) -> Result<(), Error>;
    fn broadcast(&self, msg: impl Into<Message>);
}

pub trait Server: Sized {
    type Client: Client;
    fn on_request(self, f: impl Fn(&Request) -> Response + Send + Sync + 'static) -> Self;
    fn on_connect(self, f: impl Fn(Self::Client) + Send + Sync + 'static) -> Self;
    fn on_message(self, f: impl Fn(Self::Client, Message) + Send + Sync + 'static) -> Self;
    fn on_disconnect(
        self,
        f: impl Fn(Self::Client, DisconnectReason) + Send + Sync + 'static,
    ) -> Self;
}

/// Both adapters spell their API the same way; this forwards to it.
macro_rules! adapter {
    ($krate:ident) => {
        impl Client for $krate::Client {
            fn session_id(&self) -> SessionId {
                $krate::Client::session_id(self)
            }
            fn send(&self, msg: impl Into<Message>) -> Result<(), Error> {
                $krate::Client::send(self, msg)
            }
            fn broadcast(&self, msg: impl Into<Message>) {
                $krate::Client::broadcast(self, msg)
            }
        }

        impl Server for $krate::Server {
            type Client = $krate::Client;
            fn on_request(self, f: impl Fn(&Request) -> Response + Send + Sync + 'static) -> Self {
                $krate::Server::on_request(self, f)
            }
            fn on_connect(self, f: impl Fn(Self::Client) + Send + Sync + 'static) -> Self {
                $krate::Server::on_connect(self, f)
            }
            fn on_message(self, f: impl Fn(Self::Client, Message) + Send + Sync + 'static) -> Self {
                $krate::Server::on_message(self, f)
            }
            fn on_disconnect(
                self,
                f: impl Fn(Self::Client, DisconnectReason) + Send + Sync + 'static,
            ) -> Self {
                $krate::Server::on_disconnect(self, f)
            }
        }
    };
}

adapter!(io_std);
adapter!(io_smol);
