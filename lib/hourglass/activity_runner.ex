defmodule Hourglass.ActivityRunner do
  @moduledoc """
  Runs one attempt of one activity and ships exactly one completion for it.

  `run/3` executes in the executor process (a `restart: :temporary` child of
  `Hourglass.ActivityExecutor.DynamicSupervisor`). It resolves the activity by its type on the
  task queue (`Hourglass.ActivityRegistry`):

    * an Elixir activity runs its `execute/N` right here, and whatever happens — a return
      value, an exception, a throw, an exit — becomes a completion;
    * a native activity runs on tokio, owned by this process (`Hourglass.Native.TaskOwner`).
      With the default `complete_fn` its completion travels from the tokio thread straight to
      `Hourglass.BridgeHolder`; with any other `complete_fn` it comes back here and is handed
      to that function.

  An unknown activity type or a malformed task is reported as a failed completion (when the task
  has a token to report it with). A `{:error, :worker_not_registered}` from `complete_fn` is
  logged, not raised: the server redelivers the attempt after its timeout.

  `cancel/2` asks a running attempt to stop: a native body is aborted; an Elixir activity sees
  `Hourglass.Activity.cancelled?/0` become true and `heartbeat/0,1` raise. Either way the
  attempt is reported as `{:cancelled, details}` (an Elixir activity that returns normally
  after the request reports its own result).
  """
  require Logger

  alias Hourglass.{
    Activity,
    ActivityRegistry,
    ActivityTask,
    ApplicationError,
    BridgeHolder,
    PayloadCodec,
    Telemetry
  }

  alias Hourglass.Activity.{CancelledError, Info}
  alias Hourglass.Native.TaskOwner

  @typedoc "Receives the completion of the attempt; see `Hourglass.BridgeHolder.completion/0`."
  @type complete_fn :: (String.t(), BridgeHolder.completion() -> :ok | {:error, term()})

  @doc """
  Runs `activity_task` (see `Hourglass.ActivityTask`) from `task_queue`.

  Returns what `complete_fn` returned for the completion, or `{:error, reason}` when the task
  is so malformed that no completion could be shipped (no binary token).
  """
  @spec run(map(), String.t(), complete_fn()) :: :ok | {:error, term()}
  def run(activity_task, task_queue, complete_fn \\ &BridgeHolder.complete_activity_task/2) do
    case activity_task |> ActivityTask.new() |> decode_payloads() do
      {:ok, task} ->
        case ActivityRegistry.lookup(task_queue, task.activity_type) do
          {:ok, {:elixir, module}} ->
            completion =
              instrument(task, task_queue, fn telemetry ->
                run_elixir(module, task, task_queue, telemetry)
              end)

            ship(complete_fn, task_queue, completion)

          {:ok, :native} ->
            shipped =
              instrument(task, task_queue, fn _telemetry ->
                # The checked task, with its payloads decoded by the codec if there is one.
                run_native(task, task_queue, complete_fn)
              end)

            with {:shipped, shipped, _completion} <- shipped, do: shipped

          :error ->
            failure = %ApplicationError{
              type: "NotFoundError",
              message:
                "activity type #{inspect(task.activity_type)} is not registered on task queue " <>
                  "#{inspect(task_queue)}; registered: #{inspect(safe_types(task_queue))}"
            }

            ship(complete_fn, task_queue, %{
              task_token: task.task_token,
              result: {:failed, failure}
            })
        end

      {:error, {:undecodable, task, message}} ->
        failure = %ApplicationError{
          type: "PayloadDecodingError",
          message: "cannot decode the payloads of activity #{task.activity_type}: #{message}",
          non_retryable: true
        }

        ship(complete_fn, task_queue, %{task_token: task.task_token, result: {:failed, failure}})

      {:error, {:invalid_activity_task, message} = reason} ->
        case activity_task do
          %{task_token: token} when is_binary(token) ->
            failure = %ApplicationError{
              type: "InvalidActivityTask",
              message: message,
              non_retryable: true
            }

            ship(complete_fn, task_queue, %{task_token: token, result: {:failed, failure}})

          _ ->
            Logger.error("Hourglass: cannot run activity task: #{message}")
            {:error, reason}
        end
    end
  end

  # A task from a worker with a payload codec carries payloads: decode them here, in the
  # executor, so a slow codec never holds up the worker.
  defp decode_payloads({:ok, %ActivityTask{payload_codec: nil} = task}), do: {:ok, task}

  defp decode_payloads({:ok, %ActivityTask{payload_codec: codec} = task}) do
    with {:ok, input} <- PayloadCodec.decode_values(codec, task.input),
         {:ok, details} <- PayloadCodec.decode_values(codec, task.heartbeat_details) do
      {:ok, %{task | input: input, heartbeat_details: details, payload_codec: nil}}
    else
      {:error, message} -> {:error, {:undecodable, task, message}}
    end
  end

  defp decode_payloads(error), do: error

  @doc """
  Asks the attempt running in executor `pid` to stop, with `details` reported in its
  `{:cancelled, details}` completion.
  """
  @spec cancel(pid(), term()) :: :ok
  def cancel(pid, details \\ nil) when is_pid(pid) do
    send(pid, {:"$hourglass_cancel", details})
    :ok
  end

  @doc false
  # The failure reported for an attempt whose executor died without shipping a completion
  # (killed from outside, or by a crash linked to it).
  @spec exit_failure(term()) :: ApplicationError.t()
  def exit_failure(reason) do
    %ApplicationError{
      type: "ExecutorExit",
      message: "the activity's process exited: #{inspect(reason)}"
    }
  end

  @doc false
  # Hands a completion to `complete_fn`; never raises, logs what did not go through.
  @spec ship(complete_fn(), String.t(), BridgeHolder.completion()) :: :ok | {:error, term()}
  def ship(complete_fn, task_queue, completion) do
    case complete_fn.(task_queue, completion) do
      :ok ->
        :ok

      {:error, :worker_not_registered} ->
        Logger.warning(
          "Hourglass: no worker is registered for task queue #{inspect(task_queue)}; the " <>
            "completion was dropped and the server will redeliver the attempt after its timeout"
        )

        {:error, :worker_not_registered}

      {:error, reason} ->
        Logger.error("Hourglass: completion not delivered: #{inspect(reason)}")
        {:error, reason}

      other ->
        Logger.error("Hourglass: complete_fn returned #{inspect(other)} instead of :ok")
        {:error, {:unexpected_return, other}}
    end
  catch
    kind, reason ->
      Logger.error(
        "Hourglass: complete_fn crashed: " <> Exception.format(kind, reason, __STACKTRACE__)
      )

      {:error, {:complete_fn_crashed, {kind, reason}}}
  end

  # Emits the start and stop telemetry events around one attempt. `fun` returns a completion
  # (Elixir activities) or, for native ones, `{:shipped, what_shipping_returned, completion}`
  # (or `{:error, reason}` when nothing could be shipped).
  defp instrument(task, task_queue, fun) do
    metadata = %{
      activity_type: task.activity_type,
      activity_id: task.activity_id,
      attempt: task.attempt,
      task_queue: task_queue,
      workflow_id: task.workflow_id
    }

    started = System.monotonic_time()

    Telemetry.execute(
      [:hourglass, :activity, :start],
      %{system_time: System.system_time(), monotonic_time: started},
      metadata
    )

    outcome = fun.({metadata, started})
    stopped = System.monotonic_time()

    result =
      case outcome do
        %{result: {kind, _}} -> kind
        %{result: :will_complete_async} -> :will_complete_async
        {:shipped, _, %{result: {kind, _}}} -> kind
        {:error, _} -> :failed
      end

    Telemetry.execute(
      [:hourglass, :activity, :stop],
      %{duration: stopped - started, monotonic_time: stopped},
      Map.put(metadata, :result, result)
    )

    outcome
  end

  defp exception_event({metadata, started}, kind, reason, stacktrace) do
    now = System.monotonic_time()
    metadata = Map.merge(metadata, %{kind: kind, reason: reason, stacktrace: stacktrace})

    Telemetry.execute(
      [:hourglass, :activity, :exception],
      %{duration: now - started, monotonic_time: now},
      metadata
    )
  end

  defp safe_types(task_queue), do: ActivityRegistry.activity_types(task_queue)

  defp run_native(task, task_queue, complete_fn) do
    case TaskOwner.run(task, task_queue, complete_fn) do
      {:error, {:invalid_activity_task, message}} ->
        failure = %ApplicationError{
          type: "InvalidActivityTask",
          message: message,
          non_retryable: true
        }

        ship_native_failure(complete_fn, task_queue, task, failure)

      {:error, {:unknown_activity_type, type}} ->
        failure = %ApplicationError{
          type: "NotFoundError",
          message: "unknown native activity #{type}"
        }

        ship_native_failure(complete_fn, task_queue, task, failure)

      other ->
        other
    end
  end

  defp ship_native_failure(complete_fn, task_queue, task, failure) do
    completion = %{task_token: task.task_token, result: {:failed, failure}}
    {:shipped, ship(complete_fn, task_queue, completion), completion}
  end

  defp run_elixir(module, task, task_queue, telemetry) do
    info = Info.from_task(task, task_queue)

    Activity.put_context(info, fn details ->
      BridgeHolder.record_heartbeat(task_queue, task.task_token, details)
    end)

    Logger.metadata(
      activity_id: task.activity_id,
      activity_type: task.activity_type,
      attempt: task.attempt,
      task_queue: task_queue,
      workflow_id: task.workflow_id
    )

    %{task_token: task.task_token, result: execute(module, task.input, telemetry)}
  end

  defp execute(module, input, telemetry) do
    arity = length(input)

    if function_exported?(module, :execute, arity) do
      try do
        module |> apply(:execute, input) |> to_result()
      rescue
        error in ApplicationError ->
          exception_event(telemetry, :error, error, __STACKTRACE__)
          {:failed, %{error | stack_trace: format_stack(__STACKTRACE__)}}

        error in CancelledError ->
          {:cancelled, error.details}

        exception ->
          exception_event(telemetry, :error, exception, __STACKTRACE__)

          {:failed,
           %ApplicationError{
             type: exception.__struct__ |> Module.split() |> Enum.join("."),
             message: Exception.message(exception),
             stack_trace: format_stack(__STACKTRACE__)
           }}
      catch
        kind, reason ->
          exception_event(telemetry, kind, reason, __STACKTRACE__)

          {:failed,
           %ApplicationError{
             type: if(kind == :throw, do: "Throw", else: "Exit"),
             message: "#{kind}: #{inspect(reason)}",
             stack_trace: format_stack(__STACKTRACE__)
           }}
      end
    else
      arities = for {:execute, n} <- module.__info__(:functions), do: n

      {:failed,
       %ApplicationError{
         type: "ArgumentError",
         message:
           "#{inspect(module)} got #{arity} argument(s) but defines execute/" <>
             Enum.map_join(arities, ", execute/", &Integer.to_string/1)
       }}
    end
  end

  defp to_result(:complete_async), do: :will_complete_async
  defp to_result({:ok, value}), do: {:completed, value}
  defp to_result(:ok), do: {:completed, nil}
  defp to_result({:error, %ApplicationError{} = error}), do: {:failed, error}

  defp to_result({:error, reason}) do
    message = if is_binary(reason), do: reason, else: inspect(reason)
    {:failed, %ApplicationError{type: "Error", message: message}}
  end

  defp to_result(other) do
    {:failed,
     %ApplicationError{
       type: "InvalidReturnValue",
       message:
         "execute returned #{inspect(other, limit: 10)}; expected {:ok, value}, :ok, " <>
           "{:error, reason} or Hourglass.Activity.complete_async()"
     }}
  end

  defp format_stack(stacktrace), do: Exception.format_stacktrace(stacktrace)
end
