defmodule Hourglass.ActivityTask do
  @moduledoc """
  A Start task: one attempt of one activity, as the executor receives it.

  A hand-built task needs only `:task_token`, `:activity_type` and `:input`:

      %{task_token: "token-1", activity_type: "greet", input: ["Ada"]}

  The full shape, as a map with these atom keys (the worker fills them all from the server):

    * `:task_token` (binary, required) - the server's handle on this attempt; completions and
      heartbeats carry it.
    * `:activity_type` (string, required) - the name the activity is registered under.
    * `:input` (list, required) - one element per argument of `execute/N`.
    * `:activity_id` (string or nil) - the id the caller gave the activity.
    * `:attempt` (positive integer, default 1) - 1 on the first attempt, 2 on the first retry…
    * `:heartbeat_details` (list, default `[]`) - details of the last heartbeat of an earlier
      attempt, to resume from.
    * `:workflow_id`, `:workflow_run_id`, `:workflow_type` (string or nil) - the workflow that
      scheduled the activity; nil for a Standalone Activity.
    * `:workflow_namespace` (string or nil) - the namespace.
    * `:scheduled_time`, `:current_attempt_scheduled_time`, `:started_time` (`DateTime` or nil).
    * `:schedule_to_close_timeout`, `:start_to_close_timeout`, `:heartbeat_timeout`
      (non-negative integer milliseconds, or nil when unset).
    * `:payload_codec` (`{module, options}` or nil) - set by a worker with a payload codec: the
      input and heartbeat details are still `Hourglass.Payload`s, which the runner decodes with
      it before the activity runs.

  Unknown keys are ignored, so a task may carry more than this.
  """

  @fields [
    :task_token,
    :activity_type,
    :activity_id,
    :workflow_id,
    :workflow_run_id,
    :workflow_type,
    :workflow_namespace,
    :scheduled_time,
    :current_attempt_scheduled_time,
    :started_time,
    :schedule_to_close_timeout,
    :start_to_close_timeout,
    :heartbeat_timeout,
    :payload_codec,
    :input,
    :attempt,
    :heartbeat_details
  ]

  @defaults [input: [], attempt: 1, heartbeat_details: []]

  @enforce_keys [:task_token, :activity_type, :input]
  defstruct Enum.map(@fields, &{&1, @defaults[&1]})

  @type t :: %__MODULE__{
          task_token: binary(),
          activity_type: String.t(),
          input: [term()],
          activity_id: String.t() | nil,
          attempt: pos_integer(),
          heartbeat_details: [term()],
          workflow_id: String.t() | nil,
          workflow_run_id: String.t() | nil,
          workflow_type: String.t() | nil,
          workflow_namespace: String.t() | nil,
          scheduled_time: DateTime.t() | nil,
          current_attempt_scheduled_time: DateTime.t() | nil,
          started_time: DateTime.t() | nil,
          schedule_to_close_timeout: non_neg_integer() | nil,
          start_to_close_timeout: non_neg_integer() | nil,
          heartbeat_timeout: non_neg_integer() | nil,
          payload_codec: {module(), term()} | nil
        }

  @optional_strings [
    :activity_id,
    :workflow_id,
    :workflow_run_id,
    :workflow_type,
    :workflow_namespace
  ]
  @times [:scheduled_time, :current_attempt_scheduled_time, :started_time]
  @timeouts [:schedule_to_close_timeout, :start_to_close_timeout, :heartbeat_timeout]

  @doc """
  Validates a task map and returns the struct, or `{:error, {:invalid_activity_task, message}}`
  naming the offending field.
  """
  @spec new(term()) :: {:ok, t()} | {:error, {:invalid_activity_task, String.t()}}
  def new(%{} = map) do
    with :ok <- check(map, :task_token, &is_binary/1, "a binary", :required),
         :ok <- check(map, :activity_type, &utf8?/1, "a UTF-8 string", :required),
         :ok <- check(map, :input, &is_list/1, "a list of arguments", :required),
         :ok <- check(map, :attempt, &(is_integer(&1) and &1 >= 1), "a positive integer"),
         :ok <- check(map, :heartbeat_details, &is_list/1, "a list"),
         :ok <- check_all(map, @optional_strings, &(is_nil(&1) or utf8?(&1)), "a string or nil"),
         :ok <-
           check_all(map, @times, &(is_nil(&1) or is_struct(&1, DateTime)), "a DateTime or nil"),
         :ok <-
           check_all(
             map,
             @timeouts,
             &(is_nil(&1) or (is_integer(&1) and &1 >= 0)),
             "milliseconds or nil"
           ),
         :ok <-
           check(
             map,
             :payload_codec,
             &(is_nil(&1) or match?({module, _} when is_atom(module), &1)),
             "{module, options} or nil"
           ) do
      # Every attempt's task is checked on the worker's way to the executor: the struct's
      # fields are taken in one pass (they are all known here), not key by key.
      blank = %__MODULE__{task_token: nil, activity_type: nil, input: nil}
      {:ok, Map.merge(blank, :maps.with(@fields, map))}
    end
  end

  def new(other),
    do: invalid("the activity task must be a map, got: #{inspect(other, limit: 5)}")

  defp check(map, key, valid?, expected, required \\ :optional) do
    case Map.fetch(map, key) do
      {:ok, value} ->
        if valid?.(value),
          do: :ok,
          else: invalid("#{key} must be #{expected}, got: #{inspect(value, limit: 5)}")

      :error when required == :required ->
        invalid("missing required key #{inspect(key)}")

      :error ->
        :ok
    end
  end

  defp check_all(map, keys, valid?, expected) do
    Enum.reduce_while(keys, :ok, fn key, :ok ->
      case check(map, key, valid?, expected) do
        :ok -> {:cont, :ok}
        error -> {:halt, error}
      end
    end)
  end

  defp utf8?(value), do: is_binary(value) and String.valid?(value)

  defp invalid(message), do: {:error, {:invalid_activity_task, message}}
end
