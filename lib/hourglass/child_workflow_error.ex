defmodule Hourglass.ChildWorkflowError do
  @moduledoc """
  How a child workflow ended, when it did not complete: `:cause` is
  `{:failed, %Hourglass.ApplicationError{}}`, `{:timed_out, type}`, `{:cancelled, details}` or
  `{:terminated, reason}` (the shapes `Hourglass.Client.workflow_result/3` answers with), or
  `{:start_failed, reason}` when the server did not start it (`:already_exists`,
  `:namespace_not_found`, …).

  What the server said of the child comes with it when the child ran: `:namespace`,
  `:run_id`, `:initiated_event_id` and `:started_event_id` (its events in the parent's
  history) and `:retry_state` (`:maximum_attempts_reached`, `:non_retryable_failure`,
  `:timeout`, …). A workflow that fails with this error hands all of it back to the server,
  with its cause.
  """

  defexception [
    :workflow_type,
    :workflow_id,
    :cause,
    :namespace,
    :run_id,
    :initiated_event_id,
    :started_event_id,
    :retry_state
  ]

  @type t :: %__MODULE__{
          workflow_type: String.t() | nil,
          workflow_id: String.t() | nil,
          cause: term(),
          namespace: String.t() | nil,
          run_id: String.t() | nil,
          initiated_event_id: non_neg_integer() | nil,
          started_event_id: non_neg_integer() | nil,
          retry_state: atom() | nil
        }

  @impl true
  def message(%__MODULE__{cause: {:failed, %{message: message}}} = error),
    do: "child workflow #{inspect(error.workflow_type)} (#{error.workflow_id}) failed: #{message}"

  def message(%__MODULE__{} = error),
    do:
      "child workflow #{inspect(error.workflow_type)} (#{error.workflow_id}) did not complete: " <>
        inspect(error.cause)
end
