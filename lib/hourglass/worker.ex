defmodule Hourglass.Worker do
  @moduledoc """
  Polls one Temporal task queue and runs its activities and workflows.

      children = [
        {Hourglass.Worker,
         task_queue: "orders",
         activities: [MyApp.Greet],
         native_activities: ["hourglass.sha256"],
         address: "localhost:7233",
         namespace: "default",
         max_concurrent_activities: 100,
         graceful_shutdown_timeout: 10_000}
      ]

      Supervisor.start_link(children, strategy: :one_for_one)

  The worker runs Temporal's Core SDK on the NIF's tokio runtime. Core's poll loop sends each
  task to this process as a message; each Start becomes an executor under
  `Hourglass.ActivityExecutor.DynamicSupervisor` (Elixir activities run there, native ones on
  tokio), and each Cancel reaches the running executor. Executors are not children of the
  worker: if the worker dies they keep running, and their completions go through
  `Hourglass.BridgeHolder`.

  One worker per task queue name in a VM: the activities, and the route of completions, are
  kept by task queue name, so a second worker for a name that a live worker serves is refused
  with `{:error, {:task_queue_in_use, task_queue, pid}}` (and the first serves on). To serve
  more attempts at once, raise `:max_concurrent_activities`; to add capacity, start a worker on
  another node.

  ## Options

    * `:task_queue` (required) - the task queue to poll.
    * `:activities` - modules that `use Hourglass.Activity`.
    * `:native_activities` - native activity types (`Hourglass.Native.activity_types/0`).
    * `:workflows` - modules that `use Hourglass.Workflow`. With any, the same Core worker
      polls for workflow tasks too; each cached run is a process under
      `Hourglass.WorkflowExecutor.DynamicSupervisor` (see `Hourglass.Workflow`).
    * `:max_cached_workflows` - runs kept in Core's sticky cache (default 1_000); an evicted
      run is replayed from its history when it next has work.
    * `:max_concurrent_workflow_tasks` - workflow tasks handled at once (default 100; never
      more than a nonzero `:max_cached_workflows`, or 2 for a cache of 1).
    * `:deadlock_timeout` - milliseconds a run may take over one activation before it is
      taken for blocked: its task fails and the run is replayed (default 2_000, as in the
      Python SDK); `:infinity` while stepping through workflow code in a debugger.
    * `:workflow_failure_exception_types` - exception modules that fail a workflow rather
      than its task, for every workflow of the worker (default `[]`; see "What `run`
      returns" in `Hourglass.Workflow`). `Hourglass.Workflow.NondeterminismError` among them
      fails a workflow whose code no longer replays its history.
    * `:address` - `"host:port"` of the Temporal frontend (default `"localhost:7233"`).
    * `:namespace` - default `"default"`.
    * `:identity` - how the worker names itself to the server (default `"os_pid@host"`).
    * `:max_concurrent_activities` - attempts running at once, never exceeded (default 100).
    * `:graceful_shutdown_timeout` - milliseconds in-flight activities get to finish when the
      worker stops, before they are cancelled (default 10_000).
    * `:cancel_grace_period` - milliseconds a cancelled Elixir activity gets to stop before
      its process is killed (default 5_000).
    * `:max_activities_per_second` - rate limit for this worker (default none).
    * `:max_task_queue_activities_per_second` - rate limit for the whole task queue, enforced by
      the server across workers (default none).
    * `:tls` - `true` for TLS with system roots, or `[server_ca_cert: pem, server_name: name,
      client_cert: pem, client_private_key: pem]` (default off).
    * `:api_key` - sent as a bearer token (combine with `:tls` for Temporal Cloud).
    * `:metrics_address` - `"ip:port"` where Core's Prometheus metrics are served.
    * `:connect_timeout` - milliseconds (default 10_000).
    * `:grpc_compression` - `:gzip` (default, as in Core and the other SDKs: requests are
      compressed, compressed responses accepted) or `:none`, which saves the CPU of
      compressing every request where the network is not the bottleneck (loopback, the same
      datacenter).
    * `:payload_codec` - an `Hourglass.PayloadCodec` (a module or `{module, options}`), e.g.
      encryption: inputs and heartbeat details are decoded with it, results and details
      encoded (default none).
    * `:payload_size_limit` - the most bytes of encoded payloads one result, failure or set of
      heartbeat details may have: the server's `limit.blobSize.error` (default 2 MiB, the
      server's default; set both together). A result over it fails the attempt, not retryably,
      with an `Hourglass.ApplicationError` of type `"PayloadSizeError"` that gives the sizes; a
      failure over it loses its details (then its stack trace, then most of its message) and
      says so; heartbeat details over it are not sent, and an error is logged.
    * `:require_connection` - `true` to fail the start when the server cannot be reached
      (default `false`: keep trying; see below).
    * `:name` - a name to register the worker under.

  `start_link/1` returns `{:error, {:invalid_option, key, message}}` for a bad option. When the
  server cannot be reached or refuses the namespace, the worker starts anyway and tries again
  in the background (after 1 s, doubling up to every 30 s, with a warning logged each time), so
  that a server down at boot does not take the host application down; it polls once connected
  (`info/1` says whether it is). With `require_connection: true`, `start_link/1` returns
  `{:error, {:connect_failed, message}}` instead.

  ## Cancellation and shutdown

  When the server cancels an attempt (a workflow cancel, a heartbeat timeout, an activity
  timeout), a native body is aborted, and an Elixir activity sees
  `Hourglass.Activity.cancelled?/0` turn true and `heartbeat/0,1` raise; if it has not stopped
  after `:cancel_grace_period`, it is killed and reported cancelled.

  Stopping the worker (through its supervisor, `Application.stop/1`, or SIGTERM to the VM) stops
  polling, lets in-flight activities finish for up to `:graceful_shutdown_timeout` and delivers
  their results, cancels the rest (reported as retryable failures, so they run again elsewhere)
  and then shuts Core's worker down.
  """
  use GenServer
  require Logger

  alias Hourglass.{
    ActivityExecutor,
    ActivityRegistry,
    ActivityRunner,
    ApplicationError,
    BridgeHolder,
    Native
  }

  alias Hourglass.Worker.{Options, WorkflowRuns}

  # After a BridgeHolder restart, how long an ended attempt's completion may still take to be
  # acknowledged by Core before the worker deems it lost.
  @acknowledgement_wait 10_000

  @doc false
  def child_spec(opts) do
    grace =
      Keyword.get(opts, :graceful_shutdown_timeout, 10_000) +
        Keyword.get(opts, :cancel_grace_period, 5_000)

    %{
      id: {__MODULE__, Keyword.get(opts, :task_queue)},
      # The supervisor keeps the arguments and prints them in its reports: secrets wrapped.
      start: {__MODULE__, :start_link, [Options.conceal(opts)]},
      # Time for the graceful shutdown, the cancellation grace and Core's own shutdown.
      shutdown: grace + 10_000
    }
  end

  @doc "Starts a worker; see the module documentation for the options."
  @spec start_link(keyword()) :: GenServer.on_start()
  def start_link(opts), do: start_with(:start_link, opts)

  @doc "Starts a worker outside a supervision tree, unlinked; the options of `start_link/1`."
  @spec start(keyword()) :: GenServer.on_start()
  def start(opts), do: start_with(:start, opts)

  defp start_with(start, opts) do
    with {:ok, options} <- Options.validate(opts) do
      name = if options.name, do: [name: options.name], else: []
      # init/1 waits for the connection, so the start may take the connect timeout and more.
      apply(GenServer, start, [
        __MODULE__,
        options,
        name ++ [timeout: options.connect_timeout + 30_000]
      ])
    end
  end

  @doc """
  Stops the worker gracefully: see "Cancellation and shutdown" in the module documentation.
  """
  @spec stop(GenServer.server()) :: :ok
  def stop(worker), do: GenServer.stop(worker, :normal, :infinity)

  @doc """
  What the worker is doing: its task queue, whether it has connected to the server yet, the
  attempts it runs (`running`), the attempts whose completion Core has not acknowledged yet
  (`unacknowledged`: running, or completed and on their way; each holds one of
  `:max_concurrent_activities`), the workflow runs it holds a process for (`cached_runs`), and
  where its Prometheus metrics are served (nil when they are not).
  """
  @spec info(GenServer.server()) :: %{
          task_queue: String.t(),
          connected: boolean(),
          running: non_neg_integer(),
          unacknowledged: non_neg_integer(),
          cached_runs: non_neg_integer(),
          metrics_address: String.t() | nil
        }
  def info(worker), do: GenServer.call(worker, :info)

  @impl true
  def init(options) do
    Process.flag(:trap_exit, true)

    with :ok <- claim(options.task_queue),
         :ok <-
           ActivityRegistry.register(options.task_queue,
             activities: options.activities,
             native_activities: options.native_activities
           ),
         {:ok, connected} <- first_connection(options) do
      state =
        %{
          options: options,
          task_queue: options.task_queue,
          # nil until the worker has connected (see `first_connection/1`)
          core: nil,
          payload_codec: options.payload_codec,
          metrics_address: nil,
          # task token => executor pid; monitor ref => task token
          running: %{},
          monitors: %{},
          # task tokens cancelled by the server, with why
          cancelled: %{},
          # task tokens whose completion Core has not acknowledged yet, and when the executors of
          # those that ended ended (monotonic ms)
          unacknowledged: %{},
          ended: %{},
          # the next look at the NIF's pending completions (see sweep_acknowledged/1)
          sweep_timer: nil,
          # unacknowledged tokens whose completion may have been lost in a BridgeHolder restart
          suspects: %{},
          bridge_holder: nil,
          # workflow type => module; and the runs' fields (WorkflowRuns.fields/1)
          workflows: Map.new(options.workflows, &{&1.__workflow_name__(), &1})
        }
        |> Map.merge(WorkflowRuns.fields(options.deadlock_timeout))

      case connected do
        {core, metrics_address} -> {:ok, connected(state, core, metrics_address)}
        :retrying -> {:ok, state}
      end
    else
      # The live worker's registrations stay as they are.
      {:error, {:task_queue_in_use, _queue, _pid} = reason} ->
        {:stop, reason}

      {:error, reason} ->
        ActivityRegistry.unregister(options.task_queue)
        {:stop, reason}
    end
  end

  # A server that cannot be reached at start is tried again in the background (the host
  # application boots; `connect_retry/3` logs each failure), unless the worker must connect at
  # start (`:require_connection`).
  defp first_connection(options) do
    case {start_core(options), options.require_connection} do
      {{:ok, core, metrics_address}, _required} ->
        {:ok, {core, metrics_address}}

      {{:error, {:connect_failed, message}}, false} ->
        connect_retry(options.task_queue, message, 0)
        {:ok, :retrying}

      {{:error, reason}, _required} ->
        {:error, reason}
    end
  end

  @first_retry 1_000
  @longest_retry 30_000

  defp connect_retry(task_queue, message, attempt) do
    delay = min(@first_retry * Integer.pow(2, min(attempt, 10)), @longest_retry)

    Logger.warning(
      "Hourglass.Worker #{inspect(task_queue)}: cannot connect (#{message}); " <>
        "trying again in #{delay} ms"
    )

    Process.send_after(self(), {:connect, attempt + 1}, delay)
  end

  defp connected(state, core, metrics_address) do
    :ok = Native.worker_poll(core, self())
    register(%{state | core: core, metrics_address: metrics_address})
  end

  @doc false
  # Test hooks (BridgeHolder.register/2 with a sink, ActivityRegistry.register/2) call this so
  # that they never take over the task queue of a live worker: only the worker itself may
  # register for the queue it claimed.
  @spec check_queue_free(String.t(), pid()) ::
          :ok | {:error, {:task_queue_in_use, String.t(), pid()}}
  def check_queue_free(task_queue, pid) do
    case Registry.lookup(Hourglass.Worker.Registry, task_queue) do
      [{worker, _}] when worker != pid -> {:error, {:task_queue_in_use, task_queue, worker}}
      _ -> :ok
    end
  end

  # The claim ends when this process exits, after `terminate/2` has unregistered the task queue,
  # so that a successor never finds its fresh registrations removed by this worker's cleanup.
  # A claim held by a worker that has just died (a supervisor restarting it) is released as
  # soon as the Registry hears of the death: wait for that, briefly, instead of refusing.
  defp claim(task_queue, tries \\ 50) do
    case Registry.register(Hourglass.Worker.Registry, task_queue, nil) do
      {:ok, _owner} ->
        :ok

      {:error, {:already_registered, pid}} ->
        if tries > 0 and not Process.alive?(pid) do
          Process.sleep(20)
          claim(task_queue, tries - 1)
        else
          {:error, {:task_queue_in_use, task_queue, pid}}
        end
    end
  end

  # Nondeterminism is Core's to detect: it fails the workflow rather than the task where the
  # worker's or a workflow's failure exception types name it.
  defp nondeterminism_settings(options) do
    fails? = &(Hourglass.Workflow.NondeterminismError in &1)

    %{
      nondeterminism_fails_workflow: fails?.(options.workflow_failure_exception_types),
      nondeterminism_fails_workflow_types:
        for module <- options.workflows,
            fails?.(module.__workflow_failure_exception_types__()) do
          module.__workflow_name__()
        end
    }
  end

  defp start_core(options) do
    settings =
      options
      |> Options.nif_settings([
        :address,
        :identity,
        :namespace,
        :task_queue,
        :max_concurrent_activities,
        :graceful_shutdown_timeout,
        :cancel_grace_period,
        :max_activities_per_second,
        :max_task_queue_activities_per_second,
        :tls,
        :api_key,
        :metrics_address,
        :connect_timeout,
        :grpc_compression,
        # Only whether there is one matters to the NIF: then payloads reach Elixir undecoded.
        :payload_codec,
        :payload_size_limit,
        :max_cached_workflows,
        :max_concurrent_workflow_tasks
      ])
      |> Map.put(:workflows, options.workflows != [])
      |> Map.merge(nondeterminism_settings(options))
      |> Map.put(:build_id, "hourglass-#{Application.spec(:hourglass, :vsn)}")

    ref = make_ref()

    case Native.worker_start(settings, self(), ref) do
      :ok ->
        receive do
          {:"$hourglass_worker_started", ^ref, {:ok, core, metrics_address}} ->
            {:ok, core, metrics_address}

          {:"$hourglass_worker_started", ^ref, {:error, message}} ->
            {:error, {:connect_failed, message}}
        after
          options.connect_timeout + 20_000 ->
            {:error, {:connect_failed, "no answer from Core in time"}}
        end

      {:error, message} ->
        {:error, {:invalid_option, :settings, message}}
    end
  end

  # Registers the task queue with the BridgeHolder and watches it, to register again if it
  # restarts (until then, completions are lost and the server redelivers those attempts).
  # Not before the worker has connected: there is nothing to route to yet.
  defp register(%{core: nil} = state), do: state

  defp register(state) do
    case Process.whereis(BridgeHolder) do
      nil ->
        Process.send_after(self(), :register, 50)
        %{state | bridge_holder: nil}

      pid ->
        :ok =
          BridgeHolder.register(
            state.task_queue,
            {:core, state.core, self(), state.payload_codec}
          )

        %{state | bridge_holder: Process.monitor(pid)}
    end
  end

  @impl true
  def handle_call(:info, _from, state) do
    state = sweep_acknowledged(state)

    {:reply,
     %{
       task_queue: state.task_queue,
       connected: state.core != nil,
       running: map_size(state.running),
       unacknowledged: map_size(state.unacknowledged),
       cached_runs: map_size(state.runs),
       metrics_address: state.metrics_address
     }, state}
  end

  @impl true
  def handle_info({:"$hourglass_activity_start", task}, state),
    do: {:noreply, start_activity(Native.resolve(task), state)}

  def handle_info({:"$hourglass_activity_cancel", token, reason}, state),
    do: {:noreply, cancel_activity(token, reason, state)}

  def handle_info({:kill_after_grace, token, pid}, state),
    do: {:noreply, kill_after_grace(token, pid, state)}

  def handle_info({:DOWN, ref, :process, _pid, reason}, state) when ref == state.bridge_holder do
    Logger.warning(
      "Hourglass.Worker #{inspect(state.task_queue)}: the BridgeHolder went down (#{inspect(reason)}); registering again"
    )

    {:noreply, %{state | bridge_holder: nil} |> register() |> check_after_outage()}
  end

  def handle_info({:DOWN, ref, :process, _pid, reason}, state)
      when is_map_key(state.run_monitors, ref),
      do: {:noreply, WorkflowRuns.run_down(ref, reason, state)}

  def handle_info({:DOWN, ref, :process, _pid, reason}, state),
    do: {:noreply, executor_down(ref, reason, state)}

  def handle_info({:"$hourglass_activation", activation, token}, state),
    do: {:noreply, WorkflowRuns.activation(Native.resolve(activation), token, state)}

  def handle_info({:activation_deadline, run_id, token}, state),
    do: {:noreply, WorkflowRuns.deadline(run_id, token, state)}

  def handle_info(:register, state), do: {:noreply, register(state)}

  def handle_info({:connect, attempt}, %{core: nil} = state) do
    case start_core(state.options) do
      {:ok, core, metrics_address} ->
        Logger.info("Hourglass.Worker #{inspect(state.task_queue)}: connected")
        {:noreply, connected(state, core, metrics_address)}

      {:error, {:connect_failed, message}} ->
        connect_retry(state.task_queue, message, attempt)
        {:noreply, state}

      {:error, reason} ->
        {:stop, reason, state}
    end
  end

  def handle_info(:check_suspects, state), do: {:noreply, check_suspects(state)}

  def handle_info(:sweep_acknowledged, state), do: {:noreply, sweep_timer_fired(state)}

  def handle_info({:"$hourglass_completion_failed", token, message}, state) do
    state = acknowledged([token], state)

    Logger.warning(
      "Hourglass.Worker #{inspect(state.task_queue)}: Core did not accept a completion: #{message}"
    )

    {:noreply, state}
  end

  def handle_info({:"$hourglass_worker_stopped", outcome}, state) do
    {:stop, {:core_worker_stopped, outcome}, %{state | core: nil}}
  end

  def handle_info({:EXIT, _from, reason}, state), do: {:stop, reason, state}
  def handle_info(_message, state), do: {:noreply, state}

  defp acknowledged(tokens, state) do
    %{
      state
      | unacknowledged: Map.drop(state.unacknowledged, tokens),
        ended: Map.drop(state.ended, tokens),
        suspects: Map.drop(state.suspects, tokens)
    }
  end

  defp start_activity(task, state) do
    # With a codec, the input and heartbeat details are still payloads: the executor decodes
    # them (in parallel, not in this process) before the activity runs.
    task = Map.put(task, :payload_codec, state.payload_codec)

    case ActivityExecutor.DynamicSupervisor.start_child(%{
           activity_task: task,
           task_queue: state.task_queue
         }) do
      {:ok, pid} ->
        # No timer of our own for the start-to-close timeout: Core's local heartbeat and
        # start-to-close timers send a Cancel (reason :timed_out) when one is up.
        ref = Process.monitor(pid)

        %{
          state
          | running: Map.put(state.running, task.task_token, pid),
            monitors: Map.put(state.monitors, ref, task.task_token),
            unacknowledged: Map.put(state.unacknowledged, task.task_token, true)
        }

      {:error, reason} ->
        error = %ApplicationError{
          type: "ExecutorStartError",
          message: "cannot start the executor: #{inspect(reason)}"
        }

        BridgeHolder.complete_activity_task(state.task_queue, %{
          task_token: task.task_token,
          result: {:failed, error}
        })

        state
    end
  end

  defp cancel_activity(token, reason, state) do
    case Map.fetch(state.running, token) do
      {:ok, pid} ->
        ActivityRunner.cancel(pid, reason)

        Process.send_after(
          self(),
          {:kill_after_grace, token, pid},
          state.options.cancel_grace_period
        )

        %{state | cancelled: Map.put(state.cancelled, token, reason)}

      # Not running and not waiting for Core's acknowledgement: this worker never got (or
      # never started) the attempt, so nothing else will complete it. Report it cancelled, or
      # it would hold one of Core's slots for good.
      :error ->
        if Map.has_key?(state.unacknowledged, token) do
          # It ended and its completion has not been acknowledged: on its way, or lost. If
          # still unacknowledged a while later, it is reported lost (see check_suspects/1).
          suspect([token], state)
        else
          ship_cancelled(token, reason, state)
          state
        end
    end
  end

  # The executor did not stop after its cancellation: kill it and report it cancelled here.
  defp kill_after_grace(token, pid, state) do
    if Map.get(state.running, token) == pid do
      Process.exit(pid, :kill)
      ship_cancelled(token, Map.get(state.cancelled, token, :cancelled), state)
      %{state | cancelled: Map.put(state.cancelled, token, :reported)}
    else
      state
    end
  end

  defp ship_cancelled(token, reason, state) do
    BridgeHolder.complete_activity_task(state.task_queue, %{
      task_token: token,
      result: {:cancelled, reason}
    })
  end

  defp executor_down(ref, reason, state) do
    case Map.pop(state.monitors, ref) do
      {nil, _} ->
        state

      {token, monitors} ->
        # A runner always ships its completion before it exits normally; an executor that died
        # otherwise (killed from outside, or by a crash linked to it) could not, so report it.
        # (An executor this worker killed after a cancellation was reported cancelled already.)
        # :noproc means the executor had already exited when it was monitored, for a reason
        # no one can know: fast activities do, having shipped their completion like any other,
        # but so does one killed at once. It becomes a suspect: if Core has not acknowledged a
        # completion a while later, it is reported lost (see check_suspects/1).
        # One that dies abnormally after a cancellation was asked for, before it could report
        # it, is reported cancelled.
        case {reason in [:normal, :noproc], Map.get(state.cancelled, token)} do
          {true, _} ->
            :ok

          {false, nil} ->
            BridgeHolder.complete_activity_task(state.task_queue, %{
              task_token: token,
              result: {:failed, ActivityRunner.exit_failure(reason)}
            })

          {false, :reported} ->
            :ok

          {false, cancel_reason} ->
            ship_cancelled(token, cancel_reason, state)
        end

        unacknowledged? = Map.has_key?(state.unacknowledged, token)

        state = %{
          state
          | monitors: monitors,
            running: Map.delete(state.running, token),
            cancelled: Map.delete(state.cancelled, token)
        }

        state = if unacknowledged?, do: note_ended(state, token), else: state

        if reason == :noproc and unacknowledged?, do: suspect([token], state), else: state
    end
  end

  # Completions travel through the BridgeHolder, so when it restarts, those of attempts that
  # end around then may be lost. A lost completion would hold one of Core's activity slots
  # forever and leave the attempt to the server's timeout. So every attempt unacknowledged at
  # the restart is a suspect: once it has ended and Core still has not acknowledged it after a
  # while, it is reported failed (retryable), which frees the slot and lets the server retry
  # at once.
  defp check_after_outage(state), do: suspect(Map.keys(state.unacknowledged), state)

  defp suspect(tokens, state) do
    if map_size(state.suspects) == 0, do: schedule_suspect_check()
    %{state | suspects: Map.merge(state.suspects, Map.new(tokens, &{&1, true}))}
  end

  defp schedule_suspect_check,
    do: Process.send_after(self(), :check_suspects, @acknowledgement_wait)

  # Core's acknowledgements are not sent one by one (a message per attempt would wake this
  # process each time): the NIF keeps the tokens whose completion Core has not answered, and
  # the attempts that ended are looked up there a second after one ends, at every 1,024th
  # waiting, and before anything reads them.
  @sweep_after 1_000
  @sweep_at 1_024

  defp note_ended(state, token) do
    state = %{state | ended: Map.put(state.ended, token, System.monotonic_time(:millisecond))}

    if rem(map_size(state.ended), @sweep_at) == 0,
      do: sweep_acknowledged(state),
      else: schedule_sweep(state)
  end

  defp schedule_sweep(%{sweep_timer: nil} = state) when map_size(state.ended) > 0,
    do: %{state | sweep_timer: Process.send_after(self(), :sweep_acknowledged, @sweep_after)}

  defp schedule_sweep(state), do: state

  defp sweep_timer_fired(state), do: sweep_acknowledged(%{state | sweep_timer: nil})

  defp sweep_acknowledged(state) do
    ended = Map.keys(state.ended)

    pending =
      ended
      |> Enum.chunk_every(@sweep_at)
      |> Enum.flat_map(&Native.worker_completions_pending/1)
      |> MapSet.new()

    ended
    |> Enum.reject(&MapSet.member?(pending, &1))
    |> acknowledged(state)
    |> schedule_sweep()
  end

  defp check_suspects(state) do
    state = sweep_acknowledged(state)
    now = System.monotonic_time(:millisecond)

    lost =
      for {token, _} <- state.suspects,
          Map.has_key?(state.unacknowledged, token),
          ended = state.ended[token],
          ended && now - ended >= @acknowledgement_wait,
          do: token

    Enum.each(lost, &report_lost(&1, state))

    suspects =
      state.suspects
      |> Map.drop(lost)
      |> Map.filter(fn {token, _} -> Map.has_key?(state.unacknowledged, token) end)

    if map_size(suspects) > 0, do: schedule_suspect_check()

    %{
      state
      | suspects: suspects,
        unacknowledged: Map.drop(state.unacknowledged, lost),
        ended: Map.drop(state.ended, lost)
    }
  end

  defp report_lost(token, state) do
    Logger.warning(
      "Hourglass.Worker #{inspect(state.task_queue)}: the completion of an attempt was lost; " <>
        "reporting it failed so that the server retries it"
    )

    error = %ApplicationError{
      type: "CompletionLost",
      message: "the attempt finished but its completion was lost before it reached the server"
    }

    Native.worker_complete(state.core, %{task_token: token, result: {:failed, error}}, self())
  end

  @impl true
  def terminate(_reason, %{core: nil} = state), do: cleanup(state)

  def terminate(_reason, state) do
    # Core stops polling, gives in-flight activities the graceful period, then sends a Cancel
    # (worker_shutdown) for each one left; its shutdown completes when all have completed.
    :ok = Native.worker_initiate_shutdown(state.core)

    deadline =
      System.monotonic_time(:millisecond) + state.options.graceful_shutdown_timeout +
        state.options.cancel_grace_period + 5_000

    state = drain(state, deadline)
    cleanup(state)
  end

  defp drain(state, deadline) do
    timeout = max(deadline - System.monotonic_time(:millisecond), 0)

    receive do
      {:"$hourglass_worker_stopped", _outcome} ->
        state

      {:"$hourglass_activity_start", task} ->
        drain(start_activity(Native.resolve(task), state), deadline)

      {:"$hourglass_activity_cancel", token, reason} ->
        drain(cancel_activity(token, reason, state), deadline)

      {:kill_after_grace, token, pid} ->
        drain(kill_after_grace(token, pid, state), deadline)

      {:DOWN, ref, :process, _pid, reason} when is_map_key(state.run_monitors, ref) ->
        drain(WorkflowRuns.run_down(ref, reason, state), deadline)

      {:DOWN, ref, :process, _pid, reason} when ref != state.bridge_holder ->
        drain(executor_down(ref, reason, state), deadline)

      # Core evicts every cached run as it shuts down, and waits for those answers too.
      {:"$hourglass_activation", activation, token} ->
        drain(WorkflowRuns.activation(Native.resolve(activation), token, state), deadline)

      {:activation_deadline, run_id, token} ->
        drain(WorkflowRuns.deadline(run_id, token, state), deadline)

      # Core's shutdown waits for every attempt it handed out: one whose completion was lost
      # must still be reported lost, or the shutdown waits out its deadline.
      {:"$hourglass_completion_failed", token, _message} ->
        drain(acknowledged([token], state), deadline)

      :check_suspects ->
        drain(check_suspects(state), deadline)

      :sweep_acknowledged ->
        drain(sweep_timer_fired(state), deadline)
    after
      timeout ->
        Logger.error(
          "Hourglass.Worker #{inspect(state.task_queue)}: Core did not shut down in time; #{map_size(state.running)} attempt(s) left to the server's timeouts"
        )

        state
    end
  end

  defp cleanup(state) do
    # Runs Core did not evict in time end with their worker (they would exit on its death too).
    Enum.each(Map.get(state, :runs, %{}), fn {_run_id, pid} -> Process.exit(pid, :shutdown) end)
    BridgeHolder.unregister(state.task_queue)
    ActivityRegistry.unregister(state.task_queue)
    :ok
  catch
    :exit, _ -> :ok
  end
end
