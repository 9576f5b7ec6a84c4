# Ports of temporalio/features' query features (features/query/*/feature.py). Each workflow
# waits until a "finish" signal.

defmodule Hourglass.Features.Query.SuccessfulQuery do
  @moduledoc false
  # features/query/successful_query: a counter that "inc_counter" signals raise and the
  # "get_counter" query reads.
  use Hourglass.Workflow, name: "Workflow"
  alias Hourglass.Workflow

  @impl true
  def init([]), do: %{counter: 0, done: false}

  @impl true
  def run do
    :ok = Workflow.wait_condition(& &1.done)
    {:ok, nil}
  end

  @impl true
  def handle_query("get_counter", [], state), do: {:reply, state.counter}

  @impl true
  def handle_signal("inc_counter", [], state), do: %{state | counter: state.counter + 1}
  def handle_signal("finish", [], state), do: %{state | done: true}
end

defmodule Hourglass.Features.Query.UnexpectedQueryTypeName do
  @moduledoc false
  # features/query/unexpected_query_type_name: no query handler at all; a query fails.
  use Hourglass.Workflow, name: "Workflow"
  alias Hourglass.Workflow

  @impl true
  def init([]), do: %{done: false}

  @impl true
  def run do
    :ok = Workflow.wait_condition(& &1.done)
    {:ok, nil}
  end

  @impl true
  def handle_signal("finish", [], state), do: %{state | done: true}
end

defmodule Hourglass.Features.Query.UnexpectedArguments do
  @moduledoc false
  # features/query/unexpected_arguments: a query of one argument; asked with two, or none, it
  # fails, as the Python SDK's converter fails it.
  use Hourglass.Workflow, name: "Workflow"
  alias Hourglass.Workflow

  @impl true
  def init([]), do: %{done: false}

  @impl true
  def run do
    :ok = Workflow.wait_condition(& &1.done)
    {:ok, nil}
  end

  @impl true
  def handle_query("the_query", [arg], _state), do: {:reply, "hi #{arg}"}

  def handle_query("the_query", arguments, _state),
    do: raise(ArgumentError, "the_query takes one argument, got #{length(arguments)}")

  @impl true
  def handle_signal("finish", [], state), do: %{state | done: true}
end

defmodule Hourglass.Features.Query.UnexpectedReturnType do
  @moduledoc false
  # features/query/unexpected_return_type: the "q" query answers a string (the client that
  # reads it as an int fails).
  use Hourglass.Workflow, name: "Workflow"
  alias Hourglass.Workflow

  @impl true
  def init([]), do: %{done: false}

  @impl true
  def run do
    :ok = Workflow.wait_condition(& &1.done)
    {:ok, nil}
  end

  @impl true
  def handle_query("q", [], _state), do: {:reply, "hi bob"}

  @impl true
  def handle_signal("finish", [], state), do: %{state | done: true}
end
