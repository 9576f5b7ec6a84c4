//! `hourglass.sha256`: a CPU-heavy body. Given `%{"data" => string, "rounds" => n}` with n >= 1:
//! d0 = the UTF-8 bytes of data, d_i = sha256(d_{i-1}) as raw 32 bytes; returns hex(d_n).

use crate::activity::{argument, NativeActivity, Workload};
use crate::context::ActivityContext;
use crate::failure::ActivityFailure;
use serde_json::Value;
use sha2::{Digest, Sha256};

pub fn activity() -> NativeActivity {
    NativeActivity::with_arguments("hourglass.sha256", Workload::Cpu, body)
}

/// Rounds between two yields to the scheduler: about 0.2 ms of work, so an abort lands quickly
/// and other tasks on the pool get their turn.
const ROUNDS_PER_SLICE: u64 = 512;

async fn body(_context: ActivityContext, arguments: Vec<Value>) -> Result<Value, ActivityFailure> {
    let (data, rounds) = parse(&arguments)?;
    let mut chain = HashChain::new(&data);
    while chain.done < rounds {
        chain.advance(ROUNDS_PER_SLICE.min(rounds - chain.done));
        tokio::task::yield_now().await;
    }
    Ok(Value::from(chain.hex()))
}

/// The hash chain itself, also run in one go by the benchmark's scheduler baselines.
pub struct HashChain {
    digest: sha2::digest::Output<Sha256>,
    done: u64,
}

impl HashChain {
    /// d0 hashed once: one round done.
    pub fn new(data: &str) -> Self {
        HashChain {
            digest: Sha256::digest(data.as_bytes()),
            done: 1,
        }
    }

    /// Hashes `rounds` more times.
    pub fn advance(&mut self, rounds: u64) {
        for _ in 0..rounds {
            self.digest = Sha256::digest(self.digest);
        }
        self.done += rounds;
    }

    pub fn hex(&self) -> String {
        to_hex(&self.digest)
    }
}

/// `rounds` rounds of the chain over `data`, without yielding: for baselines that measure what
/// such work does to the BEAM when it runs elsewhere than on the low-priority pool.
pub fn hash_chain(data: &str, rounds: u64) -> String {
    let mut chain = HashChain::new(data);
    chain.advance(rounds.saturating_sub(1));
    chain.hex()
}

fn parse(arguments: &[Value]) -> Result<(String, u64), ActivityFailure> {
    let invalid = |why: &str| {
        ActivityFailure::non_retryable(
            "InvalidArgument",
            format!("hourglass.sha256 takes %{{\"data\" => string, \"rounds\" => n >= 1}}: {why}"),
        )
    };
    let spec = argument(arguments, 0, "%{\"data\" => string, \"rounds\" => n}")?;
    let data = spec
        .get("data")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("\"data\" must be a string"))?;
    let rounds = spec
        .get("rounds")
        .and_then(Value::as_u64)
        .filter(|rounds| *rounds >= 1)
        .ok_or_else(|| invalid("\"rounds\" must be an integer >= 1"))?;
    Ok((data.to_owned(), rounds))
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(arguments: Vec<Value>) -> Result<Value, ActivityFailure> {
        let (context, _) =
            ActivityContext::detached(crate::ActivityInfo::for_type("hourglass.sha256"));
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(body(context, arguments))
    }

    #[test]
    fn one_round_is_plain_sha256() {
        assert_eq!(
            run(vec![json!({"data": "abc", "rounds": 1})]),
            Ok(json!(
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
            ))
        );
    }

    #[test]
    fn later_rounds_hash_the_raw_digest() {
        let first = Sha256::digest(b"abc");
        let expected = to_hex(&Sha256::digest(Sha256::digest(first)));
        assert_eq!(
            run(vec![json!({"data": "abc", "rounds": 3})]),
            Ok(json!(expected))
        );
        // Rounds that cross a slice boundary give the same answer as a straight loop.
        let mut digest = Sha256::digest(b"x");
        for _ in 1..1000 {
            digest = Sha256::digest(digest);
        }
        assert_eq!(
            run(vec![json!({"data": "x", "rounds": 1000})]),
            Ok(json!(to_hex(&digest)))
        );
    }

    #[test]
    fn rejects_bad_specs() {
        for bad in [
            json!({"data": "abc", "rounds": 0}),
            json!({"data": 1, "rounds": 1}),
            json!({"rounds": 1}),
            json!("abc"),
        ] {
            let failure = run(vec![bad]).unwrap_err();
            assert_eq!(failure.error_type, "InvalidArgument");
            assert!(failure.non_retryable);
        }
        assert!(run(vec![]).is_err());
    }
}
