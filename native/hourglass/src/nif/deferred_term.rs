//! Terms that are built in the process that receives them, not on the tokio thread that sends
//! them.
//!
//! OTP 23.3.4.15+, 24.3.4.2+, 25.1+ and 26 crash the VM (SEGV) when a thread that is not a
//! scheduler builds and sends a map with more than 128 keys (erlang/otp#8208: ERTS assumes
//! scheduler data while it makes the large map's hash array; fixed in OTP 27.3 and later
//! patch releases). Debian 12's OTP 25.2.3 has the bug, and users run many releases, so a map
//! of more than [`SMALL_MAP_LIMIT`] keys (the size at which ERTS switches to hash maps) is
//! never made on a tokio thread. A message part that would hold one is sent instead as
//! `{:"$hourglass_deferred", resource}`; the receiving process turns it into the real term with
//! `Hourglass.Native.deferred_term_build/1`, a dirty-CPU NIF that builds it in that process's
//! own environment, on a scheduler thread, where large maps are made safely.

use crate::nif::atoms;
use rustler::types::tuple::make_tuple;
use rustler::{Encoder, Env, Resource, ResourceArc, Term};
use serde_json::Value;
use std::sync::Mutex;

/// The most keys a map made off a scheduler may have: ERTS stores maps of up to 32 keys as flat
/// arrays; larger ones as hash maps, which is where the crash lives.
pub const SMALL_MAP_LIMIT: usize = 32;

type Build = Box<dyn for<'a> FnOnce(Env<'a>) -> Term<'a> + Send>;

/// A term waiting to be built by the process that received it.
pub struct DeferredTerm {
    build: Mutex<Option<Build>>,
}

#[rustler::resource_impl]
impl Resource for DeferredTerm {}

/// `{:"$hourglass_deferred", resource}`: `build` runs later, in the receiving process.
pub fn defer<'a, F>(env: Env<'a>, build: F) -> Term<'a>
where
    F: for<'b> FnOnce(Env<'b>) -> Term<'b> + Send + 'static,
{
    let deferred = ResourceArc::new(DeferredTerm {
        build: Mutex::new(Some(Box::new(build))),
    });
    make_tuple(
        env,
        &[
            atoms::hourglass_deferred().encode(env),
            deferred.encode(env),
        ],
    )
}

/// Builds the term now when `wide` is false, else defers it to the receiving process.
pub fn build_or_defer<'a, F>(env: Env<'a>, wide: bool, build: F) -> Term<'a>
where
    F: for<'b> FnOnce(Env<'b>) -> Term<'b> + Send + 'static,
{
    if wide {
        defer(env, build)
    } else {
        build(env)
    }
}

/// Whether `value` holds, at any depth, a map too large to be made off a scheduler.
pub fn has_wide_map(value: &Value) -> bool {
    match value {
        Value::Array(items) => items.iter().any(has_wide_map),
        Value::Object(object) => {
            object.len() > SMALL_MAP_LIMIT || object.values().any(has_wide_map)
        }
        _ => false,
    }
}

/// Whether a map of `size` keys may be made on the current thread.
pub fn may_make_map(size: usize) -> bool {
    size <= SMALL_MAP_LIMIT || rustler::thread::is_scheduler_thread()
}

/// Builds a deferred term in the calling process. Each deferred term is built once: a second
/// call raises `ArgumentError`-like `:badarg`.
#[rustler::nif(schedule = "DirtyCpu")]
fn deferred_term_build(env: Env, deferred: ResourceArc<DeferredTerm>) -> rustler::NifResult<Term> {
    let build = deferred
        .build
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .take();
    match build {
        Some(build) => Ok(build(env)),
        None => Err(rustler::Error::BadArg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(keys: usize) -> Value {
        Value::Object((0..keys).map(|i| (format!("k{i}"), json!(i))).collect())
    }

    #[test]
    fn small_maps_are_not_wide() {
        assert!(!has_wide_map(&object(SMALL_MAP_LIMIT)));
        assert!(!has_wide_map(&json!([1, "two", {"three": [3]}])));
    }

    #[test]
    fn a_wide_map_is_found_at_any_depth() {
        assert!(has_wide_map(&object(SMALL_MAP_LIMIT + 1)));
        assert!(has_wide_map(&json!([1, [2, {"deep": [object(129)]}]])));
        assert!(has_wide_map(&json!({"a": {"b": object(1000)}})));
    }
}
