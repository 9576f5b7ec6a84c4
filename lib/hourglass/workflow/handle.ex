defmodule Hourglass.Workflow.Handle do
  @moduledoc """
  What a workflow waits on: an activity, a timer or a child workflow it started, named by its
  kind and its sequence number in the run (`Hourglass.Workflow.await/1` takes it). A child
  workflow's handle also carries its workflow id and run id (`signal_external_workflow/4` and
  `cancel_external_workflow/2` take it).
  """

  @enforce_keys [:kind, :seq]
  defstruct [:kind, :seq, :workflow_id, :run_id]

  @type t :: %__MODULE__{
          kind: :activity | :timer | :child,
          seq: pos_integer(),
          workflow_id: String.t() | nil,
          run_id: String.t() | nil
        }
end
