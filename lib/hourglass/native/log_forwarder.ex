defmodule Hourglass.Native.LogForwarder do
  @moduledoc """
  Receives the Rust side's `tracing` events and logs them with Elixir's Logger.

  The level is set with `config :hourglass, :native, log_level: :warning` (read when the NIF
  loads) or at run time with `Hourglass.Native.set_log_level/1`. Each line carries the Rust
  target (module path) as `:native_target` metadata.

  Its mailbox is bounded: the NIF sends at most 4,096 records this process has not handled yet,
  and drops (and counts in `Hourglass.Native.stats/0`'s `log_dropped`) the rest, so a Logger
  that cannot keep up costs lines, not memory.
  """
  use GenServer
  require Logger

  @doc false
  def start_link(opts \\ []), do: GenServer.start_link(__MODULE__, opts, name: __MODULE__)

  @impl true
  def init(_opts) do
    :ok = Hourglass.Native.native_set_log_receiver(self())
    {:ok, nil}
  end

  @impl true
  def handle_info({:"$hourglass_log", level, target, message}, state) do
    Logger.log(level, message, native_target: target)
    # The NIF sends at most a bounded number of records not yet handled; beyond that it drops
    # and counts them (`Hourglass.Native.stats/0`'s `log_dropped`).
    Hourglass.Native.native_log_handled()
    {:noreply, state}
  end

  @impl true
  def terminate(_reason, _state) do
    Hourglass.Native.native_set_log_receiver(nil)
  end
end
