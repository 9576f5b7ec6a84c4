defmodule Hourglass.WideValueActivities do
  @moduledoc false
  # Activities that carry a value, as it is, through every place a value travels: input,
  # heartbeat details, result and failure details. The wide-values tests send them values of
  # every shape and size (Hourglass.ValueGenerator).

  alias Hourglass.{Activity, ApplicationError}

  defmodule Echo do
    @moduledoc false
    use Hourglass.Activity, name: "wide_values.echo"

    def execute(value) do
      Activity.heartbeat(value)
      {:ok, value}
    end
  end

  defmodule Fail do
    @moduledoc false
    use Hourglass.Activity, name: "wide_values.fail"

    def execute(value) do
      {:error,
       %ApplicationError{type: "Wide", message: "as asked", non_retryable: true, details: [value]}}
    end
  end

  defmodule Resume do
    @moduledoc false
    use Hourglass.Activity, name: "wide_values.resume"

    # Attempt 1 heartbeats the value and fails; attempt 2 returns the details it resumed from.
    def execute(value) do
      case Activity.info() do
        %{attempt: 1} ->
          Activity.heartbeat(value)
          # Core throttles heartbeats; give it time to send this one before failing.
          Process.sleep(1_500)
          {:error, "fail after the heartbeat"}

        %{heartbeat_details: details} ->
          {:ok, details}
      end
    end
  end

  defmodule Hold do
    @moduledoc false
    use Hourglass.Activity, name: "wide_values.hold"

    # Heartbeats the value, tells the test, and holds until the test lets it go.
    def execute(value, test) do
      Activity.heartbeat(value)
      Hourglass.IntegrationActivities.report(test, {:holding, self()})

      receive do
        :go -> {:ok, "released"}
      after
        60_000 -> {:error, "never released"}
      end
    end
  end
end
