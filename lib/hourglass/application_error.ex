defmodule Hourglass.ApplicationError do
  @moduledoc """
  A failed activity attempt, as Temporal's `ApplicationFailureInfo` describes it.

  Return it from `execute` as `{:error, %Hourglass.ApplicationError{...}}` or raise it:

      raise Hourglass.ApplicationError,
        message: "card declined",
        type: "CardDeclined",
        non_retryable: true,
        details: [%{"code" => 51}]

  Fields:

    * `:message` - what went wrong.
    * `:type` - a name the caller's retry policy can match (`non_retryable_error_types`).
    * `:non_retryable` - true stops retries whatever the retry policy says.
    * `:details` - a list of JSON-encodable terms carried with the failure.
    * `:next_retry_delay` - milliseconds; overrides the retry policy's delay for the next attempt.
    * `:stack_trace` - filled in by the runner when the error was raised.
  """

  defexception message: "activity failed",
               type: "ApplicationError",
               non_retryable: false,
               details: [],
               next_retry_delay: nil,
               stack_trace: nil

  @type t :: %__MODULE__{
          message: String.t(),
          type: String.t(),
          non_retryable: boolean(),
          details: [term()],
          next_retry_delay: non_neg_integer() | nil,
          stack_trace: String.t() | nil
        }
end
