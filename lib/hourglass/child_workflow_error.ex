defmodule Hourglass.ChildWorkflowError do
  @moduledoc """
  How a child workflow ended, when it did not complete: `:cause` is
  `{:failed, %Hourglass.ApplicationError{}}`, `{:timed_out, type}`, `{:cancelled, details}` or
  `{:terminated, reason}` (the shapes `Hourglass.Client.workflow_result/3` answers with), or
  `{:start_failed, reason}` when the server did not start it (`:already_exists`,
  `:namespace_not_found`, …).
  """

  defexception [:workflow_type, :workflow_id, :cause]

  @type t :: %__MODULE__{
          workflow_type: String.t() | nil,
          workflow_id: String.t() | nil,
          cause: term()
        }

  @impl true
  def message(%__MODULE__{cause: {:failed, %{message: message}}} = error),
    do: "child workflow #{inspect(error.workflow_type)} (#{error.workflow_id}) failed: #{message}"

  def message(%__MODULE__{} = error),
    do:
      "child workflow #{inspect(error.workflow_type)} (#{error.workflow_id}) did not complete: " <>
        inspect(error.cause)
end
