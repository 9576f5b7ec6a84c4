defmodule Hourglass.Activity.Info do
  @moduledoc """
  What a running activity knows about its attempt; returned by `Hourglass.Activity.info/0`.

  The fields are those of `Hourglass.ActivityTask` (minus the input) plus the task queue the
  attempt came from. `:workflow_id`, `:workflow_run_id` and `:workflow_type` are nil for a
  Standalone Activity; timeouts are milliseconds or nil.
  """

  defstruct [
    :task_token,
    :task_queue,
    :activity_id,
    :activity_type,
    :workflow_id,
    :workflow_run_id,
    :workflow_type,
    :workflow_namespace,
    :scheduled_time,
    :current_attempt_scheduled_time,
    :started_time,
    :schedule_to_close_timeout,
    :start_to_close_timeout,
    :heartbeat_timeout,
    attempt: 1,
    heartbeat_details: []
  ]

  @type t :: %__MODULE__{
          task_token: binary(),
          task_queue: String.t(),
          activity_id: String.t() | nil,
          activity_type: String.t(),
          attempt: pos_integer(),
          heartbeat_details: [term()],
          workflow_id: String.t() | nil,
          workflow_run_id: String.t() | nil,
          workflow_type: String.t() | nil,
          workflow_namespace: String.t() | nil,
          scheduled_time: DateTime.t() | nil,
          current_attempt_scheduled_time: DateTime.t() | nil,
          started_time: DateTime.t() | nil,
          schedule_to_close_timeout: non_neg_integer() | nil,
          start_to_close_timeout: non_neg_integer() | nil,
          heartbeat_timeout: non_neg_integer() | nil
        }

  @doc false
  @spec from_task(Hourglass.ActivityTask.t(), String.t()) :: t()
  def from_task(%Hourglass.ActivityTask{} = task, task_queue) do
    fields = task |> Map.from_struct() |> Map.drop([:input, :payload_codec])
    struct!(__MODULE__, Map.put(fields, :task_queue, task_queue))
  end
end
