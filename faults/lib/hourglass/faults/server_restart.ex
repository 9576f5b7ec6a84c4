defmodule Hourglass.Faults.ServerRestart do
  @moduledoc """
  The Temporal server restarted mid-run: a dev server persisting to a SQLite file is stopped
  while activities run and started again on the same port. The worker and client reconnect by
  themselves; every activity must complete.
  """

  alias Hourglass.{Client, DevServer}
  alias Hourglass.Faults.Activities.Work
  alias Hourglass.Faults.Support

  @doc "Runs the scenario with `count` activities."
  def run(_context, count) do
    dir = Path.join(System.tmp_dir!(), "hourglass-faults-#{System.unique_integer([:positive])}")
    File.mkdir_p!(dir)
    db = Path.join(dir, "temporal.db")
    port = free_port()
    {:ok, server} = DevServer.start_link(db_filename: db, port: port)
    Process.unlink(server)
    address = DevServer.address(server)
    {:ok, client} = Client.connect(address: address)
    queue = Support.queue("restart")

    worker =
      Support.start_worker(
        task_queue: queue,
        address: address,
        activities: [Work],
        max_concurrent_activities: count
      )

    handles =
      Support.start_batch(client, queue, "faults.work", count, [3_000],
        start_to_close_timeout: 20_000,
        heartbeat_timeout: 5_000
      )

    Process.sleep(1_000)
    DevServer.stop(server)
    Process.sleep(2_000)
    {:ok, server} = DevServer.start_link(db_filename: db, port: port)

    results = Support.await_all(client, handles)
    tally = Support.tally(results)
    Support.stop_worker(worker)
    DevServer.stop(server)
    File.rm_rf!(dir)

    %{
      scenario: "server restarted mid-run",
      activities: count,
      faults: 1,
      completed: tally.completed,
      lost: count - tally.completed,
      retried_attempts: Enum.count(results, &match?({:ok, %{"attempt" => n}} when n > 1, &1)),
      ok: tally.completed == count
    }
  end

  defp free_port do
    {:ok, socket} = :gen_tcp.listen(0, ip: {127, 0, 0, 1})
    {:ok, port} = :inet.port(socket)
    :gen_tcp.close(socket)
    port
  end
end
