defmodule Hourglass.Bench.Workflows do
  @moduledoc false
  # The benchmark workflows, the same in every peer (bench/peers/README.md): they call the
  # Elixir activity "echo" (Hourglass.Bench.Activities.Echo) on the worker's own task queue.

  @echo [start_to_close_timeout: 30_000]

  @doc false
  def echo_options, do: @echo

  defmodule Seq3 do
    @moduledoc false
    # Three echo activities, one after another; returns the last result.
    use Hourglass.Workflow, name: "BenchSeq3"
    alias Hourglass.Workflow

    @impl true
    def run(value) do
      Enum.reduce_while(1..3, {:ok, value}, fn _, {:ok, value} ->
        case Workflow.execute_activity("echo", [value], Hourglass.Bench.Workflows.echo_options()) do
          {:ok, _} = ok -> {:cont, ok}
          error -> {:halt, error}
        end
      end)
    end
  end

  defmodule Par10 do
    @moduledoc false
    # Ten echo activities at once; returns how many came back equal to the input.
    use Hourglass.Workflow, name: "BenchPar10"
    alias Hourglass.Workflow

    @impl true
    def run(value) do
      handles =
        for _ <- 1..10,
            do: Workflow.start_activity("echo", [value], Hourglass.Bench.Workflows.echo_options())

      {:ok, Enum.count(Workflow.await_all(handles), &(&1 == {:ok, value}))}
    end
  end

  defmodule Timers5 do
    @moduledoc false
    # Five 50 ms timers, one after another; returns the input.
    use Hourglass.Workflow, name: "BenchTimers5"
    alias Hourglass.Workflow

    @impl true
    def run(value) do
      for _ <- 1..5, do: :ok = Workflow.sleep(50)
      {:ok, value}
    end
  end

  defmodule Idle do
    @moduledoc false
    # Waits for the signal "release", then returns the input: an idle cached run until then.
    use Hourglass.Workflow, name: "BenchIdle"
    alias Hourglass.Workflow

    @impl true
    def init(_args), do: %{released: false}

    @impl true
    def run(value) do
      :ok = Workflow.wait_condition(& &1.released)
      {:ok, value}
    end

    @impl true
    def handle_signal("release", [], state), do: %{state | released: true}
  end

  defmodule Long do
    @moduledoc false
    # Batches of 100 echo activities at once until the history has `events` events: the
    # replay benchmark's long history. Returns the history length it reached.
    use Hourglass.Workflow, name: "BenchLong"
    alias Hourglass.Workflow

    @impl true
    def run(events) do
      case Workflow.info().history_length do
        length when length >= events ->
          {:ok, length}

        _ ->
          options = Hourglass.Bench.Workflows.echo_options()
          handles = for i <- 1..100, do: Workflow.start_activity("echo", [i], options)
          Workflow.await_all(handles)
          run(events)
      end
    end
  end

  @doc false
  def all, do: [Seq3, Par10, Timers5, Idle]
end
