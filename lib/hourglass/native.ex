defmodule Hourglass.Native do
  @moduledoc """
  The Rust side of Hourglass: native activity bodies running on a tokio runtime.

      {:ok, pid} =
        Hourglass.Native.start_child(%{
          activity_task: %{task_token: "t-1", activity_type: "hourglass.sleep", input: [100]},
          task_queue: "orders"
        })

  `start_child/1` starts a child of the shared `Hourglass.ActivityExecutor.DynamicSupervisor`
  that owns a tokio task running the body. The body's completion is sent from the tokio thread
  straight to `Hourglass.BridgeHolder`, and the child exits `:normal` once the body is done. If
  the child dies first (killed, terminated by its supervisor, application stop), the tokio task
  is aborted and sends nothing.

  CPU-heavy bodies (`hourglass.sha256`) run on a separate pool whose threads have a low OS
  priority, so that they never crowd the BEAM schedulers out of the machine's cores.

  ## Runtime configuration

      config :hourglass, :native,
        io_threads: 2,        # async pool (timers, IO, completions); default: cores
        cpu_threads: 2,       # pool for CPU-heavy bodies; default: cores
        cpu_nice: 19,         # OS niceness of the CPU pool's threads, 0..19; default 19
        log_level: :warning   # most verbose Rust log event sent to Logger

  These are read once, when the NIF loads.

  ## Native activities of your own

  An application can write native activities in Rust (the `hourglass` crate's
  `NativeActivity` and `ActivityContext`) and build them, with the built-ins, into a NIF of its
  own, which this module then loads instead of Hourglass's:

      config :hourglass, :native, otp_app: :my_app, crate: "my_activities"

  See the README's guide and `examples/native_activities`.
  """

  alias Hourglass.ActivityExecutor

  @on_load :load_nif

  @typedoc """
  Counters of native tasks since the VM started; `live` is what runs right now,
  `client_calls` the `Hourglass.Client` calls whose work runs on tokio right now,
  `core_workers` the Core workers that exist right now (a worker's lives on after its worker
  process dies, until the attempts it handed out are completed or its shutdown gives up), and
  `conversions` the payload conversions of heavy values running on tokio right now.
  """
  @type stats :: %{
          started: non_neg_integer(),
          live: non_neg_integer(),
          completed: non_neg_integer(),
          failed: non_neg_integer(),
          aborted: non_neg_integer(),
          panicked: non_neg_integer(),
          client_calls: non_neg_integer(),
          core_workers: non_neg_integer(),
          conversions: non_neg_integer(),
          log_dropped: non_neg_integer(),
          rust_heap_bytes: integer()
        }

  @doc false
  def load_nif do
    path = nif_path()

    case :erlang.load_nif(String.to_charlist(path), load_info()) do
      :ok ->
        :ok

      {:error, {reason, text}} ->
        # Keep the module loaded so that callers get a clear error instead of an undefined
        # function; the application refuses to start and names the file and the reason.
        :persistent_term.put({__MODULE__, :load_error}, {path, reason, List.to_string(text)})
        :ok
    end
  end

  @doc """
  The path of the NIF library this module loads (without its `.so`): Hourglass's own, or the
  one an application builds with native activities of its own, named in its config:

      config :hourglass, :native, otp_app: :my_app, crate: "my_activities"
  """
  @spec nif_path() :: Path.t()
  def nif_path do
    native = Application.get_env(:hourglass, :native, [])
    otp_app = Keyword.get(native, :otp_app, :hourglass)
    crate = Keyword.get(native, :crate, "hourglass_nif")

    priv =
      case :code.priv_dir(otp_app) do
        {:error, :bad_name} -> "(#{inspect(otp_app)} is not a known application)/priv"
        dir -> to_string(dir)
      end

    Path.join([priv, "native", "lib#{crate}"])
  end

  @doc """
  `:ok` when the NIF is loaded, otherwise `{:error, {:nif_not_loaded, path, reason}}` naming the
  file and why it could not be loaded.
  """
  @spec loaded() :: :ok | {:error, {:nif_not_loaded, Path.t(), String.t()}}
  def loaded do
    case :persistent_term.get({__MODULE__, :load_error}, nil) do
      nil -> :ok
      {path, reason, text} -> {:error, {:nif_not_loaded, path <> ".so", "#{reason}: #{text}"}}
    end
  end

  @doc false
  # The module may have been loaded (and its NIF load attempted) while it was being compiled,
  # before an application's own NIF was built or its priv/ was on the code path: a failed load
  # is tried once more, by reloading the module, when the application starts.
  @spec ensure_loaded() :: :ok | {:error, {:nif_not_loaded, Path.t(), String.t()}}
  def ensure_loaded do
    with {:error, _} <- loaded() do
      :persistent_term.erase({__MODULE__, :load_error})
      # Loading the module again runs its @on_load; the failed version becomes old code.
      :code.purge(__MODULE__)
      {:module, __MODULE__} = :code.load_file(__MODULE__)
      loaded()
    end
  end

  defp load_info do
    :hourglass
    |> Application.get_env(:native, [])
    |> Map.new()
    |> Map.take([:io_threads, :cpu_threads, :cpu_nice, :log_level])
  end

  @doc """
  Starts a native activity under the shared executor supervisor.

  Takes the same arguments as `Hourglass.ActivityExecutor.DynamicSupervisor.start_child/1`.
  Returns `{:error, reason}` without starting anything when the arguments are malformed
  (`{:invalid_child_args, term}`, `{:invalid_activity_task, message}`, `:invalid_task_queue`)
  or the activity type is not native (`{:unknown_activity_type, type}`).
  """
  @spec start_child(ActivityExecutor.DynamicSupervisor.child_args()) ::
          DynamicSupervisor.on_start_child()
  def start_child(%{activity_task: task, task_queue: task_queue}) do
    # Checked and decoded here, in the caller, so that the supervisor (one process for the whole
    # VM) starts the owner without waiting for it; the owner then cannot fail to spawn the body.
    with {:ok, prepared} <- native_task_prepare(task, task_queue) do
      spec = %{
        id: Hourglass.Native.TaskOwner,
        start: {Hourglass.Native.TaskOwner, :start_link, [prepared, task, task_queue]},
        restart: :temporary
      }

      DynamicSupervisor.start_child(ActivityExecutor.DynamicSupervisor, spec)
    end
  end

  def start_child(other), do: {:error, {:invalid_child_args, other}}

  @doc "The native activity types this library can run."
  @spec activity_types() :: [String.t()]
  def activity_types, do: native_activity_types()

  @doc "Counters of native tasks; see `t:stats/0`."
  @spec stats() :: stats()
  def stats, do: native_stats()

  @doc """
  Sets the most verbose Rust log level delivered to Logger (`:error`, `:warning`, `:info`,
  `:debug`, `:trace` or `:none`).
  """
  @spec set_log_level(atom()) :: :ok | {:error, :log_level}
  def set_log_level(level) when is_atom(level), do: native_set_log_level(level)

  @doc """
  The term a message part from a tokio thread stands for. A part that holds a map of more than
  32 keys arrives as `{:"$hourglass_deferred", resource}` and is built here, in the receiving
  process, on a dirty scheduler: OTP releases from 23.3.4.15 to 27.2 crash the VM when a thread
  that is not a scheduler makes a map of more than 128 keys (erlang/otp#8208). Every other term
  is returned as it is.
  """
  @spec resolve(term()) :: term()
  def resolve({:"$hourglass_deferred", deferred}), do: deferred_term_build(deferred)
  def resolve(term), do: term

  # NIF stubs, replaced when the library loads.

  @doc false
  def deferred_term_build(_deferred), do: not_loaded()

  @doc false
  def native_task_prepare(_task, _task_queue), do: not_loaded()
  @doc false
  def native_task_spawn_prepared(_prepared), do: not_loaded()
  @doc false
  def native_task_spawn(_task, _task_queue), do: not_loaded()
  @doc false
  def native_task_cancel(_resource), do: not_loaded()
  @doc false
  def worker_start(_settings, _reply_to, _ref), do: not_loaded()
  @doc false
  def payloads_from_values(_values), do: not_loaded()
  @doc false
  def payloads_to_values(_payloads), do: not_loaded()
  @doc false
  def payloads_from_values_etf(_values, _ref), do: not_loaded()
  @doc false
  def payloads_to_values_etf(_payloads, _ref), do: not_loaded()
  @doc false
  def payload_to_protobuf(_payload), do: not_loaded()
  @doc false
  def payload_from_protobuf(_bytes), do: not_loaded()
  @doc false
  def client_respond_async(_client, _target, _outcome, _reply_to, _ref), do: not_loaded()
  @doc false
  def client_heartbeat_async(_client, _target, _details, _reply_to, _ref), do: not_loaded()
  @doc false
  def worker_poll(_worker, _worker_pid), do: not_loaded()
  @doc false
  def worker_complete(_worker, _completion, _reply_to), do: not_loaded()
  @doc false
  def worker_completions_pending(_tokens), do: not_loaded()
  @doc false
  def worker_heartbeat(_worker, _task_token, _details), do: not_loaded()
  @doc false
  def client_start_workflow(_client, _request, _reply_to, _ref), do: not_loaded()
  @doc false
  def client_workflow_result(_client, _request, _reply_to, _ref), do: not_loaded()
  @doc false
  def client_signal_workflow(_client, _request, _reply_to, _ref), do: not_loaded()
  @doc false
  def client_query_workflow(_client, _request, _reply_to, _ref), do: not_loaded()
  @doc false
  def client_update_workflow(_client, _request, _reply_to, _ref), do: not_loaded()
  @doc false
  def client_fetch_history(_client, _request, _reply_to, _ref), do: not_loaded()
  @doc false
  def replayer_start(_histories, _raw), do: not_loaded()
  @doc false
  def replayer_poll(_worker, _driver), do: not_loaded()
  @doc false
  def history_from_json(_json), do: not_loaded()
  @doc false
  def client_cancel_workflow(_client, _request, _reply_to, _ref), do: not_loaded()
  @doc false
  def client_describe_workflow(_client, _request, _reply_to, _ref), do: not_loaded()
  @doc false
  def client_terminate_workflow(_client, _request, _reply_to, _ref), do: not_loaded()
  @doc false
  def worker_complete_activation(_worker, _run_id, _token, _completion), do: not_loaded()
  @doc false
  def worker_initiate_shutdown(_worker), do: not_loaded()
  @doc false
  def client_connect(_settings, _reply_to, _ref), do: not_loaded()
  @doc false
  def client_start_activity(_client, _request, _reply_to, _ref), do: not_loaded()
  @doc false
  def client_activity_result(_client, _activity_id, _run_id, _reply_to, _ref), do: not_loaded()
  @doc false
  def client_cancel_activity(_client, _request, _reply_to, _ref), do: not_loaded()

  @doc false
  def client_describe_activity(_client, _activity_id, _run_id, _reply_to, _ref), do: not_loaded()
  @doc false
  def client_abandon(_pending), do: not_loaded()
  # The scheduler benchmark's baselines: in the NIF of MIX_ENV=bench only (Cargo feature
  # bench-baselines); elsewhere they raise as not loaded.
  @doc false
  def bench_sha256_on_scheduler(_data, _rounds), do: not_loaded()
  @doc false
  def bench_sha256_dirty_cpu(_data, _rounds), do: not_loaded()
  @doc false
  def bench_payloads_from_values_on_scheduler(_values), do: not_loaded()
  @doc false
  def bench_payloads_to_values_on_scheduler(_payloads), do: not_loaded()
  @doc false
  def bench_payloads_from_values_dirty_cpu(_values), do: not_loaded()
  @doc false
  def bench_payloads_to_values_dirty_cpu(_payloads), do: not_loaded()
  @doc false
  def native_activity_types, do: not_loaded()
  @doc false
  def native_stats, do: not_loaded()
  @doc false
  def native_set_log_receiver(_pid), do: not_loaded()
  @doc false
  def native_log_handled, do: not_loaded()
  @doc false
  def native_log_in_mailbox, do: not_loaded()
  @doc false
  def native_set_log_level(_level), do: not_loaded()

  defp not_loaded do
    case loaded() do
      {:error, reason} -> :erlang.nif_error(reason)
      :ok -> :erlang.nif_error(:nif_not_loaded)
    end
  end
end
