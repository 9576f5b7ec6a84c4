defmodule Mix.Tasks.Hourglass.ReplayTest do
  # mix hourglass.replay as CI runs it (a `mix` of its own, on history files), on the history
  # of a workflow whose worker encrypted its payloads.
  use Hourglass.IntegrationCase, async: true

  alias Hourglass.Client
  alias Hourglass.IntegrationWorkflows, as: W
  alias Hourglass.PayloadCodec.Encryption

  @codec {Encryption, key_id: "replay-task", key: :binary.copy(<<7>>, 32)}
  @codec_options ~S{[key_id: "replay-task", key: :binary.copy(<<7>>, 32)]}

  defp replay(files, args) do
    System.cmd(
      "mix",
      ["hourglass.replay" | files] ++ ["--workflows", inspect(W.Approval)] ++ args,
      env: [{"MIX_ENV", "test"}],
      stderr_to_stdout: true
    )
  end

  @tag :tmp_dir
  test "--payload-codec: an encrypted history replays with its codec, and only with it", ctx do
    start_worker(ctx,
      workflows: [W.Approval],
      activities: [Hourglass.IntegrationActivities.Echo],
      payload_codec: @codec
    )

    {:ok, client} = Client.connect(address: ctx.address, payload_codec: @codec)
    id = "encrypted-#{ctx.queue}"

    {:ok, handle} =
      Client.start_workflow(client, "Approval", ["secret order"], id: id, task_queue: ctx.queue)

    :ok = Client.signal_workflow(client, handle, "approve", ["eve"])
    assert {:ok, %{"receipt" => "secret order"}} = Client.workflow_result(client, handle)

    {:ok, history} = Client.fetch_history(client, id)
    file = Path.join(ctx.tmp_dir, "encrypted.pb")
    File.write!(file, history.data)

    codec = ["--payload-codec", "Hourglass.PayloadCodec.Encryption"]
    assert {out, 0} = replay([file], codec ++ ["--payload-codec-options", @codec_options])
    assert out =~ "ok      encrypted\n"

    # Without the codec, the payloads cannot be decoded: the workflow task fails, and says why.
    assert {out, status} = replay([file], [])
    assert status != 0
    assert out =~ "FAILED  encrypted: workflow_task_failed: "
    assert out =~ ~s(payload encoding "binary/encrypted" is not supported)
    assert out =~ "1 of 1 histories did not replay"

    # With the wrong key, neither.
    wrong = ~S{[key_id: "replay-task", key: :binary.copy(<<8>>, 32)]}
    assert {out, status} = replay([file], codec ++ ["--payload-codec-options", wrong])
    assert status != 0
    assert out =~ "payload decryption failed"
  end

  test "mistakes in the codec options are clear errors" do
    # In this VM: the task stops at the option, before it reads a file.
    run = fn args ->
      Mix.Tasks.Hourglass.Replay.run(["missing.pb", "--workflows", inspect(W.Approval) | args])
    end

    assert_raise Mix.Error, "--payload-codec: unknown module MyApp.NoSuchCodec", fn ->
      run.(["--payload-codec", "MyApp.NoSuchCodec"])
    end

    assert_raise Mix.Error,
                 "--payload-codec: URI does not implement Hourglass.PayloadCodec",
                 fn ->
                   run.(["--payload-codec", "URI"])
                 end

    assert_raise Mix.Error, ~r/^--payload-codec-options: cannot evaluate it: /, fn ->
      run.([
        "--payload-codec",
        "Hourglass.PayloadCodec.Encryption",
        "--payload-codec-options",
        "[key: "
      ])
    end

    assert_raise Mix.Error, ~r/^--payload-codec-options needs --payload-codec;/, fn ->
      run.(["--payload-codec-options", @codec_options])
    end

    assert_raise Mix.Error, ~r/^--payload-codec needs a module name;/, fn ->
      run.(["--payload-codec", ""])
    end
  end
end
