//! The TLS client configuration: rustls with the ring provider (as the server side), trusting
//! the system's CA bundle and the certificates of `--ca FILE`, or, with `--insecure`, any
//! certificate (the handshake signatures are still checked; the chain and the name are not).

use std::path::Path;
use std::sync::Arc;

use futures_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use futures_rustls::rustls::crypto::{CryptoProvider, ring, verify_tls12_signature, verify_tls13_signature};
use futures_rustls::rustls::pki_types::pem::PemObject;
use futures_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use futures_rustls::rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::ClientError;

/// Where Debian, Ubuntu, Alpine and most appliance images keep the system's trusted CAs.
pub const SYSTEM_BUNDLES: &[&str] =
    &["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"];

/// How the server's certificate is checked.
#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    /// Accept any certificate (self-signed, expired, another name).
    pub insecure: bool,
    /// Extra trusted certificates (PEM), e.g. a private CA or the server's self-signed one.
    pub ca: Option<std::path::PathBuf>,
}

fn pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ClientError> {
    CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| ClientError::Tls(format!("{}: {e}", path.display())))
}

/// Builds the client configuration for `opts`.
pub fn client_config(opts: &TlsOptions) -> Result<Arc<ClientConfig>, ClientError> {
    let provider = Arc::new(ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(e.to_string()))?;
    let config = if opts.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        if let Some(bundle) = SYSTEM_BUNDLES.iter().map(Path::new).find(|p| p.exists()) {
            roots.add_parsable_certificates(pem_certs(bundle)?);
        }
        if let Some(ca) = &opts.ca {
            let certs = pem_certs(ca)?;
            if certs.is_empty() {
                return Err(ClientError::Tls(format!("{}: no certificate in the file", ca.display())));
            }
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(ClientError::Tls(format!("{}: no usable certificate", ca.display())));
            }
        }
        if roots.is_empty() {
            return Err(ClientError::Tls(
                "no trusted certificates: no system CA bundle found; give --ca FILE or --insecure".into(),
            ));
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// The name the certificate must carry (a DNS name or an IP address).
pub fn server_name(host: &str) -> Result<ServerName<'static>, ClientError> {
    ServerName::try_from(host.to_string()).map_err(|e| ClientError::Usage(format!("{host}: {e}")))
}

/// `--insecure`: trusts any certificate chain and name, but still verifies that the server
/// holds the key of the certificate it sent (the handshake signatures).
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, futures_rustls::rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, futures_rustls::rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, futures_rustls::rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
