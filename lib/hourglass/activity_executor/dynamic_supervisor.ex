defmodule Hourglass.ActivityExecutor.DynamicSupervisor do
  @moduledoc """
  The one supervisor of every running activity attempt in the VM.

  Started by the Hourglass application and registered under this module's name. Each attempt is
  a `restart: :temporary` child — a `Task` running `Hourglass.ActivityRunner.run/2` — that exits
  when the attempt is done. Executors are never children of a worker, so they outlive a worker
  crash and still deliver their completion (or find the queue unregistered, in which case the
  server redelivers).

      {:ok, pid} =
        Hourglass.ActivityExecutor.DynamicSupervisor.start_child(%{
          activity_task: %{task_token: "t-1", activity_type: "greet", input: ["Ada"]},
          task_queue: "greetings"
        })
  """
  use DynamicSupervisor

  alias Hourglass.ActivityTask

  @typedoc """
  The arguments of `start_child/1`: the Start task (see `Hourglass.ActivityTask` for its shape)
  and the task queue it was polled from.
  """
  @type child_args :: %{activity_task: map(), task_queue: String.t()}

  @doc "Starts the supervisor, registered under this module's name."
  @spec start_link(keyword()) :: Supervisor.on_start()
  def start_link(opts \\ []) do
    DynamicSupervisor.start_link(__MODULE__, opts, name: __MODULE__)
  end

  @doc """
  Starts an executor for one attempt.

  A malformed task or task queue is refused with `{:error, reason}`
  (`{:invalid_child_args, term}`, `{:invalid_activity_task, message}`,
  `{:invalid_task_queue, term}`) and nothing is started. An activity type that the queue does
  not serve is started anyway and reported as a failed attempt, as the server expects.
  """
  @spec start_child(child_args()) :: DynamicSupervisor.on_start_child()
  def start_child(%{activity_task: task, task_queue: task_queue}) do
    with :ok <- check_task_queue(task_queue),
         {:ok, _task} <- ActivityTask.new(task) do
      spec = %{
        id: Task,
        start: {Task, :start_link, [Hourglass.ActivityRunner, :run, [task, task_queue]]},
        restart: :temporary
      }

      DynamicSupervisor.start_child(__MODULE__, spec)
    end
  end

  def start_child(other), do: {:error, {:invalid_child_args, other}}

  defp check_task_queue(task_queue) do
    if is_binary(task_queue) and String.valid?(task_queue),
      do: :ok,
      else: {:error, {:invalid_task_queue, task_queue}}
  end

  @impl true
  def init(opts) do
    DynamicSupervisor.init(Keyword.merge([strategy: :one_for_one, max_restarts: 0], opts))
  end
end
