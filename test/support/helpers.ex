defmodule Hourglass.TestHelpers do
  @moduledoc false
  import ExUnit.Assertions

  @doc "A task queue name unique to this test."
  def unique_queue, do: "test-queue-#{System.unique_integer([:positive])}"

  @doc "A token unique to this test."
  def token, do: "token-#{System.unique_integer([:positive])}"

  @doc "The pid as a string, so a test activity can receive it as a JSON-friendly argument."
  def pid_arg(pid), do: pid |> :erlang.pid_to_list() |> List.to_string()

  @doc """
  Sends every log event at `level` or above to the calling process, as `{:logged, message}`
  (the message as a string), until `stop_sending_logs/1` with the returned handler id.
  """
  def send_logs(level \\ :warning) do
    id = :"hourglass_test_logs_#{System.unique_integer([:positive])}"
    :ok = :logger.add_handler(id, __MODULE__, %{level: level, config: %{pid: self()}})
    id
  end

  @doc """
  Waits for a `{:logged, message, meta}` from `send_logs/1` whose message contains every one
  of `parts`; fails after `timeout` ms.
  """
  def assert_logged(parts, timeout) do
    deadline = System.monotonic_time(:millisecond) + timeout

    receive do
      {:logged, message, _meta} ->
        unless Enum.all?(parts, &String.contains?(message, &1)),
          do: assert_logged(parts, max(deadline - System.monotonic_time(:millisecond), 0))
    after
      timeout -> flunk("no log line with #{inspect(parts)} in time")
    end
  end

  @doc "Stops what `send_logs/1` started."
  def stop_sending_logs(id), do: :logger.remove_handler(id)

  @doc false
  # The :logger handler callback of send_logs/1.
  def log(%{msg: msg, meta: meta}, %{config: %{pid: pid}}) do
    message =
      case msg do
        {:string, string} -> IO.chardata_to_string(string)
        {:report, report} -> inspect(report)
        {format, args} -> format |> :io_lib.format(args) |> IO.chardata_to_string()
      end

    send(pid, {:logged, message, meta})
  end

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
