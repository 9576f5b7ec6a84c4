defmodule Hourglass.WorkflowDeterminismTest do
  use ExUnit.Case, async: true

  import ExUnit.CaptureIO

  # Compiles a workflow module with `body` as its run/0 and returns the compiler's warnings.
  defp warnings(name, body) do
    capture_io(:stderr, fn ->
      Code.compile_string("""
      defmodule Hourglass.WorkflowDeterminismTest.#{name} do
        use Hourglass.Workflow
        alias Hourglass.Workflow

        def run do
          #{body}
        end
      end
      """)
    end)
  end

  test "each kind of hazard is named, with what to use instead" do
    cases = [
      {"Clock", "DateTime.utc_now()", "DateTime.utc_now", "Hourglass.Workflow.now/0"},
      {"SysTime", "System.system_time()", "System.system_time", "wall-clock"},
      {"Sleep", "Process.sleep(10)", "Process.sleep", "Hourglass.Workflow.sleep/1"},
      {"Receive", "receive do\n _ -> :ok\n end", "receive", "waits outside the history"},
      {"Send", "send(:somebody, :hello)", "send/2", "a message outside the history"},
      {"Spawn", "spawn(fn -> :ok end)", "spawn/1", "a process outside the run"},
      {"TaskCall", "Task.async(fn -> 1 end)", "Task.async", "start activities"},
      {"GenServerCall", "GenServer.call(:x, :y)", "GenServer.call", "use an activity"},
      {"Ets", ":ets.lookup(:t, :k)", ":ets.lookup", "state outside the history"},
      {"FileIO", "File.read(\"x\")", "File.read", "do it in an activity"},
      {"Ref", "make_ref()", "make_ref/0", "uuid4"},
      {"Env", "Application.get_env(:app, :key)", "Application.get_env", "configuration"}
    ]

    for {name, body, call, hint} <- cases do
      output = warnings(name, body)
      assert output =~ "#{call} can break replay", "#{name}: #{output}"
      assert output =~ hint, "#{name}: #{output}"
      assert output =~ "Hourglass.WorkflowDeterminismTest.#{name}.run"
    end
  end

  test "deterministic code and reviewed calls compile without a warning" do
    assert warnings("Clean", """
           now = Workflow.now()
           id = Workflow.uuid4()
           _ = :rand.uniform(10)
           Workflow.reviewed(IO.inspect(DateTime.utc_now()))
           Hourglass.Workflow.reviewed(Process.sleep(0))
           {:ok, {now, id, Map.new([{1, 2}])}}
           """) == ""
  end
end
