//! The client side of TLS (rustls, ring): a configuration trusting one PEM file's certificates.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

/// The name every connection asks the server for (the test certificate's).
pub const SERVER_NAME: &str = "localhost";

/// A client configuration that trusts the certificates in `ca` (PEM) and nothing else.
pub fn client_config(ca: &Path) -> Result<Arc<rustls::ClientConfig>, String> {
    let shown = ca.display();
    let mut roots = rustls::RootCertStore::empty();
    for cert in
        CertificateDer::pem_file_iter(ca).map_err(|e| format!("cannot read {shown}: {e}"))?
    {
        let cert = cert.map_err(|e| format!("{shown}: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("{shown}: not a usable certificate: {e}"))?;
    }
    if roots.is_empty() {
        return Err(format!("{shown}: no certificate in it"));
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A new client connection to [`SERVER_NAME`], its ClientHello queued.
pub fn connect(config: &Arc<rustls::ClientConfig>) -> Result<rustls::ClientConnection, String> {
    let name = ServerName::try_from(SERVER_NAME).expect("a valid DNS name");
    rustls::ClientConnection::new(Arc::clone(config), name).map_err(|e| format!("TLS: {e}"))
}
