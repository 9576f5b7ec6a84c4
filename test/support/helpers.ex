defmodule Hourglass.TestHelpers do
  @moduledoc false
  import ExUnit.Assertions

  @doc "A task queue name unique to this test."
  def unique_queue, do: "test-queue-#{System.unique_integer([:positive])}"

  @doc "A token unique to this test."
  def token, do: "token-#{System.unique_integer([:positive])}"

  @doc "The pid as a string, so a test activity can receive it as a JSON-friendly argument."
  def pid_arg(pid), do: pid |> :erlang.pid_to_list() |> List.to_string()

  @doc "Waits until `fun` returns true, polling; fails after `timeout` ms."
  def eventually(fun, timeout \\ 5_000) do
    Hourglass.Faults.Support.wait_until(fun, timeout) || flunk("condition not met in time")
    :ok
  end

  @doc """
  Reads what the program behind `port` prints until `pattern` matches it, and returns the
  match's captures. Fails, with the output so far, if the program exits or `timeout` ms pass
  first.
  """
  def await_output(port, pattern, timeout, buffer \\ "") do
    receive do
      {^port, {:data, data}} ->
        buffer = buffer <> data

        case Regex.run(pattern, buffer, capture: :all_but_first) do
          nil -> await_output(port, pattern, timeout, buffer)
          captures -> captures
        end

      {^port, {:exit_status, status}} ->
        flunk("the program exited with #{status}: #{buffer}")
    after
      timeout -> flunk("#{inspect(pattern)} not printed in #{timeout} ms: #{buffer}")
    end
  end

  @doc "Waits until no native task is live."
  def assert_no_live_native_tasks(timeout \\ 5_000) do
    eventually(fn -> Hourglass.Native.stats().live == 0 end, timeout)
  end
end
