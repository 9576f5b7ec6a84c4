defmodule Hourglass.WorkflowHistory do
  @moduledoc """
  A workflow run's history, as the server recorded it: what `Hourglass.Replayer` replays.

  `Hourglass.Client.fetch_history/2` fetches one; `data` is the protobuf encoding of
  `temporal.api.history.v1.History`, so a history can be kept in a file and replayed later
  (for instance in CI, against changed workflow code). `from_json/2` reads the JSON form that
  `temporal workflow show --output json` gives (proto3 JSON of the history).

      {:ok, history} = Hourglass.Client.fetch_history(client, "order-42")
      File.write!("test/histories/order-42.pb", history.data)

      history = Hourglass.WorkflowHistory.from_protobuf(File.read!("test/histories/order-42.pb"), "order-42")
      :ok = Hourglass.Replayer.replay_workflow(history, workflows: [MyApp.Order])
  """

  @enforce_keys [:workflow_id, :data]
  defstruct [:workflow_id, :data]

  @type t :: %__MODULE__{workflow_id: String.t(), data: binary()}

  @doc """
  A history from its JSON form (proto3 JSON, as `temporal workflow show --output json` writes
  it, payloads in full or in the CLI's shorthand) and the workflow id it belongs to.
  """
  @spec from_json(binary(), String.t()) :: {:ok, t()} | {:error, String.t()}
  def from_json(json, workflow_id) when is_binary(json) and is_binary(workflow_id) do
    with {:ok, data} <- Hourglass.Native.history_from_json(json),
         do: {:ok, from_protobuf(data, workflow_id)}
  end

  @doc "A history from its protobuf encoding and the workflow id it belongs to."
  @spec from_protobuf(binary(), String.t()) :: t()
  def from_protobuf(data, workflow_id) when is_binary(data) and is_binary(workflow_id),
    do: %__MODULE__{workflow_id: workflow_id, data: data}
end
