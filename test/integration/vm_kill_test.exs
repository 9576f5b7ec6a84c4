defmodule Hourglass.Integration.VmKillTest do
  # The worker's whole VM (its OS process) dies with SIGKILL mid-activity; a new one takes over.
  use Hourglass.IntegrationCase, async: false

  alias Hourglass.Client

  @root Path.expand("../..", __DIR__)

  defp start_node(ctx) do
    port =
      Port.open({:spawn_executable, System.find_executable("mix")}, [
        :binary,
        :exit_status,
        :stderr_to_stdout,
        args: ["run", "--no-compile", "test/support/worker_node.exs", ctx.address, ctx.queue],
        cd: @root,
        env: [{~c"MIX_ENV", ~c"test"}]
      ])

    {:os_pid, os_pid} = Port.info(port, :os_pid)
    # A VM started here does not stop with the port: kill it when the test ends.
    on_exit(fn -> System.cmd("kill", ["-KILL", "#{os_pid}"], stderr_to_stdout: true) end)
    await_ready(port, "")
    {port, os_pid}
  end

  defp await_ready(port, buffer) do
    receive do
      {^port, {:data, data}} ->
        buffer = buffer <> data
        if buffer =~ "READY", do: :ok, else: await_ready(port, buffer)

      {^port, {:exit_status, status}} ->
        flunk("the worker VM exited with #{status}: #{buffer}")
    after
      60_000 -> flunk("the worker VM did not start: #{buffer}")
    end
  end

  test "activities in flight when the VM is killed complete after redelivery", ctx do
    {_port, os_pid} = start_node(ctx)

    handles =
      for i <- 1..5 do
        type = if rem(i, 2) == 0, do: "silent", else: "hourglass.sleep"

        {:ok, handle} =
          Client.start_activity(ctx.client, type, [1_500],
            task_queue: ctx.queue,
            start_to_close_timeout: 4_000,
            retry_policy: [initial_interval: 100]
          )

        handle
      end

    # Every activity is running its first attempt on the first VM...
    eventually(
      fn ->
        Enum.all?(handles, fn handle ->
          match?(
            {:ok, %{status: :running, attempt: 1, last_started_time: %DateTime{}}},
            Client.describe(ctx.client, handle)
          )
        end)
      end,
      20_000
    )

    # ...when that VM dies.
    System.cmd("kill", ["-KILL", "#{os_pid}"])
    start_node(ctx)

    for handle <- handles do
      assert {:ok, _} = Client.result(ctx.client, handle, timeout: 60_000)
      assert {:ok, %{status: :completed, attempt: 2}} = Client.describe(ctx.client, handle)
    end
  end

  test "SIGTERM to the VM stops the worker gracefully: in-flight activities finish on attempt 1",
       ctx do
    {port, os_pid} = start_node(ctx)

    handles =
      for type <- ["silent", "hourglass.sleep", "silent"] do
        {:ok, handle} =
          Client.start_activity(ctx.client, type, [1_500],
            task_queue: ctx.queue,
            start_to_close_timeout: 30_000,
            retry_policy: [initial_interval: 100]
          )

        handle
      end

    eventually(
      fn ->
        Enum.all?(handles, fn handle ->
          match?(
            {:ok, %{status: :running, last_started_time: %DateTime{}}},
            Client.describe(ctx.client, handle)
          )
        end)
      end,
      20_000
    )

    System.cmd("kill", ["-TERM", "#{os_pid}"])
    assert_receive {^port, {:exit_status, 0}}, 30_000

    for handle <- handles do
      assert {:ok, _} = Client.result(ctx.client, handle, timeout: 30_000)
      assert {:ok, %{status: :completed, attempt: 1}} = Client.describe(ctx.client, handle)
    end
  end
end
