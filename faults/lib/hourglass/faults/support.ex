defmodule Hourglass.Faults.Support do
  @moduledoc """
  What the fault scenarios share: a worker on a fresh task queue, batches of Standalone
  Activities started and awaited through `Hourglass.Client`, worker VMs of their own, and
  waiting for a condition.
  """

  alias Hourglass.Client

  @doc "A fresh task queue name."
  @spec queue(String.t()) :: String.t()
  def queue(scenario), do: "faults-#{scenario}-#{System.unique_integer([:positive])}"

  @doc "Starts an `Hourglass.Worker` (not linked to the caller); returns its pid."
  @spec start_worker(keyword()) :: pid()
  def start_worker(opts) do
    {:ok, pid} =
      Supervisor.start_child(Hourglass.Supervisor, %{
        id: {Hourglass.Worker, opts[:task_queue]},
        start: {Hourglass.Worker, :start_link, [opts]},
        restart: :temporary
      })

    pid
  end

  @doc "Stops a worker started by `start_worker/1`, gracefully."
  @spec stop_worker(pid()) :: :ok
  def stop_worker(pid) do
    ref = Process.monitor(pid)
    Process.exit(pid, :shutdown)

    receive do
      {:DOWN, ^ref, :process, _, _} -> :ok
    after
      60_000 -> Process.exit(pid, :kill)
    end

    :ok
  end

  @doc """
  Starts `count` Standalone Activities of `type` with `args` (a list, or a function of the
  index returning one) on `queue`, at most `in_flight` starts at once; returns their handles.
  """
  @spec start_batch(Client.t(), String.t(), String.t(), pos_integer(), term(), keyword()) ::
          [Client.ActivityHandle.t()]
  def start_batch(client, queue, type, count, args, opts \\ []) do
    start_opts =
      Keyword.merge(
        [
          task_queue: queue,
          start_to_close_timeout: 30_000,
          retry_policy: [initial_interval: 100]
        ],
        Keyword.drop(opts, [:in_flight])
      )

    1..count
    |> Task.async_stream(
      fn index ->
        args = if is_function(args, 1), do: args.(index), else: args
        {:ok, handle} = retrying(fn -> Client.start_activity(client, type, args, start_opts) end)
        handle
      end,
      max_concurrency: Keyword.get(opts, :in_flight, 50),
      timeout: :infinity
    )
    |> Enum.map(fn {:ok, handle} -> handle end)
  end

  @doc """
  Waits for every handle's result, at most `in_flight` at once; returns the results in order.
  `on_result` is called with each result as it arrives (a scenario counting how many ended).
  """
  @spec await_all(Client.t(), [Client.ActivityHandle.t()], pos_integer(), (term() -> any())) ::
          [term()]
  def await_all(client, handles, in_flight \\ 200, on_result \\ fn _ -> :ok end) do
    handles
    |> Task.async_stream(
      fn handle ->
        result = retrying(fn -> Client.result(client, handle) end)
        on_result.(result)
        result
      end,
      max_concurrency: in_flight,
      timeout: :infinity
    )
    |> Enum.map(fn {:ok, result} -> result end)
  end

  @doc """
  How many of a worker's `slots` can be busy at once: starts `slots` `faults.work` activities
  on `queue` that each wait, up to 30 s, until all of them run together (counted inside them,
  in `Hourglass.Faults.Activities.Work`'s table, which must exist and where nothing may be
  running), and returns the most counted running at once: `slots` unless a slot leaked.
  """
  @spec slots_usable(Client.t(), String.t(), pos_integer()) :: non_neg_integer()
  def slots_usable(client, queue, slots) do
    table = Hourglass.Faults.Activities.Work.table()
    :ets.insert(table, [{:in_flight, 0}, {:max, 0}])
    barrier = %{"until_running" => slots, "at_most" => 30_000}

    client
    |> start_batch(queue, "faults.work", slots, [barrier], in_flight: slots)
    |> then(&await_all(client, &1, slots))

    :ets.lookup_element(table, :max, 2)
  end

  # A call that meets an unavailable server (restarting, say) is tried again, as a client
  # application would.
  defp retrying(fun, tries \\ 60) do
    case fun.() do
      {:error, {code, _message}} when code in [:unavailable, :rpc_error] and tries > 0 ->
        Process.sleep(500)
        retrying(fun, tries - 1)

      other ->
        other
    end
  end

  @doc "Polls `fun` every 50 ms until it returns true; false after `timeout` ms."
  @spec wait_until((() -> boolean()), pos_integer()) :: boolean()
  def wait_until(fun, timeout \\ 30_000) do
    deadline = System.monotonic_time(:millisecond) + timeout
    poll(fun, deadline)
  end

  defp poll(fun, deadline) do
    cond do
      fun.() ->
        true

      System.monotonic_time(:millisecond) > deadline ->
        false

      true ->
        Process.sleep(50)
        poll(fun, deadline)
    end
  end

  @doc "Counts results by outcome: completed, failed, cancelled, other."
  @spec tally([term()]) :: map()
  def tally(results) do
    Enum.reduce(results, %{completed: 0, failed: 0, cancelled: 0, other: 0}, fn
      {:ok, _}, acc -> Map.update!(acc, :completed, &(&1 + 1))
      {:error, {:failed, _}}, acc -> Map.update!(acc, :failed, &(&1 + 1))
      {:error, {:cancelled, _}}, acc -> Map.update!(acc, :cancelled, &(&1 + 1))
      _, acc -> Map.update!(acc, :other, &(&1 + 1))
    end)
  end
end
