defmodule Hourglass.Testing.WorkflowEnvironmentTest do
  # The environment as its documentation sets it up: a dev server of its own, workers on task
  # queues of their own, activities mocked by functions, and every workflow replayed.
  use ExUnit.Case, async: true
  @moduletag :integration

  alias Hourglass.{ApplicationError, Client}
  alias Hourglass.IntegrationWorkflows, as: W
  alias Hourglass.Testing.WorkflowEnvironment, as: Env

  setup_all do
    {:ok, env} = Env.start_link()
    %{env: env}
  end

  test "a workflow whose activity is a function: signalled, finished, replayed", %{env: env} do
    worker =
      Env.start_worker(env,
        workflows: [W.Approval],
        mock_activities: %{"echo" => fn order -> "mocked " <> order end}
      )

    client = Env.client(env)
    {:ok, run} = Env.start_workflow(env, worker, W.Approval, ["o-1"])
    :ok = Client.signal_workflow(client, run, "approve", ["ada"])

    assert {:ok, %{"receipt" => "mocked o-1", "approver" => "ada"}} =
             Client.workflow_result(client, run)

    {:ok, second} = Env.start_workflow(env, worker, "Approval", ["o-2"], id: "second-o-2")
    :ok = Client.signal_workflow(client, "second-o-2", "approve", ["bob"])
    assert {:ok, %{"receipt" => "mocked o-2"}} = Client.workflow_result(client, second)

    assert :ok = Env.replay_all(env, worker)
    # Replayed against changed code, the same histories fail, each named.
    assert {:error, [{_, {:nondeterminism, _}}, {_, {:nondeterminism, _}}]} =
             Env.replay_all(env, %{worker | workflows: [W.ApprovalChanged]})
  end

  test "a mock that fails as an activity does", %{env: env} do
    worker =
      Env.start_worker(env,
        workflows: [W.Failing],
        mock_activities: %{
          "non_retryable" => fn ->
            {:error, %ApplicationError{type: "Fatal", message: "mocked", non_retryable: true}}
          end
        }
      )

    assert {:error, {:failed, %ApplicationError{type: "Rejected", message: message}}} =
             Env.execute_workflow(env, worker, W.Failing, [])

    assert message == "the activity said: mocked"
    assert :ok = Env.replay_all(env, worker)
  end
end
