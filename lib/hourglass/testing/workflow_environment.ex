defmodule Hourglass.Testing.WorkflowEnvironment do
  @moduledoc """
  Runs workflows in ExUnit tests against a real Temporal dev server, with the activities they
  call stood in for by functions, and replays every workflow a test ran, so that each test also
  proves its workflows deterministic.

      # test/test_helper.exs: one dev server for the whole run
      {:ok, _} = Hourglass.Testing.WorkflowEnvironment.start_link(name: MyApp.WorkflowEnv)
      ExUnit.start()

      test "an approved order is charged" do
        env = MyApp.WorkflowEnv

        worker =
          WorkflowEnvironment.start_worker(env,
            workflows: [MyApp.Approval],
            mock_activities: %{"charge" => fn order -> {:ok, "receipt for " <> order} end}
          )

        {:ok, run} = WorkflowEnvironment.start_workflow(env, worker, MyApp.Approval, ["order-1"])
        :ok = Hourglass.Client.signal_workflow(WorkflowEnvironment.client(env), run, "approve", ["ada"])

        assert {:ok, %{"receipt" => "receipt for order-1"}} =
                 Hourglass.Client.workflow_result(WorkflowEnvironment.client(env), run)

        assert :ok = WorkflowEnvironment.replay_all(env, worker)
      end

  Each `start_worker/2` is a real `Hourglass.Worker` on a task queue of its own (so tests run
  concurrently), stopped when the test process exits. A mock activity is a function of the
  activity's arguments (one per payload) registered under the activity's type, in place of the
  activity a real deployment runs on another worker; it returns `{:ok, value}` or
  `{:error, reason}` as an activity does (another value is taken as `{:ok, value}`), and runs
  as activities run: in a supervised process, with retries and `Hourglass.Activity.info/0`.

  A worker started with a `:payload_codec` keeps it: `start_workflow/5` and
  `execute_workflow/5` encode arguments and decode results with it, `replay_all/2` decodes
  the histories with it, as the worker did, and the worker's `:client` is connected with it
  (signal, query and await its workflows with that one).
  """
  use GenServer

  alias Hourglass.{Client, DevServer, PayloadCodec, Replayer, Worker}

  @typedoc "An environment: its pid or registered name."
  @type t :: GenServer.server()

  @typedoc """
  A worker started by `start_worker/2`: its workflow modules and payload codec (its options
  wrapped in `Hourglass.Secret`), as `replay_all/2` needs them, and a client connected to the
  environment's server with that codec (the environment's own client when it has none).
  """
  @type worker :: %{
          pid: pid(),
          task_queue: String.t(),
          workflows: [module()],
          payload_codec: {module(), term()} | nil,
          client: Client.t()
        }

  @doc """
  Starts an environment. Options: `:address` (an existing server; default: a dev server
  started for the environment, stopped with it), `:dev_server` (options for
  `Hourglass.DevServer.start_link/1`), `:name`.
  """
  @spec start_link(keyword()) :: GenServer.on_start()
  def start_link(opts \\ []) do
    {name, opts} = Keyword.pop(opts, :name)
    GenServer.start_link(__MODULE__, opts, if(name, do: [name: name], else: []))
  end

  @doc "A client connected to the environment's server."
  @spec client(t()) :: Client.t()
  def client(env), do: GenServer.call(env, :client)

  @doc "The environment's server address."
  @spec address(t()) :: String.t()
  def address(env), do: GenServer.call(env, :address)

  @doc """
  Starts a worker on a task queue of its own, owned by the calling process (it stops when that
  process exits). Options: those of `Hourglass.Worker` but `:task_queue` and `:address`, and
  `:mock_activities`, a map of activity types to functions. The worker's `:payload_codec` is
  kept for `start_workflow/5`, `execute_workflow/5` and `replay_all/2`, and the worker's
  `:client` has it.
  """
  @spec start_worker(t(), keyword()) :: worker()
  def start_worker(env, opts) do
    {mocks, opts} = Keyword.pop(opts, :mock_activities, %{})
    task_queue = "test-#{System.unique_integer([:positive])}"
    activities = Keyword.get(opts, :activities, []) ++ Enum.map(mocks, &mock_module/1)

    # The codec's options are its keys: kept wrapped, so that printing the worker hides them.
    opts =
      opts
      |> Worker.Options.conceal()
      |> Keyword.merge(
        task_queue: task_queue,
        address: address(env),
        activities: activities,
        graceful_shutdown_timeout: Keyword.get(opts, :graceful_shutdown_timeout, 1_000)
      )

    # Linked to the caller: a test's worker ends with the test.
    case Worker.start_link(opts) do
      {:ok, pid} ->
        # The worker accepted the codec, so it is a valid one.
        {:ok, codec} = PayloadCodec.validate(Keyword.get(opts, :payload_codec))

        %{
          pid: pid,
          task_queue: task_queue,
          workflows: Keyword.get(opts, :workflows, []),
          payload_codec: codec,
          client: codec_client(env, codec)
        }

      {:error, reason} ->
        raise ArgumentError, "cannot start the test's worker: #{inspect(reason)}"
    end
  end

  @doc """
  Starts a workflow (a module, or a workflow type) on the worker's task queue; options as for
  `Hourglass.Client.start_workflow/4` (`:id` defaults to a unique one). Arguments are encoded
  with the worker's payload codec, if it has one. The environment remembers the workflow for
  `replay_all/2`.
  """
  @spec start_workflow(t(), worker(), module() | String.t(), list(), keyword()) ::
          {:ok, Client.WorkflowHandle.t()} | {:error, term()}
  def start_workflow(env, worker, workflow, args, opts \\ []) do
    type = if is_atom(workflow), do: workflow.__workflow_name__(), else: workflow
    opts = Keyword.merge([id: "#{type}-#{System.unique_integer([:positive])}"], opts)

    with {:ok, handle} <-
           Client.start_workflow(
             worker.client,
             type,
             args,
             [task_queue: worker.task_queue] ++ opts
           ) do
      GenServer.cast(env, {:started, worker.task_queue, handle.workflow_id})
      {:ok, handle}
    end
  end

  @doc """
  Starts a workflow and waits for its result (see `start_workflow/5`), decoded with the
  worker's payload codec, if it has one.
  """
  @spec execute_workflow(t(), worker(), module() | String.t(), list(), keyword()) ::
          {:ok, term()} | {:error, term()}
  def execute_workflow(env, worker, workflow, args, opts \\ []) do
    with {:ok, handle} <- start_workflow(env, worker, workflow, args, opts),
         do: Client.workflow_result(worker.client, handle, Keyword.take(opts, [:timeout]))
  end

  @doc """
  Replays the history of every workflow started on the worker's task queue with this
  environment against the worker's workflow modules, decoding their payloads with the worker's
  payload codec as the worker did: `:ok`, or `{:error, failures}` with
  `{workflow_id, failure}` for each that did not replay (see `Hourglass.Replayer`). Call it
  once they have closed (a running workflow's history replays as far as it goes).
  """
  @spec replay_all(t(), worker()) :: :ok | {:error, [{String.t(), term()}]}
  def replay_all(env, worker) do
    client = client(env)
    ids = GenServer.call(env, {:started, worker.task_queue})

    histories =
      for id <- ids do
        {:ok, history} = Client.fetch_history(client, id)
        history
      end

    case Replayer.replay_workflows(histories,
           workflows: worker.workflows,
           payload_codec: worker.payload_codec
         ) do
      {:ok, outcomes} ->
        case Enum.reject(outcomes, &match?({_, :ok}, &1)) do
          [] -> :ok
          failed -> {:error, Enum.map(failed, fn {id, {:error, failure}} -> {id, failure} end)}
        end

      {:error, reason} ->
        {:error, [{:replay, reason}]}
    end
  end

  # A client with a codec is a connection of its own: the NIF hands it payloads undecoded.
  defp codec_client(env, nil), do: client(env)

  defp codec_client(env, codec) do
    case Client.connect(address: address(env), payload_codec: codec) do
      {:ok, client} ->
        client

      {:error, reason} ->
        raise ArgumentError, "cannot connect the worker's client: #{inspect(reason)}"
    end
  end

  # A module for the mock, made now: a worker takes activity modules.
  defp mock_module({type, fun}) when is_binary(type) and is_function(fun) do
    {:arity, arity} = Function.info(fun, :arity)
    module = Module.concat(__MODULE__.Mock, "M#{System.unique_integer([:positive])}")
    :persistent_term.put({__MODULE__, module}, fun)
    arguments = Macro.generate_arguments(arity, __MODULE__)

    body =
      quote do
        use Hourglass.Activity, name: unquote(type)

        def execute(unquote_splicing(arguments)) do
          fun = :persistent_term.get({Hourglass.Testing.WorkflowEnvironment, __MODULE__})

          case fun.(unquote_splicing(arguments)) do
            {:ok, value} -> {:ok, value}
            {:error, reason} -> {:error, reason}
            value -> {:ok, value}
          end
        end
      end

    {:module, module, _binary, _} = Module.create(module, body, Macro.Env.location(__ENV__))
    module
  end

  defp mock_module(other),
    do: raise(ArgumentError, "a mock activity is {type, function}, got: #{inspect(other)}")

  @impl true
  def init(opts) do
    {server, address} =
      case Keyword.fetch(opts, :address) do
        {:ok, address} ->
          {nil, address}

        :error ->
          {:ok, server} = DevServer.start_link(Keyword.get(opts, :dev_server, []))
          {server, DevServer.address(server)}
      end

    {:ok, client} = Client.connect(address: address)
    {:ok, %{server: server, address: address, client: client, started: %{}}}
  end

  @impl true
  def handle_call(:client, _from, state), do: {:reply, state.client, state}
  def handle_call(:address, _from, state), do: {:reply, state.address, state}

  def handle_call({:started, task_queue}, _from, state),
    do: {:reply, state.started |> Map.get(task_queue, []) |> Enum.reverse(), state}

  @impl true
  def handle_cast({:started, task_queue, workflow_id}, state),
    do: {:noreply, update_in(state.started[task_queue], &[workflow_id | &1 || []])}

  @impl true
  def terminate(_reason, %{server: server}) when is_pid(server), do: DevServer.stop(server)
  def terminate(_reason, _state), do: :ok
end
