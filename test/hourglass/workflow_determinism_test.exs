# A module of the user's own that shares a name and a function with a clock.
defmodule Hourglass.WorkflowDeterminismTest.MyApp.DateTime do
  def utc_now, do: ~U[2024-01-01 00:00:00Z]
end

defmodule Hourglass.WorkflowDeterminismTest do
  use ExUnit.Case, async: true

  import ExUnit.CaptureIO

  # Compiles a workflow module with `body` as its run/0 and returns the compiler's warnings.
  defp warnings(name, body) do
    module_warnings(name, """
    alias Hourglass.Workflow

    def run do
      #{body}
    end
    """)
  end

  # Compiles a workflow module with `contents` after its `use` and returns the warnings.
  defp module_warnings(name, contents) do
    capture_io(:stderr, fn ->
      Code.compile_string("""
      defmodule Hourglass.WorkflowDeterminismTest.#{name} do
        use Hourglass.Workflow
        #{contents}
      end
      """)
    end)
  end

  defp assert_hazard(output, name, call, hint) do
    assert output =~ "#{call} can break replay", "#{name}: #{output}"
    assert output =~ hint, "#{name}: #{output}"
    assert output =~ "Hourglass.WorkflowDeterminismTest.#{name}.run"
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

  test "the clocks, randomness and identities added in issue 26 are named" do
    cases = [
      {"StrongRand", ":crypto.strong_rand_bytes(16)", ":crypto.strong_rand_bytes", "uuid4"},
      {"DateTimeNow1", "DateTime.now(\"Etc/UTC\")", "DateTime.now", "wall-clock"},
      {"DateTimeNow2", "DateTime.now(\"Etc/UTC\", Calendar.UTCOnlyTimeZoneDatabase)",
       "DateTime.now", "wall-clock"},
      {"Timestamp", ":erlang.timestamp()", ":erlang.timestamp", "wall-clock"},
      {"Localtime", ":erlang.localtime()", ":erlang.localtime", "wall-clock"},
      {"NodeSelf", "Node.self()", "Node.self", "never put it in an id"},
      {"KernelSend", "Kernel.send(:somebody, :hello)", "Kernel.send", "outside the history"},
      {"PipedSend", ":somebody |> send(:hello)", "send/2", "a message outside the history"}
    ]

    for {name, body, call, hint} <- cases do
      assert_hazard(warnings(name, body), name, call, hint)
    end
  end

  test "calls are checked as the module's aliases and imports resolve them" do
    cases = [
      {"ModAlias", "alias DateTime, as: DT\ndef run, do: DT.utc_now()", "DateTime.utc_now"},
      {"ModImport", "import DateTime, only: [utc_now: 0]\ndef run, do: utc_now()",
       "DateTime.utc_now"},
      {"ModImportAll", "import System\ndef run, do: os_time()", "System.os_time"},
      {"ModImportCapture", "import DateTime, only: [utc_now: 0]\ndef run, do: &utc_now/0",
       "DateTime.utc_now"},
      {"ModRequireAs", "require DateTime, as: Clock\ndef run, do: Clock.utc_now()",
       "DateTime.utc_now"},
      {"ModErlangAlias", "alias :erlang, as: Erl\ndef run, do: Erl.timestamp()",
       ":erlang.timestamp"}
    ]

    for {name, contents, call} <- cases do
      assert_hazard(module_warnings(name, contents), name, call, "wall-clock")
    end
  end

  test "aliases and imports inside the function body are followed, in their scope" do
    cases = [
      {"BodyAlias", "alias DateTime, as: DT\nDT.utc_now()", "DateTime.utc_now"},
      {"BodyImport", "import DateTime, only: [utc_now: 0]\nutc_now()", "DateTime.utc_now"},
      {"BodyMultiAlias", "alias Elixir.{NaiveDateTime}\nNaiveDateTime.local_now()",
       "NaiveDateTime.local_now"},
      {"BodyNested", "alias DateTime, as: DT\nfn -> DT.utc_now() end", "DateTime.utc_now"}
    ]

    for {name, body, call} <- cases do
      assert_hazard(warnings(name, body), name, call, "wall-clock")
    end

    # A body alias of the user's own module takes the place of the module-level one.
    assert module_warnings("BodyOwnAlias", """
           def run do
             alias Hourglass.WorkflowDeterminismTest.MyApp.DateTime
             DateTime.utc_now()
           end
           """) == ""

    # An alias in a clause does not reach past it.
    output =
      warnings("ClauseAlias", """
      _ = fn -> alias Hourglass.WorkflowDeterminismTest.MyApp.DateTime, warn: false end
      DateTime.utc_now()
      """)

    assert_hazard(output, "ClauseAlias", "DateTime.utc_now", "wall-clock")
  end

  test "the user's own modules and local functions are not taken for the ones they shadow" do
    assert module_warnings("OwnModule", """
           alias Hourglass.WorkflowDeterminismTest.MyApp.DateTime
           def run, do: {DateTime.utc_now(), Hourglass.WorkflowDeterminismTest.MyApp.DateTime.utc_now()}
           """) == ""

    assert module_warnings("OwnImport", """
           import Hourglass.WorkflowDeterminismTest.MyApp.DateTime
           def run, do: utc_now()
           """) == ""

    assert module_warnings("LocalNow", """
           def run, do: now()
           defp now, do: Hourglass.Workflow.now()
           """) == ""

    assert module_warnings("LocalSend", """
           import Kernel, except: [send: 2]
           def run, do: send(:somebody, :hello)
           defp send(_to, message), do: message
           """) == ""
  end

  test "apply/3 with its module and function written out is checked as the call it makes" do
    cases = [
      {"Apply", "apply(DateTime, :utc_now, [])", "DateTime.utc_now"},
      {"KernelApply", "Kernel.apply(:erlang, :timestamp, [])", ":erlang.timestamp"},
      {"ErlangApply", ":erlang.apply(System, :os_time, [:second])", "System.os_time"},
      {"AliasApply", "alias DateTime, as: DT\napply(DT, :now, [\"Etc/UTC\"])", "DateTime.now"}
    ]

    for {name, body, call} <- cases do
      assert_hazard(warnings(name, body), name, "#{call} through apply/3", "wall-clock")
    end

    assert module_warnings("ApplyClean", """
           def run(module) do
             {apply(Map, :new, []), apply(module, :utc_now, []), apply(DateTime, :from_unix!, [0])}
           end
           """) == ""
  end

  test "reviewed/1 silences what it wraps, however it is named" do
    assert module_warnings("ReviewedForms", """
           alias Hourglass.Workflow
           alias Hourglass.Workflow, as: W
           alias DateTime, as: DT
           import Hourglass.Workflow, only: [reviewed: 1]

           def run do
             Workflow.reviewed(DT.utc_now())
             W.reviewed(apply(DateTime, :utc_now, []))
             W.reviewed(DateTime.utc_now())
             reviewed(:crypto.strong_rand_bytes(16))
             reviewed(Process.sleep(0))
             Node.self() |> Workflow.reviewed()
             DateTime.utc_now() |> W.reviewed()
             import DateTime, only: [now: 1]
             Workflow.reviewed(now("Etc/UTC"))
           end
           """) == ""
  end
end
