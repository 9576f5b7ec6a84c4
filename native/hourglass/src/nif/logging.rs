//! Rust `tracing` events delivered to Elixir's Logger.
//!
//! Events can be emitted on any thread, BEAM schedulers included, where sending a message from an
//! `OwnedEnv` is not allowed. So the layer only queues a formatted record on a bounded channel;
//! a dedicated thread sends `{:"$hourglass_log", level, target, message}` to the registered
//! receiver (`Hourglass.Native.LogForwarder`). When the queue is full, records are dropped and
//! counted rather than blocking the thread that logged.
//!
//! The receiver's mailbox is bounded too: each record sent counts as in its mailbox until the
//! receiver says it has handled it (`native_log_handled/0`), and while `MAILBOX_LIMIT` records
//! are there, more are dropped and counted, not sent. A Logger that cannot keep up (a slow
//! backend, `:debug` under load) so costs dropped lines, never unbounded memory.

use crate::nif::atoms;
use crate::nif::value::str_to_term;
use rustler::types::tuple::make_tuple;
use rustler::{Atom, Encoder, LocalPid, OwnedEnv};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Mutex, OnceLock};
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

const QUEUE_CAPACITY: usize = 4096;

/// The most records sent to the receiver and not yet handled by it.
pub const MAILBOX_LIMIT: usize = 4096;

/// 0 = off, 1 = error, 2 = warning, 3 = info, 4 = debug, 5 = trace.
static MAX_LEVEL: AtomicU8 = AtomicU8::new(2);
static RECEIVER: Mutex<Option<LocalPid>> = Mutex::new(None);
static QUEUE: OnceLock<SyncSender<Record>> = OnceLock::new();
static DROPPED: AtomicU64 = AtomicU64::new(0);
static IN_MAILBOX: AtomicUsize = AtomicUsize::new(0);

struct Record {
    level: Level,
    target: String,
    message: String,
}

/// Parses an Elixir Logger level name; `None` for an unknown name.
pub fn level_from_name(name: &str) -> Option<u8> {
    Some(match name {
        "none" | "off" => 0,
        "emergency" | "alert" | "critical" | "error" => 1,
        "warning" | "warn" => 2,
        "notice" | "info" => 3,
        "debug" => 4,
        "trace" => 5,
        _ => return None,
    })
}

fn rank(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

fn is_enabled(level: &Level) -> bool {
    rank(level) <= MAX_LEVEL.load(Ordering::Relaxed)
}

pub fn set_max_level(level: u8) {
    MAX_LEVEL.store(level, Ordering::Relaxed);
    // Callsites cached their interest at the old level.
    tracing::callsite::rebuild_interest_cache();
}

pub fn set_receiver(pid: Option<LocalPid>) {
    let mut receiver = RECEIVER.lock().unwrap_or_else(|poison| poison.into_inner());
    // What was sent to an earlier receiver is not in this one's mailbox.
    IN_MAILBOX.store(0, Ordering::Relaxed);
    *receiver = pid;
}

/// Whether an error logged now reaches a receiver: one is set, and errors are not filtered out.
pub fn forwards_errors() -> bool {
    is_enabled(&Level::ERROR)
        && RECEIVER
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .is_some()
}

/// The receiver handled one record.
pub fn handled() {
    let _ = IN_MAILBOX.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |count| {
        count.checked_sub(1)
    });
}

/// Records sent to the receiver that it has not handled yet.
pub fn in_mailbox() -> usize {
    IN_MAILBOX.load(Ordering::Relaxed)
}

/// Records dropped because the queue was full or the receiver's mailbox was.
pub fn dropped() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// Installs the layer as the process-wide subscriber, once. Another library may have installed
/// its own subscriber first; then Hourglass's events go there instead, which is not an error.
pub fn install() {
    QUEUE.get_or_init(|| {
        let (sender, receiver) = sync_channel(QUEUE_CAPACITY);
        let spawned = std::thread::Builder::new()
            .name("hourglass-log".into())
            .spawn(move || forward(receiver));
        if spawned.is_ok() {
            let _ = tracing::subscriber::set_global_default(
                tracing_subscriber::registry().with(ElixirLoggerLayer),
            );
        }
        sender
    });
}

fn forward(receiver: Receiver<Record>) {
    let mut env = OwnedEnv::new();
    for record in receiver {
        let pid = *RECEIVER.lock().unwrap_or_else(|poison| poison.into_inner());
        let Some(pid) = pid else { continue };
        if IN_MAILBOX.load(Ordering::Relaxed) >= MAILBOX_LIMIT {
            DROPPED.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        IN_MAILBOX.fetch_add(1, Ordering::Relaxed);
        let _ = env.send_and_clear(&pid, |env| {
            let level = match record.level {
                Level::ERROR => atoms::error(),
                Level::WARN => atoms::warning(),
                Level::INFO => atoms::info(),
                Level::DEBUG => atoms::debug(),
                Level::TRACE => atoms::trace(),
            };
            make_tuple(
                env,
                &[
                    atoms::hourglass_log().encode(env),
                    level.encode(env),
                    str_to_term(env, &record.target),
                    str_to_term(env, &record.message),
                ],
            )
        });
    }
}

struct ElixirLoggerLayer;

impl<S: Subscriber> Layer<S> for ElixirLoggerLayer {
    // Each callsite is asked once at the current level, and again when the level changes
    // (`set_max_level` rebuilds the cache): a disabled event or span then costs one comparison
    // in the macro, not a call here. Core is full of debug spans on its hot paths.
    fn register_callsite(
        &self,
        metadata: &'static Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        if is_enabled(metadata.level()) {
            tracing::subscriber::Interest::always()
        } else {
            tracing::subscriber::Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        is_enabled(metadata.level())
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(match MAX_LEVEL.load(Ordering::Relaxed) {
            0 => LevelFilter::OFF,
            1 => LevelFilter::ERROR,
            2 => LevelFilter::WARN,
            3 => LevelFilter::INFO,
            4 => LevelFilter::DEBUG,
            _ => LevelFilter::TRACE,
        })
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let Some(queue) = QUEUE.get() else { return };
        let mut message = MessageVisitor::default();
        event.record(&mut message);
        let record = Record {
            level: *event.metadata().level(),
            target: event.metadata().target().to_owned(),
            message: message.finish(),
        };
        if let Err(TrySendError::Full(_)) = queue.try_send(record) {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Formats an event as its message followed by its fields, `message key=value ...`.
#[derive(Default)]
struct MessageVisitor {
    message: String,
    fields: String,
}

impl MessageVisitor {
    fn finish(self) -> String {
        match (self.message.is_empty(), self.fields.is_empty()) {
            (_, true) => self.message,
            (true, false) => self.fields,
            (false, false) => format!("{} {}", self.message, self.fields),
        }
    }
}

impl Visit for MessageVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            if !self.fields.is_empty() {
                self.fields.push(' ');
            }
            let _ = write!(self.fields, "{}={value:?}", field.name());
        }
    }
}

/// Converts a level atom from Elixir, for the NIF that changes the level.
pub fn level_from_atom(atom: Atom, env: rustler::Env) -> Option<u8> {
    atom.to_term(env)
        .atom_to_string()
        .ok()
        .and_then(|name| level_from_name(&name))
}
