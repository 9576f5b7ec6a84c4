defmodule Hourglass.Faults.Activities do
  @moduledoc "The activities the fault scenarios run."

  defmodule Work do
    @moduledoc """
    Works for `ms` milliseconds, heartbeating, and returns which attempt and which OS process
    ran it. While it runs it counts itself in the `#{inspect(__MODULE__)}` ETS table, when
    that exists, so a scenario can see the most that ever ran at once from inside, and records
    its pid under `{:pid, activity_id}` there.

    Given `%{"until_running" => n, "at_most" => ms}` instead, it works until `n` attempts have
    been counted running at once (a barrier: a check that all slots can be busy together does
    not depend on how quickly the server hands the tasks out), or for `ms` milliseconds when
    that never happens.
    """
    use Hourglass.Activity, name: "faults.work"

    @table __MODULE__

    @doc false
    def table, do: @table

    def execute(ms) do
      counted? = :ets.whereis(@table) != :undefined

      if counted? do
        # Where this attempt runs, for a scenario that kills it on purpose.
        :ets.insert(@table, {{:pid, Hourglass.Activity.info().activity_id}, self()})
        now = :ets.update_counter(@table, :in_flight, 1)
        # Raise the recorded maximum to `now`, atomically, if it is lower.
        :ets.select_replace(@table, [{{:max, :"$1"}, [{:<, :"$1", now}], [{{:max, now}}]}])
      end

      try do
        work(ms)
      after
        if counted?, do: :ets.update_counter(@table, :in_flight, -1)
      end

      info = Hourglass.Activity.info()
      {:ok, %{"attempt" => info.attempt, "os_pid" => System.pid()}}
    end

    defp work(%{"until_running" => _, "at_most" => _} = barrier),
      do: wait(barrier, System.monotonic_time(:millisecond))

    defp work(ms) when ms <= 0, do: :ok

    defp work(ms) do
      Process.sleep(min(ms, 200))
      Hourglass.Activity.heartbeat()
      work(ms - 200)
    end

    defp wait(%{"until_running" => n, "at_most" => ms} = barrier, started) do
      # `:max` only grows, so every waiter sees the barrier reached, also after the first one
      # has left.
      waited = System.monotonic_time(:millisecond) - started

      if :ets.lookup_element(@table, :max, 2) < n and waited < ms do
        Process.sleep(20)
        # About every 200 ms, as the timed form does.
        if div(waited + 20, 200) > div(waited, 200), do: Hourglass.Activity.heartbeat()
        wait(barrier, started)
      end
    end
  end

  defmodule Echo do
    @moduledoc "Heartbeats its argument and returns it."
    use Hourglass.Activity, name: "faults.echo"

    def execute(value) do
      Hourglass.Activity.heartbeat(value)
      {:ok, value}
    end
  end
end
