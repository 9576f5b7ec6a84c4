defmodule Hourglass.WorkflowFixturesTest do
  # Histories recorded by earlier versions of Hourglass (test/histories/<commit>/, made by
  # test/histories/record.exs from Hourglass.RecordedWorkflows) replay on this one: a workflow
  # that was running when its users upgraded Hourglass goes on. Each behaviour change in how
  # a run issues commands is behind an SDK flag (Hourglass.Workflow.Run), and these histories,
  # which lack the flags, keep the old behaviour.
  use ExUnit.Case, async: true

  alias Hourglass.{Replayer, WorkflowHistory}

  @histories Path.expand("../histories", __DIR__)

  for dir <- Path.wildcard(Path.join(@histories, "*")), File.dir?(dir) do
    @dir dir
    test "the histories recorded at #{Path.basename(dir)} replay" do
      histories =
        for file <- Path.wildcard(Path.join(@dir, "*.json")) do
          {:ok, history} =
            WorkflowHistory.from_json(File.read!(file), Path.basename(file, ".json"))

          history
        end

      assert length(histories) >= 6

      assert {:ok, outcomes} =
               Replayer.replay_workflows(histories,
                 workflows: Hourglass.RecordedWorkflows.all()
               )

      assert Enum.reject(outcomes, &match?({_id, :ok}, &1)) == []
    end
  end
end
