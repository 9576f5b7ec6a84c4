defmodule Hourglass.Activity.NotInActivityError do
  @moduledoc "Raised when an activity-only function is called outside a running activity."
  defexception [:function]

  @impl true
  def message(%{function: function}) do
    "Hourglass.Activity.#{function} was called outside an activity: " <>
      "only code running inside an activity's execute/N may call it"
  end
end
