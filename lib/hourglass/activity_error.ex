defmodule Hourglass.ActivityError do
  @moduledoc """
  How an activity a workflow ran ended, when it did not complete: `:cause` is
  `{:failed, %Hourglass.ApplicationError{}}`, `{:timed_out, type}`, `{:cancelled, details}` or
  `{:terminated, reason}`, in the shapes `Hourglass.Client.result/3` answers with.
  """

  defexception [:activity_type, :cause]

  @type t :: %__MODULE__{activity_type: String.t() | nil, cause: term()}

  @impl true
  def message(%__MODULE__{activity_type: type, cause: {:failed, %{message: message}}}),
    do: "activity #{inspect(type)} failed: #{message}"

  def message(%__MODULE__{activity_type: type, cause: cause}),
    do: "activity #{inspect(type)} did not complete: #{inspect(cause)}"
end
