//! The NIF's tokio runtimes: one per VM, created on first use.
//!
//! Two pools, because they serve different masters:
//! - `io`: async work that must stay responsive (timers, IO, sending completions and, later, the
//!   Core poll loop). Nothing CPU-heavy runs inline here.
//! - `cpu`: CPU-heavy bodies. Its threads run at a low OS priority (nice 19 by default) so that
//!   on a machine with few cores the BEAM schedulers keep getting the CPU; the design notes record
//!   a BEAM process stalled for 150–270 ms by such bodies at normal priority and at most 7 ms at
//!   nice 19. Bodies here yield regularly so that an abort takes effect promptly.

use std::sync::OnceLock;
use tokio::runtime::{Builder, Handle, Runtime};

/// Runtime settings, read once from the NIF's load info.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeConfig {
    pub io_threads: usize,
    pub cpu_threads: usize,
    /// Niceness of the CPU pool's threads, 0 (normal) to 19 (lowest).
    pub cpu_nice: i32,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism()
            .map(|cores| cores.get())
            .unwrap_or(2);
        RuntimeConfig {
            io_threads: cores,
            cpu_threads: cores,
            cpu_nice: 19,
        }
    }
}

static CONFIG: OnceLock<RuntimeConfig> = OnceLock::new();
static IO: OnceLock<Runtime> = OnceLock::new();
static CPU: OnceLock<Runtime> = OnceLock::new();

/// Sets the configuration; only the first call before the runtimes start has an effect.
pub fn configure(config: RuntimeConfig) {
    let _ = CONFIG.set(config);
}

/// The configuration in force.
pub fn config() -> RuntimeConfig {
    *CONFIG.get_or_init(RuntimeConfig::default)
}

/// The async pool. The runtime lives in a static and is never dropped, so no BEAM thread ever
/// waits for its shutdown.
pub fn io() -> &'static Handle {
    IO.get_or_init(|| {
        Builder::new_multi_thread()
            .worker_threads(config().io_threads.max(1))
            .thread_name("hourglass-io")
            .enable_all()
            .build()
            .expect("cannot start the hourglass-io tokio runtime")
    })
    .handle()
}

/// The low-priority pool for CPU-heavy bodies.
pub fn cpu() -> &'static Handle {
    CPU.get_or_init(|| {
        let nice = config().cpu_nice.clamp(0, 19);
        Builder::new_multi_thread()
            .worker_threads(config().cpu_threads.max(1))
            .thread_name("hourglass-cpu")
            .enable_time()
            .on_thread_start(move || lower_priority(nice))
            .build()
            .expect("cannot start the hourglass-cpu tokio runtime")
    })
    .handle()
}

/// Lowers the calling thread's scheduling priority. On Linux niceness is per thread, so this
/// touches only the pool's own threads, never a BEAM scheduler.
fn lower_priority(nice: i32) {
    if nice == 0 {
        return;
    }
    #[cfg(target_os = "linux")]
    unsafe {
        let thread_id = libc::syscall(libc::SYS_gettid) as libc::id_t;
        if libc::setpriority(libc::PRIO_PROCESS, thread_id, nice) != 0 {
            tracing::warn!(
                nice,
                "could not lower the priority of a hourglass-cpu thread"
            );
        }
    }
}

/// Niceness of the calling thread, for tests.
#[cfg(all(test, target_os = "linux"))]
fn current_nice() -> i32 {
    unsafe {
        let thread_id = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::getpriority(libc::PRIO_PROCESS, thread_id)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn cpu_threads_run_at_low_priority_and_io_threads_do_not() {
        let cpu_nice = cpu().block_on(async { tokio::spawn(async { current_nice() }).await });
        let io_nice = io().block_on(async { tokio::spawn(async { current_nice() }).await });
        assert_eq!(cpu_nice.unwrap(), config().cpu_nice);
        assert_eq!(io_nice.unwrap(), 0);
    }
}
