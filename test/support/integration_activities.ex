defmodule Hourglass.IntegrationActivities do
  @moduledoc false
  # Activities the integration tests run through a real server. Those that report to the test
  # process find it by the registered name passed as their argument.

  alias Hourglass.Activity

  @doc false
  def report(name, message) do
    # A name no test registered may not even exist as an atom ("nobody", say): then nobody is
    # told, as for a name nobody holds.
    with {:ok, name} <- existing_atom(name),
         pid when is_pid(pid) <- Process.whereis(name) do
      send(pid, message)
    end

    :ok
  end

  defp existing_atom(name) do
    {:ok, String.to_existing_atom(name)}
  rescue
    ArgumentError -> :error
  end

  defmodule Echo do
    @moduledoc false
    use Hourglass.Activity, name: "echo"
    def execute(value), do: {:ok, value}
  end

  defmodule FailUntil do
    @moduledoc false
    use Hourglass.Activity, name: "fail_until"

    # Fails every attempt before `attempt`, then returns the attempt number.
    def execute(attempt) do
      info = Activity.info()

      if info.attempt < attempt,
        do: {:error, "attempt #{info.attempt} fails"},
        else: {:ok, info.attempt}
    end
  end

  defmodule NonRetryable do
    @moduledoc false
    use Hourglass.Activity, name: "non_retryable"

    def execute do
      raise Hourglass.ApplicationError,
        type: "Fatal",
        message: "give up",
        non_retryable: true,
        details: [%{"why" => "testing"}]
    end
  end

  defmodule Resume do
    @moduledoc false
    use Hourglass.Activity, name: "resume"

    # Attempt 1 records progress in a heartbeat and fails; attempt 2 returns what it found.
    def execute do
      case Activity.info() do
        %{attempt: 1} ->
          Activity.heartbeat(%{"done" => 41})
          # Core throttles heartbeats; give it time to send this one before failing.
          Process.sleep(1_500)
          {:error, "crash after progress"}

        %{heartbeat_details: details} ->
          {:ok, details}
      end
    end
  end

  defmodule Silent do
    @moduledoc false
    use Hourglass.Activity, name: "silent"

    # Sleeps without heartbeating.
    def execute(ms) do
      Process.sleep(ms)
      :ok
    end
  end

  defmodule Heartbeating do
    @moduledoc false
    use Hourglass.Activity, name: "heartbeating"

    # Heartbeats until cancelled, telling the test when it starts and what stopped it.
    def execute(test) do
      Hourglass.IntegrationActivities.report(test, {:started, self(), Activity.info()})

      try do
        loop()
      rescue
        error in Activity.CancelledError ->
          Hourglass.IntegrationActivities.report(test, {:cancelled, self(), error.details})
          reraise error, __STACKTRACE__
      end
    end

    defp loop do
      Activity.heartbeat()
      Process.sleep(100)
      loop()
    end
  end

  defmodule Blocked do
    @moduledoc false
    use Hourglass.Activity, name: "blocked"

    # Waits for the test's go-ahead (or `ms`), then returns its attempt.
    def execute(test, ms) do
      Hourglass.IntegrationActivities.report(test, {:started, self(), Activity.info()})

      receive do
        :go -> :ok
      after
        ms -> :ok
      end

      {:ok, Activity.info().attempt}
    end
  end

  defmodule Concurrency do
    @moduledoc false
    use Hourglass.Activity, name: "concurrency"

    # Counts how many of these run at once, in a public ETS table the test created.
    def execute(table) do
      table = String.to_existing_atom(table)
      now = :ets.update_counter(table, :running, 1)
      :ets.select_replace(table, [{{:max, :"$1"}, [{:<, :"$1", now}], [{{:max, now}}]}])
      Process.sleep(50)
      :ets.update_counter(table, :running, -1)
      :ok
    end
  end

  defmodule Unencodable do
    @moduledoc false
    use Hourglass.Activity, name: "unencodable"
    def execute, do: {:ok, {:a, :tuple}}
  end

  defmodule CompleteLater do
    @moduledoc false
    use Hourglass.Activity, name: "complete_later"

    # Hands its attempt to the test process, which completes it through the client.
    def execute(test) do
      Hourglass.IntegrationActivities.report(test, {:complete_later, Activity.info()})
      Activity.complete_async()
    end
  end
end
