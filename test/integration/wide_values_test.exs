defmodule Hourglass.Integration.WideValuesTest do
  # Values of every shape and size the converter accepts, through a worker and a real server:
  # polled inputs and heartbeat details, Elixir and native results, failure details, heartbeats
  # seen through describe/2, async completion, the client's replies and the codec path. A map of
  # more than 128 keys made on a tokio thread crashed the VM on OTP 25 (erlang/otp#8208).
  use Hourglass.IntegrationCase, async: true

  alias Hourglass.{ApplicationError, Client}
  alias Hourglass.IntegrationActivities.CompleteLater
  alias Hourglass.PayloadCodec.Encryption
  alias Hourglass.ValueGenerator, as: Gen
  alias Hourglass.WideValueActivities.{Echo, Fail, Hold, Resume}

  @activities [Echo, Fail, Hold, Resume, CompleteLater]

  setup_all do
    Gen.seed(1_130)
    # The server's default blob limit is 2 MB a payload: every case stays below it.
    %{cases: Gen.cases(:ci)}
  end

  defp run(ctx, type, args, opts \\ []) do
    Client.execute_activity(
      ctx.client,
      type,
      args,
      Keyword.merge(
        [task_queue: ctx.queue, start_to_close_timeout: 60_000, timeout: 120_000],
        opts
      )
    )
  end

  test "Elixir and native activities return every case unchanged", %{cases: cases} = ctx do
    start_worker(ctx, activities: @activities, native_activities: ["hourglass.echo"])

    for {name, value} <- cases do
      assert {:ok, ^value} = run(ctx, "wide_values.echo", [value]), name
      assert {:ok, ^value} = run(ctx, "hourglass.echo", [value]), name
    end
  end

  test "failure details of Elixir and native activities carry every case",
       %{cases: cases} = ctx do
    start_worker(ctx, activities: @activities, native_activities: ["hourglass.test.reflect"])

    for {name, value} <- cases do
      assert {:error, {:failed, %ApplicationError{type: "Wide", details: [^value]}}} =
               run(ctx, "wide_values.fail", [value]),
             name

      assert {:error, {:failed, %ApplicationError{type: "Reflected", details: [^value]}}} =
               run(ctx, "hourglass.test.reflect", [value, "fail"],
                 retry_policy: [maximum_attempts: 1]
               ),
             name
    end
  end

  test "the 129-key map reaches the next attempt as heartbeat details", ctx do
    start_worker(ctx, activities: @activities)
    value = Gen.wide_map(129)

    assert {:ok, [^value]} =
             run(ctx, "wide_values.resume", [value], retry_policy: [initial_interval: 100])
  end

  test "describe/2 shows heartbeat details of 129 keys", ctx do
    start_worker(ctx, activities: @activities)
    value = Gen.wide_map(129)
    test = register_test()
    id = "hold-#{ctx.queue}"

    {:ok, handle} =
      Client.start_activity(ctx.client, "wide_values.hold", [value, test],
        task_queue: ctx.queue,
        activity_id: id,
        start_to_close_timeout: 60_000,
        heartbeat_timeout: 30_000
      )

    assert_receive {:holding, pid}, 30_000

    eventually(fn ->
      match?({:ok, %{heartbeat_details: [^value]}}, Client.describe(ctx.client, handle))
    end)

    send(pid, :go)
    assert {:ok, "released"} = Client.result(ctx.client, handle)
  end

  test "an activity completed later by token takes a 20,000-key result", ctx do
    start_worker(ctx, activities: @activities)
    value = Gen.wide_map(20_000)
    test = register_test()

    {:ok, handle} =
      Client.start_activity(ctx.client, "complete_later", [test],
        task_queue: ctx.queue,
        start_to_close_timeout: 60_000
      )

    assert_receive {:complete_later, info}, 30_000
    assert {:ok, _} = Client.heartbeat_activity(ctx.client, info.task_token, value)
    assert :ok = Client.complete_activity(ctx.client, info.task_token, value)
    assert {:ok, ^value} = Client.result(ctx.client, handle)
  end

  test "through a payload codec: wide inputs, results and failure details", ctx do
    codec = {Encryption, key_id: "wide", key: :crypto.strong_rand_bytes(32)}
    {:ok, client} = Client.connect(address: ctx.address, payload_codec: codec)
    ctx = %{ctx | client: client}
    start_worker(ctx, activities: @activities, payload_codec: codec)

    for value <- [Gen.wide_map(129), Gen.wide_map(20_000), Gen.deepest()] do
      assert {:ok, ^value} = run(ctx, "wide_values.echo", [value])

      assert {:error, {:failed, %ApplicationError{details: [^value]}}} =
               run(ctx, "wide_values.fail", [value])
    end
  end
end
