defmodule Mix.Tasks.Hourglass.Replay do
  @shortdoc "Replays recorded workflow histories against the project's workflow code"
  @moduledoc """
  Replays workflow histories (`.json` files as `temporal workflow show --output json` writes
  them, or files of `Hourglass.WorkflowHistory` data as `Hourglass.Client.fetch_history/2`
  gives it) against the project's workflow modules, and
  fails if any history no longer replays: the check to run in CI before deploying a change to
  workflow code.

      mix hourglass.replay test/histories/* --workflows MyApp.Order,MyApp.Approval

  Each file's name (without its extension) is used as the workflow id in the report. Prints
  one line per history, `ok` or why it did not replay (nondeterminism, naming the event, or a
  failed workflow task), and exits non-zero if any did not.

  ## Options

    * `--workflows Mod1,Mod2` - the workflow modules (required).
    * `--payload-codec Module` - the `Hourglass.PayloadCodec` the workers that recorded the
      histories ran with: their payloads are decoded with it, as the worker decoded them.
      Without it, a history whose payloads are encrypted or compressed does not replay (its
      workflow task fails: the payload's encoding is not supported).
    * `--payload-codec-options EXPR` - the codec's options, as the worker's
      `payload_codec: {Module, options}` takes them: an Elixir expression, evaluated (default
      `[]`). Read keys from the environment rather than writing them on the command line:

          mix hourglass.replay test/histories/* --workflows MyApp.Order \\
            --payload-codec Hourglass.PayloadCodec.Encryption \\
            --payload-codec-options '[key_id: "k1", key: Base.decode64!(System.fetch_env!("CODEC_KEY"))]'

    * `--timeout MS` - for the whole replay (default a minute per history).
  """
  use Mix.Task

  alias Hourglass.PayloadCodec

  @switches [
    workflows: :string,
    payload_codec: :string,
    payload_codec_options: :string,
    timeout: :integer
  ]
  @usage "mix hourglass.replay FILE... --workflows Mod1,Mod2 " <>
           "[--payload-codec Module [--payload-codec-options EXPR]] [--timeout MS]"

  @impl Mix.Task
  def run(args) do
    {opts, files, invalid} = OptionParser.parse(args, strict: @switches)

    cond do
      invalid != [] -> Mix.raise("invalid option #{invalid |> hd() |> elem(0)}; usage: #{@usage}")
      files == [] -> Mix.raise("no history files given; usage: #{@usage}")
      opts[:workflows] in [nil, ""] -> Mix.raise("--workflows is required; usage: #{@usage}")
      true -> replay(files, opts)
    end
  end

  defp replay(files, opts) do
    Mix.Task.run("app.start")

    workflows =
      opts[:workflows] |> String.split(",", trim: true) |> Enum.map(&Module.concat([&1]))

    codec = payload_codec(opts)
    histories = Enum.map(files, &history/1)

    case Hourglass.Replayer.replay_workflows(histories,
           workflows: workflows,
           payload_codec: codec,
           timeout: Keyword.get(opts, :timeout, 60_000 * length(files))
         ) do
      {:ok, outcomes} ->
        failed = Enum.reject(outcomes, &match?({_, :ok}, &1))
        Enum.each(outcomes, &report/1)

        if failed != [],
          do: Mix.raise("#{length(failed)} of #{length(outcomes)} histories did not replay")

      {:error, reason} ->
        Mix.raise("cannot replay: #{format(reason)}")
    end
  end

  defp payload_codec(opts) do
    case {opts[:payload_codec], opts[:payload_codec_options]} do
      {nil, nil} ->
        nil

      {nil, _options} ->
        Mix.raise("--payload-codec-options needs --payload-codec; usage: #{@usage}")

      {"", _options} ->
        Mix.raise("--payload-codec needs a module name; usage: #{@usage}")

      {name, _options} ->
        module = Module.concat([name])

        unless Code.ensure_loaded?(module),
          do: Mix.raise("--payload-codec: unknown module #{inspect(module)}")

        case PayloadCodec.validate({module, payload_codec_options(opts)}) do
          {:ok, codec} -> codec
          {:error, message} -> Mix.raise("--payload-codec: #{message}")
        end
    end
  end

  # An expression of the user's own, as `mix run -e` takes one. Its value is never shown: a
  # codec's options hold its keys.
  defp payload_codec_options(opts) do
    case opts[:payload_codec_options] do
      nil ->
        []

      expression ->
        try do
          {options, _binding} = Code.eval_string(expression)
          Hourglass.Secret.wrap(options)
        rescue
          exception ->
            Mix.raise(
              "--payload-codec-options: cannot evaluate it: " <>
                "#{inspect(exception.__struct__)}: #{Exception.message(exception)}"
            )
        end
    end
  end

  defp history(file) do
    workflow_id = Path.rootname(Path.basename(file))

    case {File.read(file), Path.extname(file)} do
      {{:ok, json}, ".json"} ->
        case Hourglass.WorkflowHistory.from_json(json, workflow_id) do
          {:ok, history} -> history
          {:error, message} -> Mix.raise("cannot read #{file}: #{message}")
        end

      {{:ok, data}, _protobuf} ->
        Hourglass.WorkflowHistory.from_protobuf(data, workflow_id)

      {{:error, reason}, _} ->
        Mix.raise("cannot read #{file}: #{:file.format_error(reason)}")
    end
  end

  defp report({workflow_id, :ok}), do: Mix.shell().info("ok      #{workflow_id}")

  defp report({workflow_id, {:error, {kind, message}}}),
    do: Mix.shell().error("FAILED  #{workflow_id}: #{kind}: #{message}")

  defp format(reason) when is_binary(reason), do: reason
  defp format(reason), do: inspect(reason)
end
