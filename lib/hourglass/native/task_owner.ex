defmodule Hourglass.Native.TaskOwner do
  @moduledoc """
  The BEAM process that owns one native activity body running on tokio.

  The NIF monitors the owner: when the owner dies for any reason, the tokio task is aborted and
  sends nothing. The owner exits `:normal` when the body is done.

  Two ways in:

    * `start_link/3` — the child that `Hourglass.Native.start_child/1` puts under the shared
      executor supervisor, once it has checked and decoded the task (malformed input is an
      `{:error, reason}` from `start_child/1` and no child is started). Like a `Task`, it
      returns at once and spawns the body in the new process.
    * `run/3` — for a process that already is an executor (`Hourglass.ActivityRunner`): it
      spawns the body, owns it and waits for it.

  While it waits, the owner accepts `Hourglass.ActivityRunner.cancel/2`: it trips the body's
  cancellation token and reports the attempt cancelled — at once for a body without a cancel
  grace (it is aborted), or when a body with one ends or its grace runs out — unless the body
  finished first (then its completion stands).

  The body's completion comes back here from tokio, and so do its own heartbeats
  (`ActivityContext::heartbeat` in Rust): the owner turns them into terms (a value with a wide
  map arrives deferred), and `Hourglass.BridgeHolder` routes them from this process, where the
  payload codec and the call into Core run too. No process that serves every attempt converts
  or encodes anything, so a slow codec or a burst of completions holds up only its own
  attempts. Besides, when the task has a heartbeat timeout, the owner heartbeats for the body
  every half timeout while it runs, so that a long body that never heartbeats stays alive on
  the server and a cancellation can reach it.
  """

  require Logger

  alias Hourglass.{ActivityRunner, BridgeHolder, Native}

  @doc false
  @spec start_link(reference(), map(), String.t()) :: {:ok, pid()} | {:error, term()}
  def start_link(prepared, task, task_queue) do
    {:ok, :proc_lib.spawn_link(__MODULE__, :init, [prepared, task, task_queue])}
  end

  @doc false
  def init(prepared, task, task_queue) do
    case spawn_body(
           {:prepared, prepared},
           task,
           task_queue,
           &BridgeHolder.complete_activity_task/2
         ) do
      {:ok, owned} ->
        await(owned)

      {:error, reason} ->
        # start_child/1 checked the task, so this is a bug, not bad input: say so loudly.
        Logger.error("Hourglass: a checked native task could not start: #{inspect(reason)}")
    end
  end

  @doc """
  Runs the native body for `task` owned by the calling process, and returns once its
  completion has been handed to `complete_fn`: `{:shipped, what_complete_fn_returned,
  completion}`, or `{:error, reason}` when the body could not be started.
  """
  @spec run(map(), String.t(), ActivityRunner.complete_fn()) ::
          {:shipped, :ok | {:error, term()}, BridgeHolder.completion()} | {:error, term()}
  def run(task, task_queue, complete_fn) do
    with {:ok, owned} <- spawn_body(:decode, task, task_queue, complete_fn), do: await(owned)
  end

  # `how` is `{:prepared, resource}` when `Hourglass.Native.start_child/1` already decoded the
  # task, `:decode` when the NIF decodes it now.
  defp spawn_body(how, task, task_queue, complete_fn) do
    spawned =
      case how do
        {:prepared, prepared} -> Native.native_task_spawn_prepared(prepared)
        :decode -> Native.native_task_spawn(task, task_queue)
      end

    case spawned do
      {:ok, resource, id} ->
        {:ok,
         %{
           resource: resource,
           id: id,
           task_token: task.task_token,
           task_queue: task_queue,
           complete_fn: complete_fn,
           heartbeat_every: heartbeat_interval(task, complete_fn)
         }}

      {:error, reason} ->
        {:error, reason}
    end
  end

  defp heartbeat_interval(%{heartbeat_timeout: timeout}, complete_fn)
       when is_integer(timeout) and timeout > 0 do
    if complete_fn == (&BridgeHolder.complete_activity_task/2),
      do: max(div(timeout, 2), 1),
      else: :infinity
  end

  defp heartbeat_interval(_task, _complete_fn), do: :infinity

  defp await(%{id: id} = owned) do
    receive do
      {:"$hourglass_native_completion", ^id, completion} ->
        ship(owned, Native.resolve(completion))

      {:"$hourglass_native_heartbeat", ^id, details} ->
        BridgeHolder.record_heartbeat(owned.task_queue, owned.task_token, Native.resolve(details))
        await(owned)

      {:"$hourglass_cancel", details} ->
        case Native.native_task_cancel(owned.resource) do
          true -> ship_cancelled(owned, details)
          false -> await(owned)
          # The body has a cancel grace: it reports back when it ends or the grace runs out.
          :pending -> await(Map.put(owned, :cancel_details, details))
        end

      {:"$hourglass_native_cancelled", ^id} ->
        ship_cancelled(owned, Map.get(owned, :cancel_details, []))
    after
      owned.heartbeat_every ->
        BridgeHolder.record_heartbeat(owned.task_queue, owned.task_token, [])
        await(owned)
    end
  end

  defp ship_cancelled(owned, details),
    do: ship(owned, %{task_token: owned.task_token, result: {:cancelled, details}})

  defp ship(owned, completion),
    do:
      {:shipped, ActivityRunner.ship(owned.complete_fn, owned.task_queue, completion), completion}
end
