//! Payload-sized conversions off the normal schedulers.
//!
//! A NIF holds its scheduler, and keeps its caller's time slice, for as long as it runs: one
//! that converts a 2 MB value for tens of milliseconds stalls every process queued behind it.
//! So a NIF whose arguments are heavy does not convert them where it was called: it weighs
//! them first (the weighing itself is bounded by [`LIGHT_BUDGET`]) and, when they are heavy,
//! reschedules its own work on a dirty CPU scheduler with `enif_schedule_nif`. Light arguments,
//! the common case, cost no scheduler switch.

use rustler::sys::{c_int, enif_schedule_nif, ErlNifEnv, ErlNifTerm, ERL_NIF_DIRTY_JOB_CPU_BOUND};
use rustler::types::map::MapIterator;
use rustler::{Binary, Env, NifResult, Term, TermType};
use std::ffi::CStr;

/// The weight a normal scheduler converts: about a millisecond of work. One unit is a term
/// (a list cell, a map entry, a number) or [`BYTES_PER_UNIT`] bytes of a binary.
pub const LIGHT_BUDGET: usize = 20_000;

/// Bytes of a binary that weigh as much as one term: JSON text is scanned and copied at a few
/// hundred megabytes per second, terms are made at tens of millions per second.
pub const BYTES_PER_UNIT: usize = 8;

/// The body of a NIF that may run on either kind of scheduler: it takes its arguments as terms
/// and decodes them itself (an argument of the wrong type raises `badarg`).
pub type NifBody = for<'a> fn(Env<'a>, &[Term<'a>]) -> NifResult<Term<'a>>;

/// A NIF function as the BEAM calls it.
pub type RawNif = unsafe extern "C" fn(*mut ErlNifEnv, c_int, *const ErlNifTerm) -> ErlNifTerm;

/// Whether `terms`, taken together, weigh more than [`LIGHT_BUDGET`]. Stops weighing as soon as
/// they do, so it costs at most about the budget itself.
pub fn is_heavy(terms: &[Term]) -> bool {
    let mut budget = LIGHT_BUDGET;
    terms
        .iter()
        .any(|term| spend(*term, 0, &mut budget).is_err())
}

/// Deeper than this, a term counts as heavy: weighing stays off deep recursion, and the
/// converters refuse such nesting anyway (`hourglass_values::term::MAX_DEPTH`).
const MAX_WEIGHED_DEPTH: usize = 128;

/// Takes the weight of `term` from `budget`; `Err` once it is spent.
fn spend(term: Term, depth: usize, budget: &mut usize) -> Result<(), ()> {
    if depth > MAX_WEIGHED_DEPTH {
        return Err(());
    }
    match term.get_type() {
        TermType::Binary => take(
            budget,
            Binary::from_term(term).map_or(1, |binary| binary.len() / BYTES_PER_UNIT),
        ),
        TermType::List => {
            // Walks the cells rather than asking for the length, which walks the whole list.
            let mut rest = term;
            while let Ok((head, tail)) = rest.list_get_cell() {
                take(budget, 1)?;
                spend(head, depth + 1, budget)?;
                rest = tail;
            }
            Ok(())
        }
        TermType::Map => {
            take(budget, term.map_size().unwrap_or(1))?;
            for (key, value) in MapIterator::new(term).into_iter().flatten() {
                spend(key, depth + 1, budget)?;
                spend(value, depth + 1, budget)?;
            }
            Ok(())
        }
        TermType::Tuple => {
            let items = rustler::types::tuple::get_tuple(term).unwrap_or_default();
            take(budget, items.len())?;
            items
                .into_iter()
                .try_for_each(|item| spend(item, depth + 1, budget))
        }
        _ => take(budget, 1),
    }
}

fn take(budget: &mut usize, units: usize) -> Result<(), ()> {
    *budget = budget.checked_sub(units.max(1)).ok_or(())?;
    Ok(())
}

/// Runs `body` on `args` now, or — when `heavy` and the caller is on a normal scheduler —
/// reschedules `dirty` (the same body, see [`dirty_nif!`]) on a dirty CPU scheduler, which
/// answers the caller in its place.
pub fn run<'a>(
    env: Env<'a>,
    args: &[Term<'a>],
    heavy: bool,
    name: &'static CStr,
    dirty: RawNif,
    body: NifBody,
) -> NifResult<Term<'a>> {
    if !heavy {
        return body(env, args);
    }
    let raw: Vec<ErlNifTerm> = args.iter().map(Term::as_c_arg).collect();
    // SAFETY: the arguments are live terms of this env, `dirty` is a NIF function of the same
    // arity made by `dirty_nif!`, and `name` outlives the call.
    unsafe {
        let rescheduled = enif_schedule_nif(
            env.as_c_arg(),
            name.as_ptr(),
            ERL_NIF_DIRTY_JOB_CPU_BOUND as c_int,
            dirty,
            raw.len() as c_int,
            raw.as_ptr(),
        );
        Ok(Term::new(env, rescheduled))
    }
}

/// Makes `$raw`, a NIF function (for [`run`]) that calls the [`NifBody`] `$body` with its
/// arguments; it raises `badarg` when the body says so, and `:nif_panicked` when the body
/// panics, as rustler's NIFs do.
macro_rules! dirty_nif {
    ($raw:ident, $body:path) => {
        unsafe extern "C" fn $raw(
            env: *mut rustler::sys::ErlNifEnv,
            argc: rustler::sys::c_int,
            argv: *const rustler::sys::ErlNifTerm,
        ) -> rustler::sys::ErlNifTerm {
            let lifetime = ();
            let env = rustler::Env::new(&lifetime, env);
            let args: Vec<rustler::Term> = std::slice::from_raw_parts(argv, argc as usize)
                .iter()
                .map(|term| rustler::Term::new(env, *term))
                .collect();
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| $body(env, &args))) {
                Ok(Ok(term)) => term.as_c_arg(),
                Ok(Err(_)) => rustler::sys::enif_make_badarg(env.as_c_arg()),
                Err(_) => rustler::sys::enif_raise_exception(
                    env.as_c_arg(),
                    crate::nif::atoms::named(env, "nif_panicked").as_c_arg(),
                ),
            }
        }
    };
}
pub(crate) use dirty_nif;
