defmodule Hourglass.Bench.Scheduler do
  @moduledoc """
  Scheduler responsiveness: a BEAM process measures its message round trip to another process
  (p50, p99, max) while 2 × cores CPU-heavy hash chains (the `hourglass.sha256` body) run:

    * `idle` - nothing else running, for reference;
    * `tokio` - as native activities on Hourglass's low-priority tokio pool;
    * `plain_nif` - as a plain NIF on a normal scheduler (what Hourglass avoids);
    * `dirty_nif` - as a dirty CPU NIF;
    * `elixir` - as pure Elixir calling `:crypto` in a loop;
    * `payloads` - not hash chains but payload conversion: each body converts a ~2 MB value to
      a payload and back with `Hourglass.Payload` (heavy values go to the low-priority tokio
      pool, in the external term format);
    * `payloads_dirty_cpu` - the same conversion as dirty CPU NIFs (how `Hourglass.Payload`
      converted heavy values before they went to tokio);
    * `payloads_on_scheduler` - the same conversion as plain NIFs on the calling scheduler,
      whatever the size (how `Hourglass.Payload` converted before it weighed its arguments);
    * `external_term_only` - no conversion at all, only the BEAM's side of the tokio path:
      `:erlang.term_to_binary/1` of the value and `:erlang.binary_to_term/1` back, what any
      process that serialises such a value pays;
    * `elixir_values` - no conversion and no serialisation: each body builds the same value in
      Elixir and drops it, the floor any process that makes or receives such values sits on
      (collecting ~10 MB of terms per value).

  The payload variants also count the conversions (there and back) finished per second.

  Each variant runs for `:seconds` (default 3) with the load kept constant; the bodies are sized
  to take about 100 ms each. Two figures per variant: the round trip itself, and how late the
  measuring process woke from each 1 ms sleep (a process that cannot get a scheduler, or whose
  scheduler thread cannot get a core, is late even when its round trips are fast). The
  `responsiveness` figure is their sum per sample, in microseconds.
  """

  alias Hourglass.{Bench, BridgeHolder, Native}

  @variants [
    :idle,
    :tokio,
    :plain_nif,
    :dirty_nif,
    :elixir,
    :payloads,
    :payloads_dirty_cpu,
    :payloads_on_scheduler,
    :external_term_only,
    :elixir_values
  ]

  @payload_variants [
    :payloads,
    :payloads_dirty_cpu,
    :payloads_on_scheduler,
    :external_term_only,
    :elixir_values
  ]

  @doc "Runs the suite."
  def run(opts \\ []) do
    seconds = Keyword.get(opts, :seconds, 3)
    rounds = calibrate()
    bodies = 2 * System.schedulers_online()

    results =
      Map.new(@variants, fn variant ->
        done = :counters.new(1, [])
        load = start_load(variant, bodies, rounds, done)
        samples = measure_round_trips(seconds * 1_000)
        finished = :counters.get(done, 1)
        stop_load(load)
        round_trips = Enum.map(samples, &elem(&1, 0))
        lateness = Enum.map(samples, &elem(&1, 1))

        {variant,
         %{
           round_trip: Bench.percentiles(round_trips),
           wake_up_lateness: Bench.percentiles(lateness),
           responsiveness: Bench.percentiles(Enum.map(samples, fn {rt, late} -> rt + late end)),
           samples: length(samples),
           bodies_per_second: if(variant in @payload_variants, do: finished / seconds)
         }}
      end)

    Bench.chart(
      "scheduler",
      :bars,
      Enum.map(@variants, &{"#{&1} p99", max(results[&1].responsiveness.p99, 1)}),
      title:
        "Round trip + wake-up lateness, p99, under #{bodies} CPU-heavy bodies (µs, log scale)",
      ylabel: "µs",
      log: true
    )

    Map.merge(results, %{
      bodies: bodies,
      rounds_per_body: rounds,
      payload_bytes: payload_bytes(),
      unit: "microseconds",
      tokio_p99_vs_plain_nif:
        Float.round(
          results.plain_nif.responsiveness.p99 / max(results.tokio.responsiveness.p99, 1),
          1
        )
    })
  end

  # Rounds that take about 100 ms on this machine.
  defp calibrate do
    probe = 200_000
    {micros, _} = :timer.tc(fn -> Native.bench_sha256_dirty_cpu("calibrate", probe) end)
    max(1, div(probe * 100_000, max(micros, 1)))
  end

  defp start_load(:idle, _bodies, _rounds, _done), do: []

  defp start_load(:tokio, bodies, rounds, _done) do
    queue = "bench-scheduler"
    driver = spawn(fn -> tokio_driver(queue, bodies, rounds) end)
    [driver]
  end

  defp start_load(:plain_nif, bodies, rounds, _done),
    do: [
      spawn(fn ->
        keep_running(bodies, fn -> Native.bench_sha256_on_scheduler("x", rounds) end)
      end)
    ]

  defp start_load(:dirty_nif, bodies, rounds, _done),
    do: [
      spawn(fn -> keep_running(bodies, fn -> Native.bench_sha256_dirty_cpu("x", rounds) end) end)
    ]

  defp start_load(variant, bodies, _rounds, done) when variant in @payload_variants do
    {from_values, to_values} = conversion(variant)
    payload_load(bodies, done, from_values, to_values)
  end

  defp start_load(:elixir, bodies, rounds, _done) do
    body = fn ->
      Enum.reduce(1..rounds, "x", fn _, digest -> :crypto.hash(:sha256, digest) end)
    end

    [spawn(fn -> keep_running(bodies, body) end)]
  end

  # Values to payloads and back, as each payload variant does it.
  defp conversion(:payloads),
    do: {&Hourglass.Payload.from_values/1, &Hourglass.Payload.to_values/1}

  defp conversion(:payloads_dirty_cpu),
    do:
      {&Native.bench_payloads_from_values_dirty_cpu/1,
       &Native.bench_payloads_to_values_dirty_cpu/1}

  defp conversion(:payloads_on_scheduler),
    do:
      {&Native.bench_payloads_from_values_on_scheduler/1,
       &Native.bench_payloads_to_values_on_scheduler/1}

  defp conversion(:external_term_only),
    do:
      {fn [value] -> {:ok, :erlang.term_to_binary(value)} end,
       fn binary -> {:ok, [:erlang.binary_to_term(binary)]} end}

  defp conversion(:elixir_values),
    do: {fn [_value] -> {:ok, :none} end, fn :none -> {:ok, [big_value()]} end}

  defp payload_load(bodies, done, from_values, to_values) do
    # The bodies read the value from a persistent term, which no spawn copies: a closure
    # holding it would have the spawning process copy ~10 MB of terms per body, in one go, and
    # that copy would stall a scheduler in every variant alike.
    :persistent_term.put({__MODULE__, :value}, big_value())

    body = fn ->
      value = :persistent_term.get({__MODULE__, :value})
      {:ok, payloads} = from_values.([value])
      {:ok, [_]} = to_values.(payloads)
      :counters.add(done, 1, 1)
    end

    [spawn(fn -> keep_running(bodies, body) end)]
  end

  # Keeps `bodies` processes each running one body, starting a new one as each finishes. One
  # body per process, as with activities: a process that called a long NIF in a loop would keep
  # its scheduler for thousands of calls, since a NIF call counts as a single reduction.
  defp keep_running(bodies, body) do
    Process.flag(:trap_exit, true)
    for _ <- 1..bodies, do: spawn_link(body)
    keep_running_loop(body)
  end

  defp keep_running_loop(body) do
    receive do
      {:EXIT, _pid, _reason} ->
        spawn_link(body)
        keep_running_loop(body)
    end
  end

  # Keeps `bodies` native hash chains running, starting a new one as each completes.
  defp tokio_driver(queue, bodies, rounds) do
    :ok = BridgeHolder.register(queue, {:sink, self()})

    start = fn ->
      Native.start_child(%{
        activity_task: %{
          task_token: "t",
          activity_type: "hourglass.sha256",
          input: [%{"data" => "x", "rounds" => rounds}]
        },
        task_queue: queue
      })
    end

    for _ <- 1..bodies, do: start.()
    tokio_loop(start)
  end

  defp tokio_loop(start) do
    receive do
      {:hourglass_completion, _, _} ->
        start.()
        tokio_loop(start)
    end
  end

  # About 2 MB of JSON: rows of an order export.
  defp big_value do
    for i <- 1..22_000 do
      %{"id" => i, "sku" => "SKU-#{i}", "price" => i * 1.25, "tags" => ["a", "b"], "ok" => true}
    end
  end

  defp payload_bytes do
    {:ok, [payload]} = Hourglass.Payload.from_values([big_value()])
    byte_size(payload.data)
  end

  defp stop_load(pids) do
    # Killing a driver takes its linked bodies with it (a NIF body finishes its call first).
    Enum.each(pids, &Process.exit(&1, :kill))
    # Let the running bodies drain (native ones are aborted with their owners).
    Process.sleep(300)
    wait_quiet()
  end

  defp wait_quiet do
    if Native.stats().live > 0 do
      for {_, pid, _, _} <-
            DynamicSupervisor.which_children(Hourglass.ActivityExecutor.DynamicSupervisor),
          do: Process.exit(pid, :kill)

      Process.sleep(50)
      wait_quiet()
    end
  end

  # Round trips to an echo process, one every millisecond, for `duration` ms: a list of
  # {round trip, wake-up lateness} in microseconds.
  defp measure_round_trips(duration) do
    echo = spawn(fn -> echo_loop() end)
    deadline = System.monotonic_time(:millisecond) + duration
    samples = sample(echo, deadline, [])
    Process.exit(echo, :kill)
    samples
  end

  defp sample(echo, deadline, acc) do
    if System.monotonic_time(:millisecond) >= deadline do
      acc
    else
      started = System.monotonic_time(:microsecond)
      send(echo, {:ping, self()})

      receive do
        :pong -> :ok
      end

      round_trip = System.monotonic_time(:microsecond) - started
      slept = System.monotonic_time(:microsecond)
      Process.sleep(1)
      lateness = max(System.monotonic_time(:microsecond) - slept - 1_000, 0)
      sample(echo, deadline, [{round_trip, lateness} | acc])
    end
  end

  defp echo_loop do
    receive do
      {:ping, from} ->
        send(from, :pong)
        echo_loop()
    end
  end
end
