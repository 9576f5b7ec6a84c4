defmodule Hourglass.ActivityError do
  @moduledoc """
  How an activity a workflow ran ended, when it did not complete: `:cause` is
  `{:failed, %Hourglass.ApplicationError{}}`, `{:timed_out, type}`, `{:cancelled, details}` or
  `{:terminated, reason}`, in the shapes `Hourglass.Client.result/3` answers with.

  What the server said of the activity comes with it when the server ended it:
  `:activity_id`, `:scheduled_event_id` and `:started_event_id` (its events in the history),
  `:identity` (of the worker that ran the last attempt) and `:retry_state` (why it is not
  retried again: `:maximum_attempts_reached`, `:non_retryable_failure`, `:timeout`,
  `:cancel_requested`, …). A workflow that fails with this error hands all of it back to the
  server, with its cause.
  """

  defexception [
    :activity_type,
    :cause,
    :activity_id,
    :scheduled_event_id,
    :started_event_id,
    :identity,
    :retry_state
  ]

  @type t :: %__MODULE__{
          activity_type: String.t() | nil,
          cause: term(),
          activity_id: String.t() | nil,
          scheduled_event_id: non_neg_integer() | nil,
          started_event_id: non_neg_integer() | nil,
          identity: String.t() | nil,
          retry_state: atom() | nil
        }

  @impl true
  def message(%__MODULE__{activity_type: type, cause: {:failed, %{message: message}}}),
    do: "activity #{inspect(type)} failed: #{message}"

  def message(%__MODULE__{activity_type: type, cause: cause}),
    do: "activity #{inspect(type)} did not complete: #{inspect(cause)}"
end
