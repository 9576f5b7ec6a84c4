//! NIFs of `Hourglass.Replayer`: a replay worker (see [`crate::temporal::replayer`]) driven by
//! the calling process as a worker process drives its Core worker.
//!
//! `replayer_start/2` takes `[{workflow_id, history}]` (protobuf-encoded histories) and whether
//! payloads reach Elixir raw (for a codec); it answers `{:ok, worker}` or `{:error, message}`.
//! `replayer_poll/2` then sends the activations to the caller as a worker's poll loop does
//! (`{:"$hourglass_activation", _, token}`; they are answered with
//! `worker_complete_activation/4`),
//! and `:"$hourglass_replay_done"` once every history has been replayed.
//! `history_from_json/1` reads a history's JSON form into the protobuf encoding the replayer
//! takes: `{:ok, binary}` or `{:error, message}`.

use crate::nif::atoms::named as atom;
use crate::nif::payload_term::Form;
use crate::nif::value::str_to_term;
use crate::nif::worker_nif::{poll_activations_then, WorkerResource};
use crate::temporal::payload_limit::PayloadLimit;
use crate::temporal::{history_json, replayer};
use prost::Message;
use rustler::types::tuple::make_tuple;
use rustler::{Binary, Encoder, Env, LocalPid, ResourceArc, Term};
use std::sync::Arc;

fn error<'a>(env: Env<'a>, message: &str) -> Term<'a> {
    make_tuple(env, &[atom(env, "error"), str_to_term(env, message)])
}

#[rustler::nif(schedule = "DirtyCpu")]
fn replayer_start<'a>(env: Env<'a>, histories: Vec<(String, Binary<'a>)>, raw: bool) -> Term<'a> {
    let decoded = histories
        .iter()
        .map(|(workflow_id, bytes)| replayer::decode_history(workflow_id, bytes.as_slice()))
        .collect::<Result<Vec<_>, String>>();
    let started = decoded.and_then(replayer::start);
    match started {
        Ok(core) => {
            let resource = ResourceArc::new(WorkerResource {
                core: Arc::new(core),
                payload_form: if raw { Form::Raw } else { Form::Value },
                payload_limit: PayloadLimit::default(),
                workflows: true,
            });
            make_tuple(env, &[atom(env, "ok"), resource.encode(env)])
        }
        Err(message) => error(env, &message),
    }
}

#[rustler::nif]
fn replayer_poll(env: Env, worker: ResourceArc<WorkerResource>, driver: LocalPid) -> Term {
    if env.monitor(&worker, &driver).is_none() {
        return error(env, "the replaying process is not alive");
    }
    poll_activations_then(
        worker.core.clone(),
        worker.payload_form,
        driver,
        Some("$hourglass_replay_done"),
    );
    atom(env, "ok")
}

#[rustler::nif(schedule = "DirtyCpu")]
fn history_from_json<'a>(env: Env<'a>, json: Binary<'a>) -> Term<'a> {
    let history = std::str::from_utf8(json.as_slice())
        .map_err(|_| "not UTF-8 text".to_string())
        .and_then(history_json::history_from_json);
    match history {
        Ok(history) => {
            let bytes = history.encode_to_vec();
            let mut binary = rustler::NewBinary::new(env, bytes.len());
            binary.as_mut_slice().copy_from_slice(&bytes);
            make_tuple(env, &[atom(env, "ok"), Binary::from(binary).encode(env)])
        }
        Err(message) => error(env, &message),
    }
}
