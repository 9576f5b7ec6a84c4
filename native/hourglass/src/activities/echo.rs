//! `hourglass.echo`: returns its first argument (nil without one).

use crate::activity::{NativeActivity, Workload};
use serde_json::Value;

pub fn activity() -> NativeActivity {
    NativeActivity::with_arguments("hourglass.echo", Workload::Io, |_, arguments| async move {
        Ok(arguments.into_iter().next().unwrap_or(Value::Null))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{ActivityContext, ActivityInfo};

    #[test]
    fn returns_the_first_argument() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let run = |arguments| {
            let (context, _) = ActivityContext::detached(ActivityInfo::for_type("hourglass.echo"));
            runtime.block_on(activity().start(context, arguments))
        };
        assert_eq!(
            run(vec![Value::from("hi"), Value::from(2)]),
            Ok(Value::from("hi"))
        );
        assert_eq!(run(vec![]), Ok(Value::Null));
    }
}
