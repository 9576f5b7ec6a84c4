defmodule Hourglass.Workflow.Determinism do
  @moduledoc """
  The compile-time check `use Hourglass.Workflow` installs: it warns on calls in a workflow
  module's functions that would make a replay take another path than the first run — wall-clock
  time, sleeping and `receive`, messages and processes (`send`, `spawn`, `Task`, `GenServer`,
  `Agent`), state outside the run (`:ets`, `:persistent_term`, the application environment),
  file, network and OS IO, and identities that differ between runs (`make_ref/0`, `self/0`,
  `node/0`, unique integers).

  A call that was reviewed and is safe (a log line, a read of configuration that never
  changes) is wrapped in `Hourglass.Workflow.reviewed/1`, which silences the check for what it
  wraps. Only the workflow module's own functions are checked, not functions of other modules
  it calls.
  """

  # {module, function} pairs (function nil for the whole module), and why each breaks replay.
  @remote [
    {DateTime, :utc_now, "wall-clock time; use Hourglass.Workflow.now/0"},
    {NaiveDateTime, :utc_now, "wall-clock time; use Hourglass.Workflow.now/0"},
    {NaiveDateTime, :local_now, "wall-clock time; use Hourglass.Workflow.now/0"},
    {Date, :utc_today, "wall-clock time; use Hourglass.Workflow.now/0"},
    {Time, :utc_now, "wall-clock time; use Hourglass.Workflow.now/0"},
    {System, :system_time, "wall-clock time; use Hourglass.Workflow.now/0"},
    {System, :os_time, "wall-clock time; use Hourglass.Workflow.now/0"},
    {System, :monotonic_time, "a clock; use Hourglass.Workflow.now/0"},
    {System, :unique_integer, "differs between runs; use Hourglass.Workflow.uuid4/0"},
    {System, :cmd, "runs an OS command; do it in an activity"},
    {System, :get_env, "reads the OS environment; pass it in as an argument"},
    {:os, nil, "reads the OS; do it in an activity"},
    {:calendar, :local_time, "wall-clock time; use Hourglass.Workflow.now/0"},
    {:calendar, :universal_time, "wall-clock time; use Hourglass.Workflow.now/0"},
    {:erlang, :now, "wall-clock time; use Hourglass.Workflow.now/0"},
    {:erlang, :system_time, "wall-clock time; use Hourglass.Workflow.now/0"},
    {:erlang, :monotonic_time, "a clock; use Hourglass.Workflow.now/0"},
    {:erlang, :unique_integer, "differs between runs; use Hourglass.Workflow.uuid4/0"},
    {:erlang, :make_ref, "differs between runs; use Hourglass.Workflow.uuid4/0"},
    {Process, :sleep, "blocks the run; use Hourglass.Workflow.sleep/1"},
    {:timer, :sleep, "blocks the run; use Hourglass.Workflow.sleep/1"},
    {Process, :send, "a message outside the history; use an activity or a signal"},
    {Process, :send_after, "a message outside the history; use Hourglass.Workflow.start_timer/1"},
    {Process, :spawn, "a process outside the run; use activities"},
    {Task, nil, "a process outside the run; start activities and await them"},
    {GenServer, nil, "a call outside the history; use an activity"},
    {Agent, nil, "state outside the history; keep it in the run's state"},
    {:gen_server, nil, "a call outside the history; use an activity"},
    {:ets, nil, "state outside the history; keep it in the run's state"},
    {:persistent_term, nil, "state outside the history; pass it in as an argument"},
    {Application, :get_env, "configuration can change between runs; pass it in"},
    {Application, :fetch_env, "configuration can change between runs; pass it in"},
    {Application, :fetch_env!, "configuration can change between runs; pass it in"},
    {File, nil, "file IO; do it in an activity"},
    {:file, nil, "file IO; do it in an activity"},
    {:gen_tcp, nil, "network IO; do it in an activity"},
    {:gen_udp, nil, "network IO; do it in an activity"},
    {:httpc, nil, "network IO; do it in an activity"},
    {Port, nil, "OS IO; do it in an activity"}
  ]

  @local %{
    send: "a message outside the history; use an activity or a signal",
    spawn: "a process outside the run; use activities",
    spawn_link: "a process outside the run; use activities",
    spawn_monitor: "a process outside the run; use activities",
    make_ref: "differs between runs; use Hourglass.Workflow.uuid4/0",
    self: "differs between runs: never put it in an id or a command",
    node: "differs between runs: never put it in an id or a command"
  }

  @doc false
  # The @on_definition hook: checks one function's body.
  def __on_definition__(env, kind, name, _args, _guards, body) when kind in [:def, :defp] do
    for {line, call, why} <- hazards(body) do
      IO.warn(
        "workflow #{inspect(env.module)}.#{name}: #{call} can break replay (#{why}); " <>
          "wrap a reviewed call in Hourglass.Workflow.reviewed/1",
        %{env | line: line}
      )
    end
  end

  def __on_definition__(_env, _kind, _name, _args, _guards, _body), do: :ok

  @doc "The nondeterministic calls in `ast`: `{line, call, why}`, outside `reviewed/1`."
  @spec hazards(Macro.t()) :: [{non_neg_integer(), String.t(), String.t()}]
  def hazards(nil), do: []

  def hazards(ast) do
    {_ast, found} =
      Macro.prewalk(ast, [], fn
        # What a reviewed/1 wraps is left alone.
        {{:., _, [{:__aliases__, _, aliases}, :reviewed]}, _, _} = node, found ->
          if List.last(aliases) == :Workflow, do: {:ok, found}, else: {node, found}

        {:receive, meta, [_ | _]} = node, found ->
          {node,
           [
             {meta[:line] || 0, "receive",
              "waits outside the history; use Hourglass.Workflow calls"}
             | found
           ]}

        {{:., meta, [module, function]}, _, args} = node, found when is_list(args) ->
          {node, remote(module, function, meta) ++ found}

        {name, meta, args} = node, found when is_atom(name) and is_list(args) ->
          case Map.fetch(@local, name) do
            {:ok, why} -> {node, [{meta[:line] || 0, "#{name}/#{length(args)}", why} | found]}
            :error -> {node, found}
          end

        node, found ->
          {node, found}
      end)

    Enum.reverse(found)
  end

  defp remote(module, function, meta) do
    module = module_of(module)

    case Enum.find(@remote, fn {m, f, _why} -> m == module and f in [nil, function] end) do
      nil -> []
      {_m, _f, why} -> [{meta[:line] || 0, "#{inspect(module)}.#{function}", why}]
    end
  end

  defp module_of({:__aliases__, _, aliases}), do: Module.concat(aliases)
  defp module_of(atom) when is_atom(atom), do: atom
  defp module_of(_other), do: nil
end
