//! Counters for every native task, every client call and payload conversion in flight and every
//! Core worker, so tests can prove aborts and the absence of leaks.

use std::sync::atomic::{AtomicU64, Ordering};

static STARTED: AtomicU64 = AtomicU64::new(0);
static LIVE: AtomicU64 = AtomicU64::new(0);
static COMPLETED: AtomicU64 = AtomicU64::new(0);
static FAILED: AtomicU64 = AtomicU64::new(0);
static ABORTED: AtomicU64 = AtomicU64::new(0);
static PANICKED: AtomicU64 = AtomicU64::new(0);
static CLIENT_CALLS: AtomicU64 = AtomicU64::new(0);
static CORE_WORKERS: AtomicU64 = AtomicU64::new(0);
static CONVERSIONS: AtomicU64 = AtomicU64::new(0);

/// A snapshot of the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub started: u64,
    pub live: u64,
    pub completed: u64,
    pub failed: u64,
    pub aborted: u64,
    pub panicked: u64,
    /// Client calls whose work still runs on tokio.
    pub client_calls: u64,
    /// Core workers that exist: running, shutting down, or waiting for attempts in flight.
    pub core_workers: u64,
    /// Payload conversions of heavy values running on tokio.
    pub conversions: u64,
}

pub fn snapshot() -> Stats {
    Stats {
        started: STARTED.load(Ordering::Relaxed),
        live: LIVE.load(Ordering::Relaxed),
        completed: COMPLETED.load(Ordering::Relaxed),
        failed: FAILED.load(Ordering::Relaxed),
        aborted: ABORTED.load(Ordering::Relaxed),
        panicked: PANICKED.load(Ordering::Relaxed),
        client_calls: CLIENT_CALLS.load(Ordering::Relaxed),
        core_workers: CORE_WORKERS.load(Ordering::Relaxed),
        conversions: CONVERSIONS.load(Ordering::Relaxed),
    }
}

/// Held by a running native task; counts it live from creation until it is dropped, which
/// happens both when the body finishes and when tokio drops an aborted future.
pub struct LiveGuard(());

impl LiveGuard {
    pub fn start() -> Self {
        STARTED.fetch_add(1, Ordering::Relaxed);
        LIVE.fetch_add(1, Ordering::Relaxed);
        LiveGuard(())
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts itself in one of the gauges (client calls, Core workers, conversions) from its creation
/// until it is dropped: when the work finishes, or when tokio drops an aborted future.
pub struct Held(&'static AtomicU64);

impl Held {
    fn start(gauge: &'static AtomicU64) -> Self {
        gauge.fetch_add(1, Ordering::Relaxed);
        Held(gauge)
    }

    /// Held by a client call's work on tokio.
    pub fn client_call() -> Self {
        Self::start(&CLIENT_CALLS)
    }

    /// Held by a Core worker for as long as it exists.
    pub fn core_worker() -> Self {
        Self::start(&CORE_WORKERS)
    }

    /// Held by a payload conversion's work on tokio.
    pub fn conversion() -> Self {
        Self::start(&CONVERSIONS)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

pub fn count_completed() {
    COMPLETED.fetch_add(1, Ordering::Relaxed);
}

pub fn count_failed() {
    FAILED.fetch_add(1, Ordering::Relaxed);
}

pub fn count_aborted() {
    ABORTED.fetch_add(1, Ordering::Relaxed);
}

pub fn count_panicked() {
    PANICKED.fetch_add(1, Ordering::Relaxed);
}
