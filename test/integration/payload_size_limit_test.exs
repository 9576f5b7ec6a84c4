defmodule Hourglass.Integration.PayloadSizeLimitTest do
  # Payloads over the server's size limit (limit.blobSize.error, 2 MiB by default) are caught
  # before they are sent, with a clear error: results fail the attempt, failures are cut down to
  # fit, heartbeat details are dropped with a logged error, client calls are refused. The
  # worker's limit is lowered to 100 kB here so that inputs the server accepts can make results
  # the worker must refuse.
  use Hourglass.IntegrationCase, async: true

  import ExUnit.CaptureLog

  alias Hourglass.{ApplicationError, Client}
  alias Hourglass.IntegrationActivities, as: A
  alias Hourglass.WideValueActivities.{Fail, Resume}

  @worker_limit 100_000
  @over_the_worker_limit String.duplicate("x", 150_000)
  @over_the_server_limit String.duplicate("x", 2_200_000)

  describe "a worker with a lower limit" do
    setup ctx do
      start_worker(ctx,
        activities: [A.Echo, Fail, Resume],
        native_activities: ["hourglass.echo"],
        payload_size_limit: @worker_limit
      )

      :ok
    end

    test "fails an attempt whose result is over it, not retryably, and says why", ctx do
      for type <- ["echo", "hourglass.echo"] do
        assert {:error, {:failed, %ApplicationError{} = error}} =
                 run_activity(ctx, type, [@over_the_worker_limit],
                   retry_policy: [initial_interval: 100, maximum_attempts: 3]
                 )

        assert %{type: "PayloadSizeError", non_retryable: true} = error
        assert error.message =~ "the result of the activity is 150"
        assert error.message =~ "over the payload size limit of 100000 bytes"
      end

      # Just under the limit is fine.
      small = String.duplicate("y", 90_000)
      assert {:ok, ^small} = run_activity(ctx, "echo", [small])
    end

    test "drops the details of a failure over it, and the message says so", ctx do
      assert {:error, {:failed, %ApplicationError{} = error}} =
               run_activity(ctx, "wide_values.fail", [@over_the_worker_limit])

      assert %{type: "Wide", non_retryable: true, details: []} = error
      assert error.message =~ ~r/^as asked \(its details dropped: the failure was 150\d{3} bytes/
    end

    test "does not send heartbeat details over it, and logs why", ctx do
      log =
        capture_log(fn ->
          # Attempt 1 heartbeats the value and fails; attempt 2 returns what it resumed from.
          assert {:ok, []} =
                   run_activity(ctx, "wide_values.resume", [@over_the_worker_limit],
                     retry_policy: [initial_interval: 100, maximum_attempts: 2]
                   )
        end)

      assert log =~ "heartbeat details not sent: the heartbeat details are 150"
    end
  end

  test "the server's default applies when none is given", ctx do
    start_worker(ctx, activities: [A.Echo])
    near = String.duplicate("z", 2_000_000)
    assert {:ok, ^near} = run_activity(ctx, "echo", [near])
  end

  describe "a client" do
    test "refuses to start an activity whose input is over the limit", ctx do
      assert {:error, {:payload_too_large, message}} =
               Client.start_activity(ctx.client, "echo", [@over_the_server_limit],
                 task_queue: ctx.queue,
                 activity_id: "too-large",
                 start_to_close_timeout: 10_000
               )

      assert message =~ "the input is 2200"
      assert message =~ "over the payload size limit of 2097152 bytes"
      # Nothing reached the server.
      assert {:error, {:not_found, _}} = Client.describe(ctx.client, "too-large")
    end

    test "with a lower limit of its own", ctx do
      {:ok, client} = Client.connect(address: ctx.address, payload_size_limit: 1_000)

      assert {:error, {:payload_too_large, _}} =
               Client.start_activity(client, "echo", [String.duplicate("x", 1_000)],
                 task_queue: ctx.queue,
                 start_to_close_timeout: 10_000
               )

      assert {:error, {:invalid_option, :payload_size_limit, _}} =
               Client.connect(address: ctx.address, payload_size_limit: 0)
    end

    test "refuses asynchronous completions and heartbeats over the limit", ctx do
      target = %{activity_id: "no-such-activity"}
      big = @over_the_server_limit

      assert {:error, {:payload_too_large, "the result is " <> _}} =
               Client.complete_activity(ctx.client, target, big)

      assert {:error, {:payload_too_large, "the failure is " <> _}} =
               Client.fail_activity(ctx.client, target, %ApplicationError{
                 message: "no",
                 details: [big]
               })

      assert {:error, {:payload_too_large, "the cancellation details are " <> _}} =
               Client.report_activity_cancellation(ctx.client, target, big)

      assert {:error, {:payload_too_large, "the heartbeat details are " <> _}} =
               Client.heartbeat_activity(ctx.client, target, big)

      # Within the limit, the same calls reach the server, which knows no such activity.
      assert {:error, {:not_found, _}} = Client.complete_activity(ctx.client, target, "small")
    end
  end
end
