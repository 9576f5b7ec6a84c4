# One Temporal dev server for the whole run, on free loopback ports, stopped when the run ends
# (and killed by the kernel if this VM dies first).
parent = self()

spawn(fn ->
  {:ok, server} =
    Hourglass.DevServer.start_link(
      name: Hourglass.TestDevServer,
      search_attributes: %{"HourglassCustomer" => :keyword, "HourglassPriority" => :int}
    )

  send(parent, {:dev_server, Hourglass.DevServer.address(server)})
  Process.sleep(:infinity)
end)

receive do
  {:dev_server, address} -> Application.put_env(:hourglass, :test_server_address, address)
after
  90_000 -> raise "the Temporal dev server did not start"
end

ExUnit.after_suite(fn _ -> Hourglass.DevServer.stop(Hourglass.TestDevServer) end)
# CI machines are noisy: a message that is due arrives late now and then, so receives wait
# generously by default (a passing test never waits for the bound).
ExUnit.start(capture_log: true, assert_receive_timeout: 2_000)
