defmodule Hourglass do
  @moduledoc """
  Hourglass runs Temporal activities for Elixir applications.

  Every attempt is a supervised BEAM process under
  `Hourglass.ActivityExecutor.DynamicSupervisor`; activities written in Elixir
  (`Hourglass.Activity`) run in that process, and native ones (`Hourglass.Native`) run on a
  tokio runtime inside the NIF, owned by that process, without ever holding a BEAM scheduler.
  Completions go through `Hourglass.BridgeHolder`.
  """
end
