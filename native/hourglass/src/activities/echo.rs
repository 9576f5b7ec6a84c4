//! `hourglass.echo`: returns its first argument (nil without one).

use super::{BodyFuture, NativeActivity, Workload};
use serde_json::Value;

pub const ACTIVITY: NativeActivity = NativeActivity {
    name: "hourglass.echo",
    workload: Workload::Io,
    body,
};

fn body(arguments: Vec<Value>) -> BodyFuture {
    Box::pin(async move { Ok(arguments.into_iter().next().unwrap_or(Value::Null)) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_the_first_argument() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let result = runtime.block_on(body(vec![Value::from("hi"), Value::from(2)]));
        assert_eq!(result, Ok(Value::from("hi")));
        assert_eq!(runtime.block_on(body(vec![])), Ok(Value::Null));
    }
}
