defmodule Hourglass.Workflow.Handle do
  @moduledoc """
  What a workflow waits on: an activity or a timer it started, named by its kind and its
  sequence number in the run (`Hourglass.Workflow.await/1` takes it).
  """

  @enforce_keys [:kind, :seq]
  defstruct [:kind, :seq]

  @type t :: %__MODULE__{kind: :activity | :timer, seq: pos_integer()}
end
