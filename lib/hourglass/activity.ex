defmodule Hourglass.Activity do
  @moduledoc """
  Defines an activity written in Elixir.

      defmodule MyApp.Greet do
        use Hourglass.Activity, name: "greet"

        def execute(name) do
          Hourglass.Activity.heartbeat()
          {:ok, "Hello, \#{name}!"}
        end
      end

  `execute/N` receives one argument per input payload. `:name` is the activity type callers use;
  it defaults to the module name without `Elixir.` (`"MyApp.Greet"`).

  ## What `execute` returns

    * `{:ok, value}` - completes the attempt with `value`.
    * `:ok` - completes it with `nil`.
    * `{:error, %Hourglass.ApplicationError{}}` - fails it with that type, message, details,
      `non_retryable` and `next_retry_delay`; raising the error does the same.
    * `{:error, reason}` - fails it (retryable) with type `"Error"` and `reason` as message.
    * `complete_async()` - leaves the attempt open, to be completed later by someone else
      through `Hourglass.Client` (see `complete_async/0`).
    * Any other exception fails the attempt (retryable) with the exception module as type, its
      message, and the stack trace. Throws and exits fail it too.

  The server owns retries: a failed attempt is retried according to the caller's retry policy,
  and the worker never retries by itself. An attempt may also be delivered again after a crash
  or timeout (there is no deduplication cache), so an activity with side effects must be
  idempotent: use `info().activity_id` and `info().attempt` to make repeated work harmless.

  ## Inside `execute`

    * `info/0` - an `Hourglass.Activity.Info` about this attempt.
    * `heartbeat/0,1` - tells the server the activity is alive, optionally recording details
      the next attempt can resume from (`info().heartbeat_details`). Raises
      `Hourglass.Activity.CancelledError` once the attempt was cancelled.
    * `cancelled?/0` - true once cancellation was requested; stop soon, and return or raise.

  Called outside an activity, these raise `Hourglass.Activity.NotInActivityError`.
  """

  alias Hourglass.Activity.{CancelledError, Info, NotInActivityError}

  @context_key :"$hourglass_activity"
  @cancelled_key :"$hourglass_cancelled"

  @doc false
  defmacro __using__(opts) do
    quote bind_quoted: [opts: opts] do
      name =
        case Keyword.fetch(opts, :name) do
          {:ok, name} when is_binary(name) and name != "" ->
            name

          {:ok, other} ->
            raise ArgumentError,
                  "activity :name must be a non-empty string, got: #{inspect(other)}"

          :error ->
            __MODULE__ |> Atom.to_string() |> String.replace_prefix("Elixir.", "")
        end

      @doc false
      def __hourglass_activity__, do: %{name: unquote(name)}

      @before_compile Hourglass.Activity
    end
  end

  @doc false
  defmacro __before_compile__(env) do
    unless Enum.any?(Module.definitions_in(env.module, :def), &match?({:execute, _}, &1)) do
      raise CompileError,
        file: env.file,
        line: env.line,
        description: "#{inspect(env.module)} uses Hourglass.Activity but defines no execute/N"
    end
  end

  @doc "The activity type `module` is registered under, or nil if it is not an activity."
  @spec name(module()) :: String.t() | nil
  def name(module) when is_atom(module) do
    if Code.ensure_loaded?(module) and function_exported?(module, :__hourglass_activity__, 0),
      do: module.__hourglass_activity__().name
  end

  @doc """
  The value to return from `execute` when the attempt will be completed later, by another
  process or system, instead of by this one.

  Hand `info().task_token` (or the workflow id, run id and activity id) to whoever will finish
  the work; it then calls `Hourglass.Client.complete_activity/3`, `fail_activity/3` or
  `report_activity_cancellation/3`, and `heartbeat_activity/3` meanwhile if the activity has a
  heartbeat timeout. The executor process exits and frees its slot; the server keeps the
  attempt open until it is completed or times out (`start_to_close_timeout`,
  `heartbeat_timeout`), and retries a timed-out attempt as usual.

      def execute(order) do
        MyApp.Approvals.request(order, Hourglass.Activity.info().task_token)
        Hourglass.Activity.complete_async()
      end
  """
  @spec complete_async() :: :complete_async
  def complete_async, do: :complete_async

  @doc "Information about the running attempt."
  @spec info() :: Info.t()
  def info, do: context!(:info).info

  @doc """
  Records a heartbeat. With `details`, the next attempt finds them in
  `info().heartbeat_details` (as a one-element list). Raises `Hourglass.Activity.CancelledError`
  when the attempt was cancelled.
  """
  @spec heartbeat() :: :ok
  @spec heartbeat(term()) :: :ok
  def heartbeat, do: send_heartbeat([], :heartbeat)
  def heartbeat(details), do: send_heartbeat([details], :heartbeat)

  defp send_heartbeat(details, function) do
    context = context!(function)

    if cancelled?() do
      raise CancelledError, details: Process.get(@cancelled_key) |> elem(1)
    end

    context.heartbeat_fn.(details)
    :ok
  end

  @doc "True once the server, the worker or a test asked this attempt to stop."
  @spec cancelled?() :: boolean()
  def cancelled? do
    context!(:cancelled?)

    case Process.get(@cancelled_key) do
      {:cancelled, _details} ->
        true

      nil ->
        receive do
          {:"$hourglass_cancel", details} ->
            Process.put(@cancelled_key, {:cancelled, details})
            true
        after
          0 -> false
        end
    end
  end

  @doc false
  # Installs the context of an attempt in the calling process (the runner).
  @spec put_context(Info.t(), ([term()] -> term())) :: :ok
  def put_context(%Info{} = info, heartbeat_fn) do
    Process.put(@context_key, %{info: info, heartbeat_fn: heartbeat_fn})
    Process.delete(@cancelled_key)
    :ok
  end

  @doc false
  # Details of the cancellation, if the attempt was cancelled.
  @spec cancellation() :: {:cancelled, term()} | nil
  def cancellation, do: Process.get(@cancelled_key)

  defp context!(function) do
    Process.get(@context_key) ||
      raise NotInActivityError, function: function
  end
end
