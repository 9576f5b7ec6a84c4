//! The runs whose activation has been handed to Elixir and not answered yet.
//!
//! Every activation gets exactly one answer. Two processes may give it: the run's own process,
//! and the worker process when it takes the run for dead (its process exited, or blocked past
//! the deadlock timeout). Core takes a second answer for an activation it has closed as a
//! broken invariant, so only the first is passed on.
//!
//! Each activation is opened with a token of its own, and an answer names the token of the
//! activation it answers. The worker is not told when a run answers (that would wake it once
//! more per activation); it learns it here, by answering with the token: an answer to an
//! activation that was answered already — or that is not the run's open one any more, Core
//! having handed out the next — is refused.
//!
//! Tokens are unique in the OS process, not only in one Core worker: a deadline set for an
//! activation of an earlier Core worker (the same run replayed again, a worker process that
//! started a new Core worker) can never name an activation of a later one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// The last token handed out, by any Core worker.
static LAST_TOKEN: AtomicU64 = AtomicU64::new(0);

#[derive(Default)]
pub struct OpenActivations {
    /// Run id → the token of its open activation.
    runs: Mutex<HashMap<String, u64>>,
}

impl OpenActivations {
    /// `run_id`'s activation is on its way to Elixir: returns its token.
    pub fn open(&self, run_id: &str) -> u64 {
        let token = LAST_TOKEN.fetch_add(1, Ordering::Relaxed) + 1;
        self.lock().insert(run_id.to_string(), token);
        token
    }

    /// Closes `run_id`'s activation with `token`: true for the first answer to an open one only.
    pub fn close(&self, run_id: &str, token: u64) -> bool {
        let mut runs = self.lock();
        if runs.get(run_id) == Some(&token) {
            runs.remove(run_id);
            true
        } else {
            false
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.runs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_answer_closes_an_activation() {
        let open = OpenActivations::default();
        let token = open.open("run-1");
        assert!(open.close("run-1", token));
        assert!(!open.close("run-1", token));
    }

    #[test]
    fn an_activation_never_opened_takes_no_answer() {
        assert!(!OpenActivations::default().close("run-2", 1));
    }

    #[test]
    fn the_next_activation_of_a_run_opens_again_with_a_new_token() {
        let open = OpenActivations::default();
        let first = open.open("run-3");
        assert!(open.close("run-3", first));
        let second = open.open("run-3");
        assert_ne!(first, second);
        assert!(open.close("run-3", second));
    }

    #[test]
    fn an_answer_naming_an_earlier_activation_leaves_the_open_one_open() {
        let open = OpenActivations::default();
        let first = open.open("run-4");
        assert!(open.close("run-4", first));
        let second = open.open("run-4");
        assert!(!open.close("run-4", first));
        assert!(open.close("run-4", second));
    }

    #[test]
    fn another_core_worker_never_hands_out_the_same_token() {
        let earlier = OpenActivations::default();
        let token = earlier.open("run-5");
        let later = OpenActivations::default();
        assert_ne!(later.open("run-5"), token);
        assert!(!later.close("run-5", token));
    }

    #[test]
    fn tokens_are_per_activation_not_per_run() {
        let open = OpenActivations::default();
        let a = open.open("run-a");
        let b = open.open("run-b");
        assert!(!open.close("run-a", b));
        assert!(open.close("run-b", b));
        assert!(open.close("run-a", a));
    }
}
