defmodule Hourglass.Demo do
  @moduledoc """
  The demo behind `mix hourglass.demo`: a worker with an Elixir and native activities and an
  Elixir workflow, and a batch of Standalone Activities (or of workflows) run through
  `Hourglass.Client`, with a live progress bar and a summary.

      Hourglass.Demo.run(count: 200, concurrency: 20, activity: "greet")
      Hourglass.Demo.run(count: 100, workflows: true)

  Options:

    * `:address` - an existing Temporal server; without it an embedded dev server is started
      (with its web UI) and stopped at the end.
    * `:count` - activities to run (default 500).
    * `:concurrency` - activities in flight at once (default 50).
    * `:activity` - `"greet"` (Elixir), `"echo"` or `"sha256"` (native), or `"mix"` (all three,
      in turn; the default).
    * `:workflows` - run `Hourglass.Demo.Order` workflows instead (each runs three activities
      and a timer); `:activity` does not apply.
    * `:output` - where to print (default `:stdio`); `false` prints nothing.

  Returns the summary: count, completed, failed, seconds, throughput (activities or workflows
  per second),
  latency percentiles in milliseconds, and the web UI's URL (nil without an embedded server).
  """

  alias Hourglass.{Client, DevServer, Worker}

  @task_queue "hourglass-demo"
  @activities %{
    "greet" => {"demo.greet", &__MODULE__.greet_args/1},
    "echo" => {"hourglass.echo", &__MODULE__.echo_args/1},
    "sha256" => {"hourglass.sha256", &__MODULE__.sha256_args/1}
  }

  @type summary :: %{
          count: non_neg_integer(),
          completed: non_neg_integer(),
          failed: non_neg_integer(),
          seconds: float(),
          throughput: float(),
          latency_ms: %{p50: float(), p99: float(), max: float()},
          ui_url: String.t() | nil,
          address: String.t(),
          kind: :activities | :workflows
        }

  @doc "Runs the demo; see the module documentation."
  @spec run(keyword()) :: {:ok, summary()} | {:error, term()}
  def run(opts \\ []) do
    with {:ok, opts} <- validate(opts) do
      {server, address} = server(opts)

      try do
        run_batch(opts, address, server && DevServer.ui_url(server))
      after
        if server, do: DevServer.stop(server)
      end
    end
  end

  @doc false
  def validate(opts) do
    count = Keyword.get(opts, :count, 500)
    concurrency = Keyword.get(opts, :concurrency, 50)
    activity = Keyword.get(opts, :activity, "mix")
    workflows = Keyword.get(opts, :workflows, false)

    cond do
      not (is_integer(count) and count > 0) ->
        {:error, "--count must be a positive integer"}

      not (is_integer(concurrency) and concurrency > 0) ->
        {:error, "--concurrency must be a positive integer"}

      activity != "mix" and not Map.has_key?(@activities, activity) ->
        {:error, "--activity must be one of greet, echo, sha256, mix; got #{inspect(activity)}"}

      not is_boolean(workflows) ->
        {:error, "--workflows takes no value"}

      true ->
        {:ok,
         Keyword.merge(opts,
           count: count,
           concurrency: concurrency,
           activity: activity,
           workflows: workflows
         )}
    end
  end

  defp server(opts) do
    case Keyword.get(opts, :address) do
      nil ->
        say(opts, "Starting a Temporal dev server…")
        {:ok, server} = DevServer.start_link(ui: true)
        say(opts, "Web UI: #{DevServer.ui_url(server)} (open it while the demo runs)")
        {server, DevServer.address(server)}

      address ->
        {nil, address}
    end
  end

  defp run_batch(opts, address, ui_url) do
    say(opts, "Starting a worker on #{address}, task queue #{inspect(@task_queue)}…")

    {:ok, worker} =
      Worker.start_link(
        task_queue: @task_queue,
        address: address,
        activities: [Hourglass.Demo.Greet],
        native_activities: ["hourglass.echo", "hourglass.sha256"],
        workflows: [Hourglass.Demo.Order],
        max_concurrent_activities: max(opts[:concurrency], 100)
      )

    {:ok, client} = Client.connect(address: address)
    progress = start_progress(opts)
    started = System.monotonic_time(:microsecond)

    run_one =
      if opts[:workflows],
        do: &run_workflow(client, &1, progress),
        else: &run_one(client, activity_for(opts[:activity], &1), &1, progress)

    outcomes =
      1..opts[:count]
      |> Task.async_stream(run_one,
        max_concurrency: opts[:concurrency],
        timeout: :infinity,
        ordered: false
      )
      |> Enum.map(fn {:ok, outcome} -> outcome end)

    seconds = (System.monotonic_time(:microsecond) - started) / 1_000_000
    stop_progress(progress)
    Worker.stop(worker)
    summary = summarize(outcomes, seconds, ui_url, address)
    summary = Map.put(summary, :kind, if(opts[:workflows], do: :workflows, else: :activities))
    print_summary(opts, summary)
    {:ok, summary}
  end

  defp activity_for("mix", i), do: Enum.at(["greet", "echo", "sha256"], rem(i, 3))
  defp activity_for(activity, _i), do: activity

  defp run_one(client, activity, i, progress) do
    {type, args} = @activities[activity]
    started = System.monotonic_time(:microsecond)

    result =
      Client.execute_activity(client, type, args.(i),
        task_queue: @task_queue,
        start_to_close_timeout: 30_000,
        timeout: 60_000
      )

    report(progress, result, started)
  end

  defp run_workflow(client, i, progress) do
    started = System.monotonic_time(:microsecond)
    order = %{"id" => "order-#{i}", "customer" => "visitor #{i}", "items" => i}

    result =
      Client.execute_workflow(client, "demo.Order", [order],
        id: "demo-order-#{i}-#{System.unique_integer([:positive])}",
        task_queue: @task_queue,
        timeout: 60_000
      )

    report(progress, result, started)
  end

  defp report(progress, result, started) do
    latency = (System.monotonic_time(:microsecond) - started) / 1_000
    if progress, do: send(progress, {:done, match?({:ok, _}, result)})
    {match?({:ok, _}, result), latency}
  end

  @doc false
  def greet_args(i), do: ["visitor #{i}"]
  @doc false
  def echo_args(i), do: [%{"i" => i, "tags" => ["demo", "echo"]}]
  @doc false
  def sha256_args(i), do: [%{"data" => "block #{i}", "rounds" => 10_000}]

  defp summarize(outcomes, seconds, ui_url, address) do
    latencies = outcomes |> Enum.map(&elem(&1, 1)) |> Enum.sort()
    completed = Enum.count(outcomes, &elem(&1, 0))

    %{
      count: length(outcomes),
      completed: completed,
      failed: length(outcomes) - completed,
      seconds: Float.round(seconds, 3),
      throughput: Float.round(length(outcomes) / max(seconds, 1.0e-6), 1),
      latency_ms: %{
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        max: Float.round(List.last(latencies) / 1, 1)
      },
      ui_url: ui_url,
      address: address
    }
  end

  @doc false
  def percentile([], _p), do: 0.0

  def percentile(sorted, p) do
    index = min(length(sorted) - 1, max(0, ceil(p / 100 * length(sorted)) - 1))
    Float.round(Enum.at(sorted, index) / 1, 1)
  end

  # The progress bar: one process redraws it at most ten times a second.
  defp start_progress(opts) do
    if opts[:output] != false do
      total = opts[:count]
      spawn_link(fn -> progress_loop(total, 0, 0, 0) end)
    end
  end

  defp stop_progress(nil), do: :ok

  defp stop_progress(pid) do
    ref = Process.monitor(pid)
    send(pid, :stop)

    receive do
      {:DOWN, ^ref, _, _, _} -> :ok
    end
  end

  defp progress_loop(total, done, failed, last_draw) do
    receive do
      {:done, ok?} ->
        done = done + 1
        failed = if ok?, do: failed, else: failed + 1
        now = System.monotonic_time(:millisecond)

        if now - last_draw > 100 or done == total do
          draw(total, done, failed)
          progress_loop(total, done, failed, now)
        else
          progress_loop(total, done, failed, last_draw)
        end

      :stop ->
        IO.write("\n")
    end
  end

  defp draw(total, done, failed) do
    width = 40
    filled = div(done * width, total)
    bar = String.duplicate("█", filled) <> String.duplicate("░", width - filled)
    IO.write("\r#{bar} #{done}/#{total}" <> if(failed > 0, do: " (#{failed} failed)", else: ""))
  end

  defp print_summary(opts, summary) do
    say(opts, """

    #{String.pad_trailing(String.capitalize(to_string(summary.kind)), 12)} #{summary.count} (#{summary.completed} completed, #{summary.failed} failed)
    Time         #{summary.seconds} s
    Throughput   #{summary.throughput} #{summary.kind}/s
    Latency      p50 #{summary.latency_ms.p50} ms, p99 #{summary.latency_ms.p99} ms, max #{summary.latency_ms.max} ms
    Server       #{summary.address}#{if summary.ui_url, do: "\nWeb UI       #{summary.ui_url} (stops with the demo; use --address to keep a server)", else: ""}
    """)
  end

  defp say(opts, text), do: if(opts[:output] != false, do: IO.puts(text))
end
