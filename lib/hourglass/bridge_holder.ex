defmodule Hourglass.BridgeHolder do
  @moduledoc """
  Holds the bridge from each registered task queue to whatever reports its completions.

  Every completion of an attempt, from an Elixir activity or a native body, goes through
  `complete_activity_task/2`, and every heartbeat through `record_heartbeat/3`. A task queue is
  backed by the worker that polls it; a test may back one with a sink pid instead, which then
  receives `{:hourglass_completion, task_queue, completion}` and
  `{:hourglass_heartbeat, task_queue, %{task_token: token, details: details}}` messages.

  When the queue is not registered — its worker is gone, or this process restarted and the
  worker has not registered again yet — completions return `{:error, :worker_not_registered}`.
  Nothing is retried here: the server redelivers the attempt after its heartbeat or
  start-to-close timeout. There is no deduplication cache either, so an activity may run again
  after such a loss; activities with side effects must be idempotent.

  Registrations live in a protected ETS table owned by this process: completions are routed in
  the caller's process without a call to this one, and a restart forgets every registration.
  """
  use GenServer
  require Logger

  alias Hourglass.{ApplicationError, PayloadCodec}

  @table __MODULE__

  @typedoc """
  What a task queue is backed by: a Core worker (`Hourglass.Worker` registers
  `{:core, worker, worker_pid, payload_codec}`; `{:core, worker, worker_pid}` means no codec)
  or, in tests, a sink pid.

  With a payload codec, results, heartbeat details, failure details and cancellation details
  are encoded here, in the process that completes (see `Hourglass.PayloadCodec`).
  """
  @type backend ::
          {:core, reference(), pid()}
          | {:core, reference(), pid(), PayloadCodec.t() | nil}
          | {:sink, pid()}

  @typedoc """
  The completion of one attempt. `{:cancelled, details}` reports an attempt stopped on request;
  `:will_complete_async` one that another process will complete later by its task token (see
  `Hourglass.Activity.complete_async/0`).
  """
  @type completion :: %{
          task_token: binary(),
          result:
            {:completed, term()}
            | {:failed, ApplicationError.t()}
            | {:cancelled, term()}
            | :will_complete_async
        }

  @doc false
  def start_link(opts \\ []), do: GenServer.start_link(__MODULE__, opts, name: __MODULE__)

  @doc """
  Routes `task_queue`'s completions and heartbeats to `backend`. The registration ends when
  the backend process exits or `unregister/1` is called.

  While an `Hourglass.Worker` serves `task_queue`, only that worker may register it: anything
  else gets `{:error, {:task_queue_in_use, task_queue, worker_pid}}`. A sink is a testing tool
  (`Hourglass.Testing.ActivityEnvironment` uses one), never a way to take over a live worker's
  completions.
  """
  @spec register(String.t(), backend()) :: :ok | {:error, term()}
  def register(task_queue, {:sink, pid} = backend) when is_binary(task_queue) and is_pid(pid) do
    with :ok <- Hourglass.Worker.check_queue_free(task_queue, pid) do
      GenServer.call(__MODULE__, {:register, task_queue, backend})
    end
  end

  def register(task_queue, {:core, worker, pid}),
    do: register(task_queue, {:core, worker, pid, nil})

  def register(task_queue, {:core, worker, pid, codec} = backend)
      when is_binary(task_queue) and is_reference(worker) and is_pid(pid) do
    with {:ok, codec} <- PayloadCodec.validate(codec),
         :ok <- Hourglass.Worker.check_queue_free(task_queue, pid) do
      GenServer.call(__MODULE__, {:register, task_queue, {:core, worker, pid, codec}})
    else
      {:error, {:task_queue_in_use, _queue, _worker}} = in_use ->
        in_use

      {:error, message} ->
        {:error, {:invalid_registration, task_queue, backend, message}}
    end
  end

  def register(task_queue, backend), do: {:error, {:invalid_registration, task_queue, backend}}

  @doc "Removes the registration of `task_queue`."
  @spec unregister(String.t()) :: :ok
  def unregister(task_queue), do: GenServer.call(__MODULE__, {:unregister, task_queue})

  @doc "True when `task_queue` is registered."
  @spec registered?(String.t()) :: boolean()
  def registered?(task_queue), do: match?({:ok, _}, backend(task_queue))

  @doc """
  Reports the completion of one attempt.

  Returns `:ok`, `{:error, :worker_not_registered}` when nobody serves `task_queue` right now,
  or `{:error, {:invalid_completion, completion}}` when the completion is malformed.
  """
  @spec complete_activity_task(String.t(), completion()) :: :ok | {:error, term()}
  def complete_activity_task(task_queue, completion) do
    with :ok <- validate(completion),
         {:ok, backend} <- backend(task_queue) do
      deliver(backend, {:hourglass_completion, task_queue, completion})
    end
  end

  @doc """
  Records a heartbeat for the attempt with `task_token`; `details` is a list of terms (empty
  for a bare heartbeat).
  """
  @spec record_heartbeat(String.t(), binary(), [term()]) :: :ok | {:error, term()}
  def record_heartbeat(task_queue, task_token, details)
      when is_binary(task_token) and is_list(details) do
    with {:ok, backend} <- backend(task_queue) do
      deliver(
        backend,
        {:hourglass_heartbeat, task_queue, %{task_token: task_token, details: details}}
      )
    end
  end

  def record_heartbeat(_task_queue, task_token, details),
    do: {:error, {:invalid_heartbeat, task_token, details}}

  defp backend(task_queue) do
    case :ets.lookup(@table, task_queue) do
      [{_queue, backend}] -> {:ok, backend}
      [] -> {:error, :worker_not_registered}
    end
  rescue
    # The table does not exist while this process restarts.
    ArgumentError -> {:error, :worker_not_registered}
  end

  defp deliver({:sink, pid}, message) do
    send(pid, message)
    :ok
  end

  defp deliver({:core, worker, worker_pid, codec}, {:hourglass_completion, _queue, completion}) do
    completion = completion |> core_completion() |> encode_completion(codec)
    Hourglass.Native.worker_complete(worker, completion, worker_pid)
  end

  defp deliver({:core, worker, _pid, codec}, {:hourglass_heartbeat, _queue, heartbeat}) do
    case PayloadCodec.encode_values(codec, heartbeat.details) do
      {:ok, details} ->
        case Hourglass.Native.worker_heartbeat(worker, heartbeat.task_token, details) do
          :ok ->
            :ok

          {:error, message} = error ->
            # Details that cannot be encoded or are over the payload size limit: like a codec
            # error, the heartbeat is dropped and the attempt goes on.
            Logger.error("Hourglass: heartbeat details not sent: #{message}")
            error
        end

      {:error, message} ->
        # A heartbeat that cannot be encoded is dropped, not sent in the clear; the attempt
        # goes on, and its next heartbeat or its completion says more.
        Logger.error("Hourglass: heartbeat details not sent: #{message}")
        :ok
    end
  end

  # With a codec, every value the completion carries goes as an encoded payload. A value the
  # codec cannot encode fails the attempt instead (non-retryable: it would fail again).
  defp encode_completion(completion, nil), do: completion

  defp encode_completion(%{result: result} = completion, codec) do
    case encode_result(result, codec) do
      {:ok, result} ->
        %{completion | result: result}

      {:error, message} ->
        error = %ApplicationError{
          type: "PayloadEncodingError",
          message: "the activity's outcome cannot be encoded: #{message}",
          non_retryable: true
        }

        %{completion | result: {:failed, error}}
    end
  end

  defp encode_result({:completed, value}, codec) do
    with {:ok, payload} <- PayloadCodec.encode_value(codec, value),
         do: {:ok, {:completed, payload}}
  end

  defp encode_result({:cancelled, details}, codec) do
    with {:ok, payload} <- PayloadCodec.encode_value(codec, details),
         do: {:ok, {:cancelled, payload}}
  end

  defp encode_result({:failed, %ApplicationError{details: details} = error}, codec) do
    with {:ok, details} <- PayloadCodec.encode_values(codec, details),
         do: {:ok, {:failed, %{error | details: details}}}
  end

  defp encode_result(other, _codec), do: {:ok, other}

  # An attempt stopped because its worker shut down was not cancelled by the server, which
  # expects a (retryable) failure instead, so that the next attempt runs elsewhere.
  defp core_completion(%{result: {:cancelled, :worker_shutdown}} = completion) do
    error = %ApplicationError{
      type: "WorkerShutdown",
      message: "the worker shut down before the activity finished"
    }

    %{completion | result: {:failed, error}}
  end

  defp core_completion(completion), do: completion

  defp validate(%{task_token: token, result: result} = completion) when is_binary(token) do
    case result do
      {:completed, _value} -> :ok
      {:failed, %ApplicationError{}} -> :ok
      {:cancelled, _details} -> :ok
      :will_complete_async -> :ok
      _ -> {:error, {:invalid_completion, completion}}
    end
  end

  defp validate(completion), do: {:error, {:invalid_completion, completion}}

  @impl true
  def init(_opts) do
    :ets.new(@table, [:named_table, :protected, :set, read_concurrency: true])
    {:ok, %{monitors: %{}}}
  end

  # Registrations change rarely, and each leaves the backend term (a worker's resource) behind
  # as garbage in this mostly idle process: hibernating collects it at once, so that the Core
  # worker of a worker that is gone is freed, not kept until some later collection.
  @impl true
  def handle_call({:register, task_queue, backend}, _from, state) do
    state = drop(state, task_queue)
    ref = Process.monitor(backend_pid(backend))
    :ets.insert(@table, {task_queue, backend})
    {:reply, :ok, put_in(state.monitors[ref], task_queue), :hibernate}
  end

  def handle_call({:unregister, task_queue}, _from, state) do
    {:reply, :ok, drop(state, task_queue), :hibernate}
  end

  @impl true
  def handle_info({:DOWN, ref, :process, _pid, _reason}, state) do
    case Map.pop(state.monitors, ref) do
      {nil, _monitors} ->
        {:noreply, state}

      {task_queue, monitors} ->
        :ets.delete(@table, task_queue)
        {:noreply, %{state | monitors: monitors}, :hibernate}
    end
  end

  defp backend_pid({:sink, pid}), do: pid
  defp backend_pid({:core, _worker, pid, _codec}), do: pid

  defp drop(state, task_queue) do
    :ets.delete(@table, task_queue)

    case Enum.find(state.monitors, fn {_ref, queue} -> queue == task_queue end) do
      nil ->
        state

      {ref, _queue} ->
        Process.demonitor(ref, [:flush])
        %{state | monitors: Map.delete(state.monitors, ref)}
    end
  end
end
