//! The little the examples need from an adapter, so that each example is written once and
//! runs on io-std and io-smol alike. Both hand out the same client handle,
//! `io_core::hub::Client`, so only the server's callbacks need forwarding.

use io_core::hub::{Client, Driver};
use io_core::{DisconnectReason, Message, Request, Response};

pub trait Server: Sized {
    type Driver: Driver;
    fn on_request(self, f: impl Fn(&Request) -> Response + Send + Sync + 'static) -> Self;
    fn on_connect(self, f: impl Fn(Client<Self::Driver>) + Send + Sync + 'static) -> Self;
    fn on_message(self, f: impl Fn(Client<Self::Driver>, Message) + Send + Sync + 'static) -> Self;
    fn on_disconnect(
        self,
        f: impl Fn(Client<Self::Driver>, DisconnectReason) + Send + Sync + 'static,
    ) -> Self;
}

/// Both adapters spell their API the same way; this forwards to it.
macro_rules! adapter {
    ($krate:ident) => {
        impl Server for $krate::Server {
            type Driver = $krate::Shared;
            fn on_request(self, f: impl Fn(&Request) -> Response + Send + Sync + 'static) -> Self {
                $krate::Server::on_request(self, f)
            }
            fn on_connect(self, f: impl Fn($krate::Client) + Send + Sync + 'static) -> Self {
                $krate::Server::on_connect(self, f)
            }
            fn on_message(
                self,
                f: impl Fn($krate::Client, Message) + Send + Sync + 'static,
            ) -> Self {
                $krate::Server::on_message(self, f)
            }
            fn on_disconnect(
                self,
                f: impl Fn($krate::Client, DisconnectReason) + Send + Sync + 'static,
            ) -> Self {
                $krate::Server::on_disconnect(self, f)
            }
        }
    };
}

adapter!(io_std);
adapter!(io_smol);
