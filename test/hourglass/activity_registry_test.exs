defmodule Hourglass.ActivityRegistryTest do
  use ExUnit.Case, async: true
  import Hourglass.TestHelpers

  alias Hourglass.ActivityRegistry
  alias Hourglass.TestActivities.{Greet, Plain}

  test "registers Elixir and native activities per task queue" do
    queue = unique_queue()

    assert :ok =
             ActivityRegistry.register(queue,
               activities: [Greet, Plain],
               native_activities: ["hourglass.echo"]
             )

    assert {:ok, {:elixir, Greet}} = ActivityRegistry.lookup(queue, "greet")
    assert {:ok, :native} = ActivityRegistry.lookup(queue, "hourglass.echo")
    assert :error = ActivityRegistry.lookup(unique_queue(), "greet")

    assert ActivityRegistry.activity_types(queue) == [
             "Hourglass.TestActivities.Plain",
             "greet",
             "hourglass.echo"
           ]

    assert :ok = ActivityRegistry.register(queue, activities: [Plain])
    assert :error = ActivityRegistry.lookup(queue, "greet")
    assert :ok = ActivityRegistry.unregister(queue)
    assert ActivityRegistry.activity_types(queue) == []
  end

  test "refuses what is not an activity, unknown native types and duplicates" do
    queue = unique_queue()

    assert {:error, {:not_an_activity, String}} =
             ActivityRegistry.register(queue, activities: [String])

    assert {:error, {:not_an_activity, "x"}} = ActivityRegistry.register(queue, activities: ["x"])

    assert {:error, {:unknown_native_activities, ["nope"]}} =
             ActivityRegistry.register(queue, native_activities: ["nope"])

    assert {:error, {:duplicate_activity_types, ["greet"]}} =
             ActivityRegistry.register(queue, activities: [Greet, Greet])

    assert {:error, {:invalid_option, :activities, Greet}} =
             ActivityRegistry.register(queue, activities: Greet)

    assert {:error, {:invalid_task_queue, ""}} = ActivityRegistry.register("", activities: [])
    assert {:error, {:invalid_options, :x}} = ActivityRegistry.register(queue, :x)
    assert ActivityRegistry.activity_types(queue) == []
  end

  test "use Hourglass.Activity refuses a module without execute/N" do
    assert_raise CompileError, ~r/defines no execute/, fn ->
      Code.compile_string("""
      defmodule Hourglass.ActivityRegistryTest.NoExecute do
        use Hourglass.Activity
      end
      """)
    end
  end
end
