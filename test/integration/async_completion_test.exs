defmodule Hourglass.Integration.AsyncCompletionTest do
  # Activities that return `complete_async()` and are completed later by another Elixir
  # process through Hourglass.Client: by task token or by ids, for workflows of the official
  # Python SDK and for Standalone Activities.
  use Hourglass.IntegrationCase, async: true

  alias Hourglass.{ApplicationError, Client}
  alias Hourglass.IntegrationActivities.CompleteLater

  @script Path.expand("../support/python/peer_workflows.py", __DIR__)

  test "workflows wait for activities completed, failed or abandoned by another process", ctx do
    start_worker(ctx, activities: [CompleteLater])
    test = register_test()

    scenarios =
      Enum.map(~w(async_completed async_failed async_heartbeat_timeout), &"#{&1}:#{test}")

    python =
      Task.async(fn ->
        System.cmd("python3", [@script, ctx.address, ctx.queue, Enum.join(scenarios, ",")],
          stderr_to_stdout: true
        )
      end)

    attempts =
      for _ <- scenarios, into: %{} do
        assert_receive {:complete_later, info}, 60_000
        {info.workflow_id |> String.split(":") |> hd(), info}
      end

    # Completed by task token, minutes later in wall-clock terms (seconds here): heartbeats
    # keep it alive past its 2 s heartbeat timeout meanwhile.
    completer =
      Task.async(fn ->
        token = attempts["async_completed"].task_token

        for step <- 1..6 do
          assert {:ok, %{cancel_requested: false}} =
                   Client.heartbeat_activity(ctx.client, token, %{"step" => step})

          Process.sleep(500)
        end

        assert :ok = Client.complete_activity(ctx.client, token, %{"approved" => true})
        # A second completion of the same attempt is refused: it is closed.
        assert {:error, {:not_found, _}} = Client.complete_activity(ctx.client, token, "again")
      end)

    # Failed by ids, not retryable, with details.
    failed = attempts["async_failed"]

    assert :ok =
             Client.fail_activity(
               ctx.client,
               %{
                 workflow_id: failed.workflow_id,
                 run_id: failed.workflow_run_id,
                 activity_id: failed.activity_id
               },
               %ApplicationError{
                 type: "Rejected",
                 message: "a human said no",
                 non_retryable: true,
                 details: [%{"by" => "ops"}]
               }
             )

    # Nobody completes async_heartbeat_timeout: its 1 s heartbeat timeout fires.
    Task.await(completer, 30_000)
    {out, status} = Task.await(python, 120_000)
    assert status == 0, out
    results = python_results(out)

    assert results["async_completed:#{test}"] == %{"approved" => true}

    assert results["async_failed:#{test}"] == %{
             "failed" => %{
               "kind" => "application",
               "type" => "Rejected",
               "message" => "a human said no",
               "non_retryable" => true,
               "details" => [%{"by" => "ops"}]
             }
           }

    assert results["async_heartbeat_timeout:#{test}"] == %{
             "failed" => %{"kind" => "timeout", "type" => "HEARTBEAT"}
           }
  end

  test "a Standalone Activity completed by its handle, cancelled by its token", ctx do
    start_worker(ctx, activities: [CompleteLater])
    test = register_test()
    opts = [task_queue: ctx.queue, start_to_close_timeout: 30_000]

    {:ok, handle} = Client.start_activity(ctx.client, "complete_later", [test], opts)
    assert_receive {:complete_later, %{workflow_id: nil}}, 30_000
    assert :ok = Client.complete_activity(ctx.client, handle, [1, 2, 3])
    assert {:ok, [1, 2, 3]} = Client.result(ctx.client, handle)

    {:ok, handle} =
      Client.start_activity(
        ctx.client,
        "complete_later",
        [test],
        opts ++ [heartbeat_timeout: 10_000]
      )

    assert_receive {:complete_later, info}, 30_000
    assert :ok = Client.cancel(ctx.client, handle, "changed my mind")
    # The server tells whoever heartbeats for the attempt that it should stop.
    assert {:ok, %{cancel_requested: true}} =
             Client.heartbeat_activity(ctx.client, info.task_token)

    assert :ok = Client.report_activity_cancellation(ctx.client, info.task_token, "stopped")
    assert {:error, {:cancelled, _}} = Client.result(ctx.client, handle)
  end

  test "bad targets and outcomes are clear errors", ctx do
    assert {:error, {:invalid_target, ""}} = Client.complete_activity(ctx.client, "", 1)
    assert {:error, {:invalid_target, %{}}} = Client.complete_activity(ctx.client, %{}, 1)
    assert {:error, {:invalid_target, 42}} = Client.heartbeat_activity(ctx.client, 42)

    assert {:error, {:invalid_argument, _}} =
             Client.fail_activity(ctx.client, "token", {:not, :an, :error})

    assert {:error, {:invalid_argument, message}} =
             Client.complete_activity(ctx.client, "token", {:a, :tuple})

    assert message =~ "cannot be encoded"

    # Tokens the server never issued, and ids of no activity.
    assert {:error, {code, _}} = Client.complete_activity(ctx.client, "not a real token", 1)
    assert code in [:invalid_argument, :not_found]

    assert {:error, {:not_found, _}} =
             Client.complete_activity(
               ctx.client,
               %{workflow_id: "no-such-workflow", activity_id: "1"},
               1
             )

    assert {:error, {code, _}} = Client.heartbeat_activity(ctx.client, "not a real token")
    assert code in [:invalid_argument, :not_found]
  end
end
