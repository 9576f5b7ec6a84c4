defmodule Hourglass.Demo.Order do
  @moduledoc """
  The demo's workflow (`mix hourglass.demo --workflows`): greets the customer and checksums
  the order at the same time (an Elixir activity and a native one), waits a durable timer, then
  echoes the receipt through a native activity.
  """
  use Hourglass.Workflow, name: "demo.Order"
  alias Hourglass.Workflow

  @activity [start_to_close_timeout: 30_000]

  @impl true
  def run(order) when is_map(order) do
    greeting = Workflow.start_activity("demo.greet", [order["customer"]], @activity)

    checksum =
      Workflow.start_activity(
        "hourglass.sha256",
        [%{"data" => inspect(order), "rounds" => 1_000}],
        @activity
      )

    with [{:ok, greeting}, {:ok, checksum}] <- Workflow.await_all([greeting, checksum]),
         :ok <- Workflow.sleep(100),
         {:ok, receipt} <-
           Workflow.execute_activity(
             "hourglass.echo",
             [%{"order" => order["id"], "greeting" => greeting, "checksum" => checksum}],
             @activity
           ) do
      {:ok, receipt}
    else
      [_, _] = outcomes -> Enum.find(outcomes, &match?({:error, _}, &1))
      {:error, _} = error -> error
    end
  end
end
