# The tests run the activities through a real Temporal dev server (the `temporal` CLI, which
# Hourglass's bin/setup installs), started here on free loopback ports and stopped at the end.
{:ok, server} = Hourglass.DevServer.start_link(name: NativeActivities.TestServer)
Application.put_env(:native_activities, :test_server_address, Hourglass.DevServer.address(server))
ExUnit.after_suite(fn _ -> Hourglass.DevServer.stop(NativeActivities.TestServer) end)
ExUnit.start(assert_receive_timeout: 2_000)
