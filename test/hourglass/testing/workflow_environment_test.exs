defmodule Hourglass.Testing.WorkflowEnvironmentTest do
  # The environment as its documentation sets it up: a dev server of its own, workers on task
  # queues of their own, activities mocked by functions, and every workflow replayed.
  use ExUnit.Case, async: true
  @moduletag :integration

  alias Hourglass.{ApplicationError, Client}
  alias Hourglass.PayloadCodec.Encryption
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

  test "a worker's payload codec: workflows started, finished and replayed with it",
       %{env: env} do
    codec = {Encryption, key_id: "env-test", key: :binary.copy(<<7>>, 32)}

    worker =
      Env.start_worker(env,
        workflows: [W.Approval],
        mock_activities: %{"echo" => fn order -> "mocked " <> order end},
        payload_codec: codec
      )

    # The worker keeps the codec's keys out of sight.
    refute inspect(worker) =~ "env-test"

    {:ok, run} = Env.start_workflow(env, worker, W.Approval, ["o-1"])
    :ok = Client.signal_workflow(worker.client, run, "approve", ["ada"])

    assert {:ok, %{"receipt" => "mocked o-1", "approver" => "ada"}} =
             Client.workflow_result(worker.client, run)

    # The server holds ciphertext: the input, the signal and the result were encoded.
    assert {:error, {:undecodable_result, _}} = Client.workflow_result(Env.client(env), run)
    {:ok, history} = Client.fetch_history(worker.client, run.workflow_id)
    refute history.data =~ "o-1"

    assert :ok = Env.replay_all(env, worker)
    # Without the codec, the same history cannot be decoded: that is no nondeterminism.
    assert {:error, [{_, {:workflow_task_failed, message}}]} =
             Env.replay_all(env, %{worker | payload_codec: nil})

    assert message =~ ~s(payload encoding "binary/encrypted" is not supported)
  end

  test "a worker's payload codec decodes what execute_workflow returns", %{env: env} do
    worker =
      Env.start_worker(env,
        workflows: [W.Failing],
        mock_activities: %{
          "non_retryable" => fn ->
            {:error, %ApplicationError{type: "Fatal", message: "mocked", non_retryable: true}}
          end
        },
        payload_codec: {Encryption, key_id: "env-test", key: :binary.copy(<<7>>, 32)}
      )

    assert {:error, {:failed, %ApplicationError{details: [%{"activity_error_type" => "Fatal"}]}}} =
             Env.execute_workflow(env, worker, W.Failing, [])

    assert :ok = Env.replay_all(env, worker)
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
