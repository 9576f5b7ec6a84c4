//! Connecting to a Temporal server.

use std::time::Duration;
use temporalio_client::{
    ClientTlsOptions, Connection, ConnectionOptions, GrpcCompression, TlsOptions, Url,
};
use temporalio_sdk_core::CoreRuntime;

/// TLS settings; PEM-encoded certificates and key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsConfig {
    pub server_ca_cert: Option<Vec<u8>>,
    pub server_name: Option<String>,
    pub client_cert: Option<Vec<u8>>,
    pub client_private_key: Option<Vec<u8>>,
}

/// Where and how to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectConfig {
    /// `host:port`, or a full `http://` / `https://` URL.
    pub address: String,
    pub identity: String,
    pub tls: Option<TlsConfig>,
    pub api_key: Option<String>,
    pub connect_timeout: Duration,
    /// Whether requests are gzipped (and gzipped responses accepted), Core's default.
    pub gzip: bool,
}

/// The URL for an address: `host:port` gets `http://`, or `https://` when TLS is on.
pub fn target_url(address: &str, tls: bool) -> Result<Url, String> {
    let text = if address.contains("://") {
        address.to_string()
    } else if tls {
        format!("https://{address}")
    } else {
        format!("http://{address}")
    };
    let url = Url::parse(&text).map_err(|error| format!("invalid address {address:?}: {error}"))?;
    if url.host_str().is_none() || url.port_or_known_default().is_none() {
        return Err(format!("invalid address {address:?}: expected host:port"));
    }
    Ok(url)
}

fn tls_options(tls: &TlsConfig) -> Result<TlsOptions, String> {
    let client = match (&tls.client_cert, &tls.client_private_key) {
        (Some(cert), Some(key)) => Some(
            ClientTlsOptions::builder()
                .client_cert(cert.clone())
                .client_private_key(key.clone())
                .build(),
        ),
        (None, None) => None,
        _ => {
            return Err(
                "TLS needs both a client certificate and its private key, or neither".into(),
            )
        }
    };
    Ok(TlsOptions::builder()
        .maybe_server_root_ca_cert(tls.server_ca_cert.clone())
        .maybe_domain(tls.server_name.clone())
        .maybe_client_tls_options(client)
        .build())
}

/// The SDK's name as histories and the server know it.
pub const SDK_NAME: &str = "hourglass";
/// The SDK's version: the hourglass crate's, which moves with the Mix project's.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Connects, failing with a message that says what went wrong (unreachable, TLS, timeout).
pub async fn connect(core: &CoreRuntime, config: &ConnectConfig) -> Result<Connection, String> {
    let url = target_url(&config.address, config.tls.is_some())?;
    let tls = config.tls.as_ref().map(tls_options).transpose()?;
    let options = ConnectionOptions::new(url)
        .identity(config.identity.clone())
        // Histories record the SDK that completed each workflow task by these (and the server
        // sees them as the client's headers): Hourglass, not the Rust client it is built on.
        .client_name(SDK_NAME.to_string())
        .client_version(SDK_VERSION.to_string())
        .maybe_tls_options(tls)
        .maybe_api_key(config.api_key.clone())
        .connect_timeout(config.connect_timeout)
        .grpc_compression(if config.gzip {
            GrpcCompression::Gzip
        } else {
            GrpcCompression::None
        })
        .maybe_metrics_meter(core.telemetry().get_temporal_metric_meter())
        .build();
    Connection::connect(options)
        .await
        .map_err(|error| format!("cannot connect to Temporal at {}: {error}", config.address))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_become_urls() {
        assert_eq!(
            target_url("localhost:7233", false).unwrap().as_str(),
            "http://localhost:7233/"
        );
        assert_eq!(target_url("h:7233", true).unwrap().scheme(), "https");
        assert_eq!(target_url("https://h:1", false).unwrap().scheme(), "https");
        assert!(target_url("", false).is_err());
        assert!(target_url("not a url", false).is_err());
    }

    #[test]
    fn half_a_client_certificate_is_refused() {
        let tls = TlsConfig {
            client_cert: Some(b"cert".to_vec()),
            ..Default::default()
        };
        assert!(tls_options(&tls).unwrap_err().contains("both"));
    }
}
