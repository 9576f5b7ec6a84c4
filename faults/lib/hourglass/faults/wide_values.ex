defmodule Hourglass.Faults.WideValues do
  @moduledoc """
  Wide values: the widest and biggest values the default converter accepts
  (`Hourglass.ValueGenerator`: maps of up to 100,000 keys, a list of 1,000,000 items, the deepest
  nesting, big integers, floats, a 1.5 MB text, Unicode keys) through every path of a worker and
  a real server: the payload API (where heavy values convert on tokio), an Elixir activity's
  input, heartbeat details and result, and the native echo's input and result.

  A value whose payload is over the server's blob limit (2 MB by default) must be refused by the
  client before it is sent, with `{:error, {:payload_too_large, message}}`; every other value
  must come back unchanged, and the VM must live through all of them (a map of more than 128
  keys made off a scheduler crashed it on OTP 25: erlang/otp#8208).

  The ExUnit suite runs the same cases at `:ci` size through more paths (test/hourglass and
  test/integration `wide_values_test.exs`); at CI size this scenario only checks a few.
  """

  alias Hourglass.{Client, Payload}
  alias Hourglass.Faults.Activities.Echo
  alias Hourglass.Faults.Support
  alias Hourglass.ValueGenerator, as: Gen

  # The server's default `limit.blobSize.error`, which the client checks before it sends.
  @blob_limit 2 * 1024 * 1024

  @doc "Runs the scenario with the generator's cases at `scale`."
  def run(%{address: address, client: client}, scale) do
    Gen.seed(20_261_201)
    cases = cases(scale)
    queue = Support.queue("wide")

    worker =
      Support.start_worker(
        task_queue: queue,
        address: address,
        activities: [Echo],
        native_activities: ["hourglass.echo"]
      )

    outcomes =
      try do
        for {name, value} <- cases, do: {name, check(client, queue, value)}
      after
        Support.stop_worker(worker)
      end

    wrong = for {name, outcome} <- outcomes, outcome not in [:ok, :refused], do: {name, outcome}

    %{
      scenario: "wide values",
      cases: length(cases),
      round_tripped: Enum.count(outcomes, &match?({_, :ok}, &1)),
      refused_as_too_large: for({name, :refused} <- outcomes, do: name),
      wrong: Enum.take(wrong, 3),
      lost: length(wrong),
      ok: wrong == []
    }
  end

  defp cases(:ci) do
    Enum.filter(Gen.cases(:ci), fn {name, _} ->
      name in ["a map of 129 keys", "a map of 20000 keys", "98 levels of nesting"]
    end)
  end

  defp cases(:full), do: Gen.cases(:full)

  # :ok when the value came back unchanged everywhere, :refused when the client refused it as
  # too large (and it is), else what went wrong.
  defp check(client, queue, value) do
    with {:ok, [payload]} <- Payload.from_values([value]),
         {:ok, [^value]} <- Payload.to_values([payload]) do
      through_worker(client, queue, value, byte_size(payload.data) > @blob_limit)
    else
      other -> {:payload_api, other}
    end
  end

  defp through_worker(client, queue, value, too_large?) do
    results =
      for type <- ["faults.echo", "hourglass.echo"] do
        Client.execute_activity(client, type, [value],
          task_queue: queue,
          start_to_close_timeout: 120_000,
          timeout: 180_000
        )
      end

    cond do
      too_large? and Enum.all?(results, &match?({:error, {:payload_too_large, _}}, &1)) ->
        :refused

      not too_large? and Enum.all?(results, &(&1 == {:ok, value})) ->
        :ok

      true ->
        {:through_the_worker, Enum.map(results, &summary/1)}
    end
  end

  defp summary({:ok, _value}), do: :ok_but_changed
  defp summary(other), do: other
end
