defmodule Hourglass.TestActivities do
  @moduledoc false
  # Activities the ExUnit suite runs; each shows one behaviour of the runner.

  defmodule Greet do
    @moduledoc false
    use Hourglass.Activity, name: "greet"
    def execute(name), do: {:ok, "Hello, #{name}!"}
  end

  defmodule Plain do
    @moduledoc false
    use Hourglass.Activity
    def execute, do: :ok
  end

  defmodule Outcome do
    @moduledoc false
    use Hourglass.Activity, name: "outcome"

    def execute("error_tuple"), do: {:error, :out_of_stock}
    def execute("error_string"), do: {:error, "out of stock"}

    def execute("app_error") do
      {:error,
       %Hourglass.ApplicationError{
         type: "CardDeclined",
         message: "declined",
         non_retryable: true,
         details: [%{"code" => 51}],
         next_retry_delay: 2_000
       }}
    end

    def execute("raise_app_error"),
      do: raise(Hourglass.ApplicationError, type: "Raised", message: "raised it")

    def execute("raise"), do: raise(ArgumentError, "bad argument here")
    def execute("throw"), do: throw(:ball)
    def execute("exit"), do: exit(:gone)
    def execute("weird"), do: :weird
  end

  defmodule Introspect do
    @moduledoc false
    use Hourglass.Activity, name: "introspect"

    def execute do
      Hourglass.Activity.heartbeat(%{"step" => 1})
      Hourglass.Activity.heartbeat()
      {:ok, Map.from_struct(Hourglass.Activity.info())}
    end
  end

  defmodule WaitForCancel do
    @moduledoc false
    use Hourglass.Activity, name: "wait_for_cancel"

    # Tells the test it is running, then heartbeats until cancelled.
    def execute(test_pid) do
      send(:erlang.list_to_pid(String.to_charlist(test_pid)), {:running, self()})
      loop()
    end

    defp loop do
      Process.sleep(5)
      Hourglass.Activity.heartbeat()
      loop()
    end
  end

  defmodule PollCancelled do
    @moduledoc false
    use Hourglass.Activity, name: "poll_cancelled"

    def execute(test_pid) do
      send(:erlang.list_to_pid(String.to_charlist(test_pid)), {:running, self()})
      wait()
    end

    defp wait do
      if Hourglass.Activity.cancelled?(), do: {:ok, "stopped cleanly"}, else: wait_more()
    end

    defp wait_more do
      Process.sleep(5)
      wait()
    end
  end

  defmodule LogMetadata do
    @moduledoc false
    use Hourglass.Activity, name: "log_metadata"
    require Logger

    def execute do
      {:ok,
       Logger.metadata()
       |> Map.new()
       |> Map.take([:activity_id, :activity_type, :attempt, :task_queue, :workflow_id])
       |> Map.new(fn {k, v} -> {Atom.to_string(k), v} end)}
    end
  end

  defmodule Counter do
    @moduledoc false
    use Hourglass.Activity, name: "counter"

    # Counts from where the last attempt's heartbeat left off, heartbeating each step.
    def execute(to) do
      from =
        case Hourglass.Activity.info().heartbeat_details do
          [done] -> done
          [] -> 0
        end

      Enum.each((from + 1)..to//1, &Hourglass.Activity.heartbeat/1)
      {:ok, to}
    end
  end

  defmodule Later do
    @moduledoc false
    use Hourglass.Activity, name: "later"

    def execute, do: Hourglass.Activity.complete_async()
  end

  defmodule Crash do
    @moduledoc false
    use Hourglass.Activity, name: "crash"

    # Dies without shipping a completion, as a process killed from outside would.
    def execute, do: Process.exit(self(), :kill)
  end
end
