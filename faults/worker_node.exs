# A worker in a VM of its own, for what kills, stops or measures whole VMs (Hourglass.WorkerNode
# starts it). Run from the project root:
#   mix run --no-compile faults/worker_node.exs ADDRESS TASK_QUEUE [KEY=VALUE ...]
# with keys activities=Mod1,Mod2, workflows=Mod1,Mod2, native_activities=type1,type2,
# max_concurrent_activities=N, max_cached_workflows=N, max_concurrent_workflow_tasks=N,
# graceful_shutdown_timeout=MS, grpc_compression=gzip|none, log_level=LEVEL (Logger's and the
# NIF's, e.g. debug: what a test prints when it fails). Prints "READY <os pid>" once the
# worker polls. Then, for each line "stats" on stdin, prints one line
# "STATS beam=B rust=R run_processes=N run_process_bytes=P" (the VM's memory, the NIF's heap,
# and the workflow run processes with their memory: what the memory benchmarks measure inside
# the worker).
[address, task_queue | options] = System.argv()

{log_levels, options} = Enum.split_with(options, &String.starts_with?(&1, "log_level="))

for "log_level=" <> level <- log_levels do
  level = String.to_existing_atom(level)
  Logger.configure(level: level)
  :ok = Hourglass.Native.set_log_level(level)

  # The HTTP/2 and tower crates' lines (every frame) would drown what Hourglass and Core say.
  :logger.add_primary_filter(
    :no_transport_lines,
    {fn event, _ ->
       case event.meta do
         %{native_target: "h2::" <> _} -> :stop
         %{native_target: "tower::" <> _} -> :stop
         %{native_target: "hyper" <> _} -> :stop
         _ -> :ignore
       end
     end, nil}
  )
end

worker_opts =
  Enum.map(options, fn option ->
    case String.split(option, "=", parts: 2) do
      [kind, modules] when kind in ["activities", "workflows"] ->
        {String.to_atom(kind), for(name <- String.split(modules, ","), do: Module.concat([name]))}

      ["native_activities", types] ->
        {:native_activities, String.split(types, ",")}

      [key, value]
      when key in [
             "max_concurrent_activities",
             "max_cached_workflows",
             "max_concurrent_workflow_tasks",
             "graceful_shutdown_timeout"
           ] ->
        {String.to_atom(key), String.to_integer(value)}

      ["grpc_compression", mode] when mode in ["gzip", "none"] ->
        {:grpc_compression, String.to_atom(mode)}

      _ ->
        raise ArgumentError, "unknown worker node option: #{option}"
    end
  end)

# Under the application's supervisor, as in a user's tree: SIGTERM stops the VM through
# init:stop/0, which stops the application and so shuts the worker down gracefully.
{:ok, _} =
  Supervisor.start_child(
    Hourglass.Supervisor,
    {Hourglass.Worker, [task_queue: task_queue, address: address] ++ worker_opts}
  )

IO.puts("READY #{System.pid()}")

defmodule WorkerNode.Stats do
  @moduledoc false
  def line do
    for pid <- Process.list(), do: :erlang.garbage_collect(pid)
    runs = DynamicSupervisor.which_children(Hourglass.WorkflowExecutor.DynamicSupervisor)

    run_bytes =
      Enum.sum(
        for {_, pid, _, _} <- runs, is_pid(pid) do
          case Process.info(pid, :memory) do
            {:memory, bytes} -> bytes
            nil -> 0
          end
        end
      )

    "STATS beam=#{:erlang.memory(:total)} rust=#{Hourglass.Native.stats().rust_heap_bytes}" <>
      " run_processes=#{length(runs)} run_process_bytes=#{run_bytes}"
  end

  def serve do
    case IO.gets("") do
      "stats" <> _ ->
        IO.puts(line())
        serve()

      :eof ->
        Process.sleep(:infinity)

      _ ->
        serve()
    end
  end
end

WorkerNode.Stats.serve()
