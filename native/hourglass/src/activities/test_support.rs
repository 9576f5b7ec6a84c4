//! Activities that exist only in test builds (cargo feature `test-activities`), to prove how
//! the executor treats misbehaving bodies.

use super::{BodyFuture, NativeActivity, Workload};
use serde_json::Value;

pub const ACTIVITIES: &[NativeActivity] = &[NativeActivity {
    name: "hourglass.test.panic",
    workload: Workload::Io,
    body: panic_body,
}];

fn panic_body(arguments: Vec<Value>) -> BodyFuture {
    Box::pin(async move {
        let message = arguments
            .first()
            .and_then(Value::as_str)
            .unwrap_or("boom")
            .to_owned();
        panic!("{message}")
    })
}
