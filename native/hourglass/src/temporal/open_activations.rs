//! The runs whose activation has been handed to Elixir and not answered yet.
//!
//! Every activation gets exactly one answer. Two processes may give it: the run's own process,
//! and the worker process when it takes the run for dead (its process exited, or blocked past
//! the deadlock timeout) — and a run killed right after it answered looks dead to the worker
//! before the run's "answered" message arrives. Core takes a second answer for an activation it
//! has closed as a broken invariant, so only the first is passed on.

use std::collections::HashSet;
use std::sync::Mutex;

#[derive(Default)]
pub struct OpenActivations {
    runs: Mutex<HashSet<String>>,
}

impl OpenActivations {
    /// `run_id`'s activation is on its way to Elixir.
    pub fn open(&self, run_id: &str) {
        self.runs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(run_id.to_string());
    }

    /// Closes `run_id`'s activation: true for the first answer only.
    pub fn close(&self, run_id: &str) -> bool {
        self.runs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(run_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_answer_closes_an_activation() {
        let open = OpenActivations::default();
        open.open("run-1");
        assert!(open.close("run-1"));
        assert!(!open.close("run-1"));
    }

    #[test]
    fn an_activation_never_opened_takes_no_answer() {
        assert!(!OpenActivations::default().close("run-2"));
    }

    #[test]
    fn the_next_activation_of_a_run_opens_again() {
        let open = OpenActivations::default();
        open.open("run-3");
        assert!(open.close("run-3"));
        open.open("run-3");
        assert!(open.close("run-3"));
    }
}
