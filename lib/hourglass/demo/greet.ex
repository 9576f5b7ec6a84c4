defmodule Hourglass.Demo.Greet do
  @moduledoc """
  The demo's Elixir activity: greets a name, heartbeating once, as activities do.

      Hourglass.Demo.Greet.execute("Ada")  #=> {:ok, "Hello, Ada!"} (inside an activity)
  """
  use Hourglass.Activity, name: "demo.greet"

  @doc false
  def execute(name) when is_binary(name) do
    Hourglass.Activity.heartbeat()
    {:ok, "Hello, #{name}!"}
  end

  def execute(other),
    do:
      {:error,
       %Hourglass.ApplicationError{
         type: "InvalidArgument",
         message: "expected a name, got: #{inspect(other)}",
         non_retryable: true
       }}
end
