//! Which Core worker issued each task token, so that a completion or heartbeat reaches that
//! worker and no other.
//!
//! Completions are routed to a worker by task queue name. When a worker process dies and its
//! supervisor starts a new one for the same queue, the executors of the old one live on (by
//! design) and complete through the new worker; but sdk-core only accepts a completion from
//! the worker that issued the task (any other logs that it is "not tracking" it and drops it),
//! and the attempt would wait for the server's timeout. The old Core worker, though, is still
//! there: its shutdown waits for its outstanding tasks. So each token remembers its issuer,
//! weakly — a worker that has finished shutting down is not kept alive by its tokens. (Its
//! shutdown gives up on attempts still running a while after the graceful period; those report
//! to the server by token: see [`super::orphans`].)

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

/// Task tokens and the workers that issued them.
pub struct Issuers<W> {
    by_token: Mutex<HashMap<Vec<u8>, Weak<W>>>,
}

impl<W> Default for Issuers<W> {
    fn default() -> Self {
        Self {
            by_token: Mutex::new(HashMap::new()),
        }
    }
}

impl<W> Issuers<W> {
    /// Records that `issuer` handed out `token`.
    pub fn issued(&self, token: &[u8], issuer: &Arc<W>) {
        let mut by_token = self.lock();
        // Tokens whose worker is gone can never be completed through it: forget them now and
        // then, so the table never outgrows the tasks in flight by much.
        if by_token.len() >= 1024 && by_token.len().is_power_of_two() {
            by_token.retain(|_, issuer| issuer.strong_count() > 0);
        }
        by_token.insert(token.to_vec(), Arc::downgrade(issuer));
    }

    /// The worker that issued `token`, if it is still there.
    pub fn issuer(&self, token: &[u8]) -> Option<Arc<W>> {
        self.lock().get(token).and_then(Weak::upgrade)
    }

    /// The task is completed: its token is forgotten.
    pub fn completed(&self, token: &[u8]) {
        self.lock().remove(token);
    }

    /// Those of `tokens` still handed out: their completion has not come back from Core (or
    /// has not been sent at all).
    pub fn pending<'t>(&self, tokens: impl IntoIterator<Item = &'t [u8]>) -> Vec<&'t [u8]> {
        let by_token = self.lock();
        tokens
            .into_iter()
            .filter(|token| by_token.contains_key(*token))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Weak<W>>> {
        self.by_token
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_leads_to_its_issuer_while_the_issuer_lives() {
        let issuers = Issuers::default();
        let old = Arc::new("old worker");
        let new = Arc::new("new worker");
        issuers.issued(b"a", &old);
        issuers.issued(b"b", &new);
        assert_eq!(issuers.issuer(b"a").as_deref(), Some(&"old worker"));
        assert_eq!(issuers.issuer(b"b").as_deref(), Some(&"new worker"));
        assert!(issuers.issuer(b"unknown").is_none());
        issuers.completed(b"a");
        assert!(issuers.issuer(b"a").is_none());
        issuers.issued(b"c", &old);
        drop(old);
        assert!(
            issuers.issuer(b"c").is_none(),
            "a finished worker is not kept alive"
        );
    }

    #[test]
    fn pending_tokens_are_those_handed_out_and_not_completed() {
        let issuers = Issuers::default();
        let worker = Arc::new("worker");
        issuers.issued(b"a", &worker);
        issuers.issued(b"b", &worker);
        issuers.completed(b"a");
        let asked: [&[u8]; 3] = [b"a", b"b", b"never issued"];
        assert_eq!(issuers.pending(asked), vec![b"b".as_slice()]);
    }

    #[test]
    fn tokens_of_finished_workers_are_pruned() {
        let issuers = Issuers::default();
        let gone = Arc::new(0);
        for token in 0u32..1023 {
            issuers.issued(&token.to_be_bytes(), &gone);
        }
        drop(gone);
        let live = Arc::new(1);
        issuers.issued(b"live", &live);
        // The insertion that found 1,024 entries pruned the 1,023 dead ones.
        issuers.issued(b"next", &live);
        assert_eq!(issuers.len(), 2);
    }
}
