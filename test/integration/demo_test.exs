defmodule Hourglass.Integration.DemoTest do
  use Hourglass.IntegrationCase, async: false

  test "the demo runs a batch against a server and summarises it", ctx do
    assert {:ok, summary} =
             Hourglass.Demo.run(address: ctx.address, count: 30, concurrency: 10, output: false)

    assert %{count: 30, completed: 30, failed: 0, ui_url: nil, kind: :activities} = summary
    assert summary.throughput > 0
    assert summary.latency_ms.p50 <= summary.latency_ms.p99
  end

  test "the demo runs a batch of workflows", ctx do
    assert {:ok, summary} =
             Hourglass.Demo.run(
               address: ctx.address,
               count: 20,
               concurrency: 10,
               workflows: true,
               output: false
             )

    assert %{count: 20, completed: 20, failed: 0, kind: :workflows} = summary
  end

  test "bad options are refused with a message" do
    assert {:error, "--count must be a positive integer"} = Hourglass.Demo.run(count: 0)
    assert {:error, message} = Hourglass.Demo.run(activity: "nope")
    assert message =~ "greet, echo, sha256, mix"

    {out, status} =
      System.cmd("mix", ["hourglass.demo", "--concurrency", "0"],
        env: [{"MIX_ENV", "test"}],
        stderr_to_stdout: true
      )

    assert status != 0
    assert out =~ "--concurrency must be a positive integer"
  end
end
