defmodule Hourglass.DevServerTest do
  use ExUnit.Case, async: true
  import Hourglass.TestHelpers

  alias Hourglass.DevServer

  @moduletag :integration
  @moduletag timeout: 180_000

  defp alive?(os_pid),
    do: match?({_, 0}, System.cmd("kill", ["-0", "#{os_pid}"], stderr_to_stdout: true))

  test "starts on free loopback ports, answers, and stops with its owner" do
    {:ok, server} = DevServer.start_link()
    address = DevServer.address(server)
    assert address =~ ~r/^127\.0\.0\.1:\d+$/
    assert DevServer.ui_url(server) == nil
    os_pid = DevServer.os_pid(server)

    assert {_, 0} =
             System.cmd(
               DevServer.executable(),
               ["operator", "namespace", "describe", "default", "--address", address],
               stderr_to_stdout: true
             )

    :ok = DevServer.stop(server)
    eventually(fn -> not alive?(os_pid) end, 15_000)
  end

  test "no orphan server is left when the VM is killed with SIGKILL", %{} do
    root = Path.expand("../..", __DIR__)

    script =
      "{:ok, s} = Hourglass.DevServer.start_link(); IO.puts(\"OSPID=\#{Hourglass.DevServer.os_pid(s)}\"); Process.sleep(:infinity)"

    port =
      Port.open({:spawn_executable, System.find_executable("mix")}, [
        :binary,
        :exit_status,
        :stderr_to_stdout,
        args: ["run", "--no-compile", "-e", script],
        cd: root,
        env: [{~c"MIX_ENV", ~c"test"}]
      ])

    {:os_pid, vm_pid} = Port.info(port, :os_pid)
    [server_pid] = await_output(port, ~r/OSPID=(\d+)/, 60_000)
    server_pid = String.to_integer(server_pid)
    assert alive?(server_pid)

    System.cmd("kill", ["-KILL", "#{vm_pid}"])
    eventually(fn -> not alive?(server_pid) end, 15_000)
  end

  test "a server that fails to start is a clear error with its output" do
    Process.flag(:trap_exit, true)

    assert {:error, {:dev_server_exited, _status, output}} =
             DevServer.start_link(log_level: "nonsense")

    assert is_binary(output)
  end
end
