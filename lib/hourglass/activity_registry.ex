defmodule Hourglass.ActivityRegistry do
  @moduledoc """
  Which activities each task queue serves, found by activity type.

  The worker fills it from its `:activities` and `:native_activities` options; tests may
  register directly:

      :ok = Hourglass.ActivityRegistry.register("orders", activities: [MyApp.Greet],
                                                           native_activities: ["hourglass.sha256"])

  Lookups read a public ETS table, so executors never wait on this process. The table lives
  with this process, apart from `Hourglass.BridgeHolder`, so a BridgeHolder restart does not
  forget which activities exist.
  """
  use GenServer

  @table __MODULE__

  @type entry :: {:elixir, module()} | :native

  @doc false
  def start_link(opts \\ []), do: GenServer.start_link(__MODULE__, opts, name: __MODULE__)

  @doc """
  Registers activities for `task_queue`, replacing what was registered there before.

  Options: `:activities` (modules that `use Hourglass.Activity`) and `:native_activities`
  (names from `Hourglass.Native.activity_types/0`). Returns `{:error, reason}` and changes
  nothing when a module is not an activity, a native type is unknown or two activities share a
  name, and `{:error, {:task_queue_in_use, task_queue, worker_pid}}` when a live
  `Hourglass.Worker` serves `task_queue` and the caller is not that worker.
  """
  @spec register(String.t(), keyword()) :: :ok | {:error, term()}
  def register(task_queue, opts) do
    with :ok <- check_task_queue(task_queue),
         :ok <- Hourglass.Worker.check_queue_free(task_queue, self()),
         {:ok, entries} <- entries(opts) do
      GenServer.call(__MODULE__, {:register, task_queue, entries})
    end
  end

  @doc "Forgets every activity of `task_queue`."
  @spec unregister(String.t()) :: :ok
  def unregister(task_queue), do: GenServer.call(__MODULE__, {:unregister, task_queue})

  @doc "The activity registered as `activity_type` on `task_queue`."
  @spec lookup(String.t(), String.t()) :: {:ok, entry()} | :error
  def lookup(task_queue, activity_type) do
    case :ets.lookup(@table, {task_queue, activity_type}) do
      [{_key, entry}] -> {:ok, entry}
      [] -> :error
    end
  end

  @doc "The activity types registered on `task_queue`, sorted."
  @spec activity_types(String.t()) :: [String.t()]
  def activity_types(task_queue) do
    @table
    |> :ets.match({{task_queue, :"$1"}, :_})
    |> List.flatten()
    |> Enum.sort()
  end

  defp check_task_queue(task_queue) do
    if is_binary(task_queue) and task_queue != "" and String.valid?(task_queue),
      do: :ok,
      else: {:error, {:invalid_task_queue, task_queue}}
  end

  defp entries(opts) when is_list(opts) do
    with {:ok, modules} <- list_option(opts, :activities),
         {:ok, natives} <- list_option(opts, :native_activities),
         {:ok, elixir} <- elixir_entries(modules),
         {:ok, native} <- native_entries(natives) do
      all = elixir ++ native
      names = Enum.map(all, &elem(&1, 0))

      case names -- Enum.uniq(names) do
        [] -> {:ok, all}
        duplicates -> {:error, {:duplicate_activity_types, Enum.uniq(duplicates)}}
      end
    end
  end

  defp entries(other), do: {:error, {:invalid_options, other}}

  defp list_option(opts, key) do
    case Keyword.get(opts, key, []) do
      list when is_list(list) -> {:ok, list}
      other -> {:error, {:invalid_option, key, other}}
    end
  end

  defp elixir_entries(modules) do
    Enum.reduce_while(modules, {:ok, []}, fn module, {:ok, acc} ->
      case is_atom(module) && Hourglass.Activity.name(module) do
        name when is_binary(name) -> {:cont, {:ok, [{name, {:elixir, module}} | acc]}}
        _ -> {:halt, {:error, {:not_an_activity, module}}}
      end
    end)
  end

  defp native_entries(names) do
    known = Hourglass.Native.activity_types()

    case Enum.reject(names, &(&1 in known)) do
      [] -> {:ok, Enum.map(names, &{&1, :native})}
      unknown -> {:error, {:unknown_native_activities, unknown}}
    end
  end

  @impl true
  def init(_opts) do
    :ets.new(@table, [:named_table, :protected, :set, read_concurrency: true])
    {:ok, nil}
  end

  @impl true
  def handle_call({:register, task_queue, entries}, _from, state) do
    :ets.match_delete(@table, {{task_queue, :_}, :_})
    :ets.insert(@table, Enum.map(entries, fn {name, entry} -> {{task_queue, name}, entry} end))
    {:reply, :ok, state}
  end

  def handle_call({:unregister, task_queue}, _from, state) do
    :ets.match_delete(@table, {{task_queue, :_}, :_})
    {:reply, :ok, state}
  end
end
