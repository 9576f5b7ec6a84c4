defmodule Hourglass.Telemetry do
  @moduledoc """
  `:telemetry` events, emitted only when the host application has the `telemetry` library
  loaded (checked at run time with `:erlang.module_loaded/1`; Hourglass itself does not depend
  on it).

  Events, all with `%{activity_type, activity_id, attempt, task_queue, workflow_id}` metadata:

    * `[:hourglass, :activity, :start]` - measurements `%{system_time, monotonic_time}`.
    * `[:hourglass, :activity, :stop]` - measurements `%{duration, monotonic_time}` (native
      time units); metadata also has `:result`: `:completed`, `:failed`, `:cancelled`, or
      (an Elixir activity's) `:will_complete_async`.
    * `[:hourglass, :activity, :exception]` - measurements `%{duration, monotonic_time}`;
      metadata also has `:kind`, `:reason` and `:stacktrace`, when `execute` raised, threw or
      exited.
  """

  @doc false
  @spec execute([atom()], map(), map()) :: :ok
  def execute(event, measurements, metadata) do
    # Only a loaded module counts: asking the code server to find one would serialise every
    # attempt of every activity through it. Attaching a handler loads :telemetry, and without
    # handlers there is nobody to tell.
    if :erlang.module_loaded(:telemetry) and function_exported?(:telemetry, :execute, 3) do
      apply(:telemetry, :execute, [event, measurements, metadata])
    end

    :ok
  end
end
