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

use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Default)]
pub struct OpenActivations {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Run id → the token of its open activation.
    runs: HashMap<String, u64>,
    /// The last token handed out.
    last: u64,
}

impl OpenActivations {
    /// `run_id`'s activation is on its way to Elixir: returns its token.
    pub fn open(&self, run_id: &str) -> u64 {
        let mut state = self.lock();
        state.last += 1;
        let token = state.last;
        state.runs.insert(run_id.to_string(), token);
        token
    }

    /// Closes `run_id`'s activation with `token`: true for the first answer to an open one only.
    pub fn close(&self, run_id: &str, token: u64) -> bool {
        let mut state = self.lock();
        if state.runs.get(run_id) == Some(&token) {
            state.runs.remove(run_id);
            true
        } else {
            false
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
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
    fn tokens_are_per_activation_not_per_run() {
        let open = OpenActivations::default();
        let a = open.open("run-a");
        let b = open.open("run-b");
        assert!(!open.close("run-a", b));
        assert!(open.close("run-b", b));
        assert!(open.close("run-a", a));
    }
}
