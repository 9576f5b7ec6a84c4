defmodule Hourglass.Integration.PythonPeerTest do
  # Workflows of the official Python SDK call activities served by an Hourglass worker.
  use Hourglass.IntegrationCase, async: true

  alias Hourglass.IntegrationActivities, as: A

  @script Path.expand("../support/python/peer_workflows.py", __DIR__)

  test "Python workflows see Temporal semantics from Hourglass activities", ctx do
    start_worker(ctx,
      activities: [A.Echo, A.FailUntil, A.NonRetryable, A.Resume, A.Silent, A.Heartbeating],
      native_activities: ["hourglass.echo", "hourglass.sleep"],
      max_concurrent_activities: 400
    )

    {out, status} =
      System.cmd("python3", [@script, ctx.address, ctx.queue], stderr_to_stdout: true)

    assert status == 0, out
    results = python_results(out)

    assert results["retries"] == 3

    assert %{
             "failed" => %{
               "kind" => "application",
               "type" => "Fatal",
               "message" => "give up",
               "non_retryable" => true,
               "details" => [%{"why" => "testing"}]
             }
           } = results["non_retryable"]

    assert results["heartbeat_resume"] == [%{"done" => 41}]

    assert results["heartbeat_timeout"] == %{
             "failed" => %{"kind" => "timeout", "type" => "HEARTBEAT"}
           }

    assert results["start_to_close_timeout"] == %{
             "failed" => %{"kind" => "timeout", "type" => "START_TO_CLOSE"}
           }

    assert results["cancellation"] == %{"failed" => %{"kind" => "cancelled"}}
    assert results["concurrent"] == true
    assert results["big_payload"] == true

    assert %{"failed" => %{"kind" => "application", "type" => "NotFoundError"}} =
             results["unknown_type"]
  end
end
