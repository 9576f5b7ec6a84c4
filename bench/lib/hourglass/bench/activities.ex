defmodule Hourglass.Bench.Activities do
  @moduledoc false
  # Elixir activities the benchmarks run.

  defmodule Noop do
    @moduledoc false
    use Hourglass.Activity, name: "bench.noop"
    def execute(_), do: :ok
  end

  defmodule Sleep do
    @moduledoc false
    use Hourglass.Activity, name: "bench.sleep"

    def execute(ms) do
      Process.sleep(ms)
      :ok
    end
  end

  defmodule Echo do
    @moduledoc false
    use Hourglass.Activity, name: "echo"
    def execute(value), do: {:ok, value}
  end
end
