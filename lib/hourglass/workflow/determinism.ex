defmodule Hourglass.Workflow.Determinism do
  @moduledoc """
  The compile-time check `use Hourglass.Workflow` installs: it warns on calls in a workflow
  module's functions that would make a replay take another path than the first run — wall-clock
  time, sleeping and `receive`, messages and processes (`send`, `spawn`, `Task`, `GenServer`,
  `Agent`), state outside the run (`:ets`, `:persistent_term`, the application environment),
  file, network and OS IO, randomness outside the run's seed (`:crypto.strong_rand_bytes/1`),
  and identities that differ between runs (`make_ref/0`, `self/0`, `node/0`, unique integers).

  Calls are checked as the compiler resolves them: through the module's `alias`, `import` and
  `require ..., as:` (and those written earlier in the same function body), so
  `alias DateTime, as: DT` then `DT.utc_now()` is caught, while a module of your own named
  `MyApp.DateTime`, or a local function named like a clock, is not. A call through
  `apply/3` whose module and function are written out (`apply(DateTime, :utc_now, [])`) is
  checked as the call it makes; one whose module or function is computed is not.

  A call that was reviewed and is safe (a log line, a read of configuration that never
  changes) is wrapped in `Hourglass.Workflow.reviewed/1`, which silences the check for what it
  wraps. Only the workflow module's own functions are checked, not functions of other modules
  it calls.

  Map iteration is not checked, but it is a hazard too: iterating a map (`Enum` over a map,
  `for {k, v} <- map`, `Map.keys/1`, `Map.values/1`, `Map.to_list/1`) yields its keys in an
  order the VM chooses (`:maps.to_list/1` documents it as arbitrary). A map of more than 32
  keys iterates in the order of its keys' hashes, which OTP does not promise to keep across
  releases, and on OTP 26 and later a small map with atom keys may iterate in another order on
  another VM. Workflow code that issues commands or draws values (`Hourglass.Workflow.uuid4/0`,
  `:rand`) while it iterates a map sorts it first (`Enum.sort(map)`,
  `map |> Map.keys() |> Enum.sort()`), or a replay on another node or release can take another
  path.
  """

  @clock "wall-clock time; use Hourglass.Workflow.now/0"

  # {module, function} pairs (function nil for the whole module), and why each breaks replay.
  @remote [
    {DateTime, :utc_now, @clock},
    {DateTime, :now, @clock},
    {NaiveDateTime, :utc_now, @clock},
    {NaiveDateTime, :local_now, @clock},
    {Date, :utc_today, @clock},
    {Time, :utc_now, @clock},
    {System, :system_time, @clock},
    {System, :os_time, @clock},
    {System, :monotonic_time, "a clock; use Hourglass.Workflow.now/0"},
    {System, :unique_integer, "differs between runs; use Hourglass.Workflow.uuid4/0"},
    {System, :cmd, "runs an OS command; do it in an activity"},
    {System, :get_env, "reads the OS environment; pass it in as an argument"},
    {:os, nil, "reads the OS; do it in an activity"},
    {:calendar, :local_time, @clock},
    {:calendar, :universal_time, @clock},
    {:erlang, :now, @clock},
    {:erlang, :timestamp, @clock},
    {:erlang, :localtime, @clock},
    {:erlang, :system_time, @clock},
    {:erlang, :monotonic_time, "a clock; use Hourglass.Workflow.now/0"},
    {:erlang, :unique_integer, "differs between runs; use Hourglass.Workflow.uuid4/0"},
    {:erlang, :make_ref, "differs between runs; use Hourglass.Workflow.uuid4/0"},
    {:crypto, :strong_rand_bytes,
     "differs between runs; use Hourglass.Workflow.uuid4/0 or :rand, which the run seeds"},
    {Node, :self, "differs between runs: never put it in an id or a command"},
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
    {Port, nil, "OS IO; do it in an activity"},
    # Kernel's, whether called as Kernel.send/2 or, imported, as send/2.
    {Kernel, :send, "a message outside the history; use an activity or a signal"},
    {Kernel, :spawn, "a process outside the run; use activities"},
    {Kernel, :spawn_link, "a process outside the run; use activities"},
    {Kernel, :spawn_monitor, "a process outside the run; use activities"},
    {Kernel, :make_ref, "differs between runs; use Hourglass.Workflow.uuid4/0"},
    {Kernel, :self, "differs between runs: never put it in an id or a command"},
    {Kernel, :node, "differs between runs: never put it in an id or a command"}
  ]

  # The functions that call the function their arguments name: {module, function, arity}.
  @apply [{Kernel, :apply, 3}, {:erlang, :apply, 3}]

  @doc false
  # The @on_definition hook: checks one function's body.
  def __on_definition__(env, kind, name, _args, _guards, body) when kind in [:def, :defp] do
    for {line, call, why} <- hazards(body, env) do
      IO.warn(
        "workflow #{inspect(env.module)}.#{name}: #{call} can break replay (#{why}); " <>
          "wrap a reviewed call in Hourglass.Workflow.reviewed/1",
        %{env | line: line}
      )
    end
  end

  def __on_definition__(_env, _kind, _name, _args, _guards, _body), do: :ok

  @doc """
  The nondeterministic calls in `ast`: `{line, call, why}`, outside `reviewed/1`.

  Aliases and imports resolve as in `env` (the definition's environment), then as the
  `alias`, `import` and `require` forms inside `ast` change it; by default, an environment
  with no aliases and Kernel's imports.
  """
  @spec hazards(Macro.t(), Macro.Env.t() | nil) :: [
          {non_neg_integer(), String.t(), String.t()}
        ]
  def hazards(ast, env \\ nil)

  def hazards(nil, _env), do: []

  def hazards(ast, env) do
    scope = %{env: env || Code.env_for_eval([]), aliases: %{}, imports: []}
    {_scope, found} = walk(ast, scope, [])
    Enum.reverse(found)
  end

  # Walks `ast` in `scope` (the definition's env plus what the function body has added to it
  # by `alias`, `import` and `require ..., as:` before this expression: aliases
  # %{Alias => Module} and imports [{module, opts}], latest first). Returns the scope after
  # `ast` (what a directive adds is seen by the expressions after it in the same block, and
  # nowhere else) and the hazards found so far, latest first.
  defp walk({:__block__, _meta, exprs}, scope, found) when is_list(exprs) do
    Enum.reduce(exprs, {scope, found}, fn expr, {scope, found} -> walk(expr, scope, found) end)
  end

  defp walk({directive, _meta, [_ | _]} = node, scope, found)
       when directive in [:alias, :import, :require] do
    {directive(node, scope), found}
  end

  # `left |> f(args)` is `f(left, args)`: checked with the arity the call has.
  defp walk({:|>, _meta, [left, right]} = node, scope, found) do
    case unpipe(left, right) do
      {:ok, call} -> walk(call, scope, found)
      :error -> walk_call(node, scope, found)
    end
  end

  defp walk({:receive, meta, [_ | _]} = node, scope, found) do
    hazard = {line(meta), "receive", "waits outside the history; use Hourglass.Workflow calls"}
    walk_call(node, scope, [hazard | found])
  end

  # A local capture, `&name/arity`.
  defp walk({:&, meta, [{:/, _, [{name, _, context}, arity]}]} = node, scope, found)
       when is_atom(name) and is_atom(context) and is_integer(arity) do
    case resolve_import(name, arity, scope) do
      nil -> walk_call(node, scope, found)
      module -> {scope, check(module, name, arity, :local, meta) ++ found}
    end
  end

  # A remote call, `module.function(args)`.
  defp walk({{:., _, [module, function]}, meta, args} = node, scope, found)
       when is_atom(function) and is_list(args) do
    case resolve_module(module, scope) do
      nil -> walk_call(node, scope, found)
      module -> visit(module, function, args, :remote, meta, node, scope, found)
    end
  end

  # A local call, `function(args)`: a remote call when it names an import.
  defp walk({function, meta, args} = node, scope, found)
       when is_atom(function) and is_list(args) do
    case resolve_import(function, length(args), scope) do
      nil -> walk_call(node, scope, found)
      module -> visit(module, function, args, :local, meta, node, scope, found)
    end
  end

  defp walk({_, _, _} = node, scope, found), do: walk_call(node, scope, found)
  defp walk({left, right}, scope, found), do: {scope, walk_list([left, right], scope, found)}
  defp walk(list, scope, found) when is_list(list), do: {scope, walk_list(list, scope, found)}
  defp walk(_leaf, scope, found), do: {scope, found}

  # What a reviewed/1 wraps is left alone.
  defp visit(Hourglass.Workflow, :reviewed, [_], _kind, _meta, _node, scope, found),
    do: {scope, found}

  defp visit(module, function, args, kind, meta, node, scope, found) do
    found = check(module, function, length(args), kind, meta) ++ found

    found =
      if {module, function, length(args)} in @apply,
        do: applied(args, meta, scope) ++ found,
        else: found

    walk_call(node, scope, found)
  end

  # The children of a call or other node; what they add to the scope stays inside them.
  defp walk_call({form, _meta, args}, scope, found) do
    found = if is_atom(form), do: found, else: walk_list([form], scope, found)
    {scope, if(is_list(args), do: walk_list(args, scope, found), else: found)}
  end

  defp walk_list(list, scope, found) do
    Enum.reduce(list, found, fn ast, found -> elem(walk(ast, scope, found), 1) end)
  end

  defp unpipe(left, right) do
    {:ok, Macro.pipe(left, right, 0)}
  rescue
    ArgumentError -> :error
  end

  defp check(module, function, arity, kind, meta) do
    case why(module, function) do
      nil -> []
      why -> [{line(meta), describe(module, function, arity, kind), why}]
    end
  end

  # apply(Module, :function, args) with the module and function written out.
  defp applied([module, function, _args], meta, scope) when is_atom(function) do
    with module when module != nil <- resolve_module(module, scope),
         why when why != nil <- why(module, function) do
      [{line(meta), "#{inspect(module)}.#{function} through apply/3", why}]
    else
      _ -> []
    end
  end

  defp applied(_args, _meta, _scope), do: []

  defp why(module, function) do
    Enum.find_value(@remote, fn {m, f, why} ->
      if m == module and f in [nil, function], do: why
    end)
  end

  defp describe(Kernel, function, arity, :local), do: "#{function}/#{arity}"
  defp describe(module, function, _arity, _kind), do: "#{inspect(module)}.#{function}"

  defp line(meta), do: meta[:line] || 0

  ## Resolving names as the compiler does.

  # The module a module expression names: an atom, an alias (as the body's aliases, then the
  # env's, expand it) or __MODULE__; nil for anything computed.
  defp resolve_module(module, _scope) when is_atom(module), do: module

  defp resolve_module({:__MODULE__, _, context}, scope) when is_atom(context),
    do: scope.env.module

  # (An alias with an :alias in its meta comes from a quote, which resolved it already.)
  defp resolve_module({:__aliases__, meta, [head | tail]} = alias, scope) do
    with true <- is_atom(head) and not Keyword.has_key?(meta, :alias),
         {:ok, module} <- Map.fetch(scope.aliases, Module.concat([head])) do
      Module.concat([module | tail])
    else
      _ ->
        case Macro.expand(alias, scope.env) do
          module when is_atom(module) -> module
          _other -> nil
        end
    end
  end

  defp resolve_module(_module, _scope), do: nil

  # The module whose import `name/arity` calls: the body's imports first (an import of a
  # module replaces the env's import of it), then the env's; nil for a local function.
  defp resolve_import(name, arity, scope) do
    from_body =
      Enum.find_value(scope.imports, fn {module, opts} ->
        if imports?(module, opts, name, arity), do: module
      end)

    from_body ||
      Enum.find_value(Macro.Env.lookup_import(scope.env, {name, arity}), fn {_kind, module} ->
        if not List.keymember?(scope.imports, module, 0), do: module
      end)
  end

  defp imports?(module, opts, name, arity) do
    loaded? = Code.ensure_loaded?(module)
    function? = loaded? and function_exported?(module, name, arity)
    macro? = loaded? and macro_exported?(module, name, arity)
    text = Atom.to_string(name)

    case Keyword.get(opts, :only) do
      only when is_list(only) ->
        {name, arity} in only

      :functions ->
        function? and not String.starts_with?(text, "_")

      :macros ->
        macro? and not String.starts_with?(text, "_")

      :sigils ->
        (function? or macro?) and String.starts_with?(text, "sigil_")

      _all ->
        except = Keyword.get(opts, :except)

        (function? or macro?) and not String.starts_with?(text, "_") and
          not (is_list(except) and {name, arity} in except)
    end
  end

  # The scope after an `alias`, `import` or `require` form.
  defp directive({:alias, _meta, [{{:., _, [base, :{}]}, _, children} | _]}, scope)
       when is_list(children) do
    case resolve_module(base, scope) do
      nil ->
        scope

      base ->
        Enum.reduce(children, scope, fn
          {:__aliases__, _, names}, scope ->
            if Enum.all?(names, &is_atom/1),
              do: add_alias(scope, Module.concat([base | names]), nil),
              else: scope

          _child, scope ->
            scope
        end)
    end
  end

  defp directive({:alias, _meta, [module | opts]}, scope),
    do: add_alias(scope, resolve_module(module, scope), as(opts))

  defp directive({:require, _meta, [module, opts]}, scope) when is_list(opts) do
    if Keyword.has_key?(opts, :as),
      do: add_alias(scope, resolve_module(module, scope), opts[:as]),
      else: scope
  end

  defp directive({:import, _meta, [module | opts]}, scope) do
    case resolve_module(module, scope) do
      nil ->
        scope

      module ->
        opts = if match?([list] when is_list(list), opts), do: hd(opts), else: []
        imports = [{module, opts} | List.keydelete(scope.imports, module, 0)]
        %{scope | imports: imports}
    end
  end

  defp directive(_node, scope), do: scope

  defp as([opts]) when is_list(opts), do: Keyword.get(opts, :as)
  defp as(_opts), do: nil

  defp add_alias(scope, nil, _as), do: scope

  defp add_alias(scope, module, as) do
    short =
      case {as, Atom.to_string(module)} do
        {nil, "Elixir." <> _} -> Module.concat([module |> Module.split() |> List.last()])
        {{:__aliases__, _, [name]}, _} when is_atom(name) -> Module.concat([name])
        _other -> nil
      end

    if short,
      do: %{scope | aliases: Map.put(scope.aliases, short, module)},
      else: scope
  end
end
