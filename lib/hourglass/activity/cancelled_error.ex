defmodule Hourglass.Activity.CancelledError do
  @moduledoc """
  Raised by `Hourglass.Activity.heartbeat/0,1` once the attempt was cancelled. Let it propagate
  (or raise it yourself): the runner reports the attempt as cancelled.
  """
  defexception details: nil

  @impl true
  def message(%{details: details}), do: "activity cancelled: #{inspect(details)}"
end
