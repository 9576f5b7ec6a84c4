//! The settings map `Hourglass.Worker` passes to the NIF, decoded into [`WorkerSettings`].

use crate::nif::payload_term::Form;
use crate::nif::term_map::TermMap;
use crate::temporal::connection::{ConnectConfig, TlsConfig};
use crate::temporal::payload_limit::PayloadLimit;
use crate::temporal::worker::WorkerSettings;
use std::time::Duration;

/// Decodes the connection part, shared by workers and clients.
pub fn decode_connect(map: &TermMap) -> Result<ConnectConfig, String> {
    let tls = match map.get("tls") {
        None => None,
        Some(tls) => {
            let tls = TermMap::new(tls, ":tls")?;
            Some(TlsConfig {
                server_ca_cert: tls.optional_bytes("server_ca_cert")?,
                server_name: tls.optional_string("server_name")?,
                client_cert: tls.optional_bytes("client_cert")?,
                client_private_key: tls.optional_bytes("client_private_key")?,
            })
        }
    };
    Ok(ConnectConfig {
        address: map.string("address")?,
        identity: map.string("identity")?,
        tls,
        api_key: map.optional_string("api_key")?,
        connect_timeout: Duration::from_millis(map.u64("connect_timeout")?),
        gzip: match map.optional_atom("grpc_compression")?.as_deref() {
            None | Some("gzip") => true,
            Some("none") => false,
            Some(other) => return Err(format!(":grpc_compression :{other} is not :gzip or :none")),
        },
    })
}

/// The `:payload_size_limit` of worker or client settings; the server's default without one.
pub fn decode_payload_limit(map: &TermMap) -> Result<PayloadLimit, String> {
    Ok(map
        .optional_u64("payload_size_limit")?
        .map(|bytes| PayloadLimit::new(usize::try_from(bytes).unwrap_or(usize::MAX)))
        .unwrap_or_default())
}

/// How payloads reach Elixir from a worker or client: undecoded when it has a payload codec
/// (only whether there is one matters here: the codec itself runs in Elixir).
pub fn decode_payload_form(map: &TermMap) -> Form {
    if map.get("payload_codec").is_some() {
        Form::Raw
    } else {
        Form::Value
    }
}

pub fn decode_worker_settings(map: &TermMap) -> Result<WorkerSettings, String> {
    let metrics_address = map
        .optional_string("metrics_address")?
        .map(|address| {
            address
                .parse()
                .map_err(|_| format!("invalid :metrics_address {address:?}: expected ip:port"))
        })
        .transpose()?;
    Ok(WorkerSettings {
        connect: decode_connect(map)?,
        namespace: map.string("namespace")?,
        task_queue: map.string("task_queue")?,
        max_concurrent_activities: map.u64("max_concurrent_activities")? as usize,
        workflows: map.bool("workflows")?,
        max_cached_workflows: map.optional_u64("max_cached_workflows")?.unwrap_or(1_000) as usize,
        max_concurrent_workflow_tasks: map
            .optional_u64("max_concurrent_workflow_tasks")?
            .unwrap_or(100) as usize,
        max_worker_activities_per_second: map.optional_f64("max_activities_per_second")?,
        max_task_queue_activities_per_second: map
            .optional_f64("max_task_queue_activities_per_second")?,
        graceful_shutdown: Duration::from_millis(map.u64("graceful_shutdown_timeout")?),
        cancel_grace: Duration::from_millis(map.u64("cancel_grace_period")?),
        metrics_address,
        build_id: map.string("build_id")?,
        nondeterminism_fails_workflow: map.bool("nondeterminism_fails_workflow")?,
        nondeterminism_fails_workflow_types: match map.get("nondeterminism_fails_workflow_types") {
            Some(types) => types.decode::<Vec<String>>().map_err(|_| {
                ":nondeterminism_fails_workflow_types must be a list of strings".to_string()
            })?,
            None => Vec::new(),
        },
    })
}
