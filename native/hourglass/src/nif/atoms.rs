//! Atoms shared by the NIF's terms and messages.

rustler::atoms! {
    ok,
    error,
    nil,
    completed,
    failed,
    task_token,
    result,
    message,
    r#type = "type",
    non_retryable,
    details,
    next_retry_delay,
    stack_trace,
    __struct__,
    __exception__,
    hourglass_native_completion = "$hourglass_native_completion",
    hourglass_native_heartbeat = "$hourglass_native_heartbeat",
    hourglass_native_cancelled = "$hourglass_native_cancelled",
    pending,
    hourglass_log = "$hourglass_log",
    hourglass_deferred = "$hourglass_deferred",
    io_threads,
    cpu_threads,
    cpu_nice,
    log_level,
    debug,
    info,
    warning,
    trace,
    invalid_activity_task,
    unknown_activity_type,
    invalid_task_queue,
    owner_not_alive,
    already_spawned,
    // The fields of an activity task a native body reads, made once instead of per task.
    activity_type,
    activity_id,
    attempt,
    input,
    heartbeat_details,
    workflow_id,
    workflow_run_id,
    workflow_type,
    workflow_namespace,
    heartbeat_timeout,
    start_to_close_timeout,
}

/// An atom made from a name at run time, for the many message tags and map keys that are
/// used once; `nil` if the atom table refuses it.
pub fn named<'a>(env: rustler::Env<'a>, name: &str) -> rustler::Term<'a> {
    use rustler::Encoder;
    rustler::Atom::from_str(env, name)
        .map(|atom| atom.encode(env))
        .unwrap_or_else(|_| nil().encode(env))
}
