//! Core's runtime (telemetry and metrics) on top of Hourglass's own `io` tokio runtime.
//!
//! Core logs through `tracing`; Hourglass's subscriber, installed when the NIF loads, forwards
//! those events to Elixir's Logger, so Core is given no logger of its own. A worker that exposes
//! Prometheus metrics gets a Core runtime of its own, because metrics belong to a runtime.

use crate::runtime;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use temporalio_common::telemetry::{
    start_prometheus_metric_exporter, PrometheusExporterOptions, TelemetryOptions,
};
use temporalio_sdk_core::{CoreRuntime, RuntimeOptions};
use tokio::task::AbortHandle;

static SHARED: OnceLock<Result<Arc<CoreRuntime>, String>> = OnceLock::new();

/// A Core runtime and, when it exports metrics, the exporter serving them.
pub struct CoreRuntimeHandle {
    pub runtime: Arc<CoreRuntime>,
    /// The address the Prometheus exporter bound, if any.
    pub metrics_address: Option<SocketAddr>,
    exporter: Option<AbortHandle>,
}

impl Drop for CoreRuntimeHandle {
    fn drop(&mut self) {
        if let Some(exporter) = self.exporter.take() {
            exporter.abort();
        }
    }
}

fn build() -> Result<CoreRuntime, String> {
    let options = RuntimeOptions::builder()
        .telemetry_options(TelemetryOptions::builder().build())
        // Worker heartbeating to the server is off: the dev server and older servers reject it.
        .heartbeat_interval(None)
        .build()
        .map_err(|error| format!("invalid Core runtime options: {error}"))?;
    // Core takes the current tokio runtime as its own.
    let _entered = runtime::io().enter();
    CoreRuntime::new_assume_tokio(options).map_err(|error| format!("cannot start Core: {error}"))
}

/// The runtime shared by workers and clients that export no metrics.
pub fn shared() -> Result<CoreRuntimeHandle, String> {
    let runtime = SHARED.get_or_init(|| build().map(Arc::new)).clone()?;
    Ok(CoreRuntimeHandle {
        runtime,
        metrics_address: None,
        exporter: None,
    })
}

/// A runtime whose metrics are served for Prometheus at `address`.
pub fn with_prometheus(address: SocketAddr) -> Result<CoreRuntimeHandle, String> {
    let mut core = build()?;
    let _entered = runtime::io().enter();
    let exporter = start_prometheus_metric_exporter(
        PrometheusExporterOptions::builder()
            .socket_addr(address)
            .build(),
    )
    .map_err(|error| format!("cannot serve Prometheus metrics on {address}: {error}"))?;
    core.telemetry_mut()
        .attach_late_init_metrics(exporter.meter.clone());
    Ok(CoreRuntimeHandle {
        runtime: Arc::new(core),
        metrics_address: Some(exporter.bound_addr),
        exporter: Some(exporter.abort_handle),
    })
}
