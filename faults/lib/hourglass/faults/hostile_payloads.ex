defmodule Hourglass.Faults.HostilePayloads do
  @moduledoc """
  Hostile payloads sent to a worker — invalid UTF-8 in `json/plain`, JSON nested 10,000 deep,
  unknown and missing encodings, a 50 MB argument, terms no payload can carry. Each must end in
  a clear error (the attempt failed with `PayloadDecodingError`, or the client refusing), and
  the worker must go on serving.
  """

  alias Hourglass.{ApplicationError, Client, Payload}
  alias Hourglass.Faults.Support

  @doc "Runs the scenario."
  def run(%{address: address, client: client}) do
    queue = Support.queue("hostile")

    worker =
      Support.start_worker(
        task_queue: queue,
        address: address,
        native_activities: ["hourglass.echo"]
      )

    opts = [
      task_queue: queue,
      start_to_close_timeout: 10_000,
      retry_policy: [maximum_attempts: 1]
    ]

    run = &Client.execute_activity(client, "hourglass.echo", &1, opts)
    deep = String.duplicate("[", 10_000) <> String.duplicate("]", 10_000)

    cases = [
      {"invalid UTF-8 in json/plain", fn -> run.([raw("json/plain", <<?", 0xFF, 0xFE, ?">>)]) end,
       &decoding_error?/1},
      {"JSON nested 10,000 deep", fn -> run.([raw("json/plain", deep)]) end, &decoding_error?/1},
      {"unknown encoding", fn -> run.([raw("binary/zstd", "x")]) end, &decoding_error?/1},
      {"no encoding", fn -> run.([%Payload{metadata: %{}, data: "1"}]) end, &decoding_error?/1},
      {"a 50 MB argument", fn -> run.([String.duplicate("x", 50_000_000)]) end,
       &match?({:error, {code, _}} when is_atom(code), &1)},
      {"a tuple", fn -> run.([{:not, :json}]) end, &match?({:error, {:invalid_argument, _}}, &1)},
      {"a pid", fn -> run.([self()]) end, &match?({:error, {:invalid_argument, _}}, &1)},
      {"still serving afterwards", fn -> run.([%{"fine" => true}]) end,
       &(&1 == {:ok, %{"fine" => true}})}
    ]

    outcomes =
      for {name, fun, clear?} <- cases do
        result = fun.()
        %{input: name, clear: clear?.(result), outcome: summarize(result)}
      end

    Support.stop_worker(worker)

    %{
      scenario: "hostile payloads",
      inputs: length(cases),
      unclear: Enum.reject(outcomes, & &1.clear),
      outcomes: outcomes,
      ok: Enum.all?(outcomes, & &1.clear)
    }
  end

  defp raw(encoding, data), do: %Payload{metadata: %{"encoding" => encoding}, data: data}

  defp decoding_error?(result),
    do:
      match?(
        {:error, {:failed, %ApplicationError{type: "PayloadDecodingError", non_retryable: true}}},
        result
      )

  defp summarize({:error, {:failed, %ApplicationError{type: type, message: message}}}),
    do: "failed #{type}: #{String.slice(message, 0, 120)}"

  defp summarize({:error, {code, message}}) when is_binary(message),
    do: "refused #{code}: #{String.slice(message, 0, 120)}"

  defp summarize(other), do: inspect(other, limit: 5, printable_limit: 120)
end
