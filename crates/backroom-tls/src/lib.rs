//! The TLS client configuration that backroom's own outbound connections share (the DSQL
//! connection in backroom-db, the Printful client): rustls with ring and the Mozilla roots
//! of webpki-roots, which include Amazon Root CA 1, with no dependence on the machine's
//! certificate store. Certificates and host names are always verified: rustls has no way to
//! skip verification unless a custom verifier is installed, and none is.
//!
//! A crate of its own so that both may depend on it without the Printful client linking the
//! database driver, and without giving backroom-core a TLS stack.

use std::sync::{Arc, OnceLock};

/// The client configuration, built once per process.
pub fn client_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("ring supports the default protocol versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_verifies_against_public_roots_including_amazon_root_ca_1() {
        let config = client_config();
        assert!(config.enable_sni);
        let amazon = webpki_roots::TLS_SERVER_ROOTS
            .iter()
            .any(|root| root.subject.as_ref().windows(16).any(|w| w == b"Amazon Root CA 1"));
        assert!(amazon, "Amazon Root CA 1 signs the DSQL endpoints");
    }

    #[test]
    fn the_config_is_built_once() {
        assert!(Arc::ptr_eq(&client_config(), &client_config()));
    }
}
