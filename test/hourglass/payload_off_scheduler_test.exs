defmodule Hourglass.PayloadOffSchedulerTest do
  # Heavy values cross to the tokio pool in the external term format (issue 13): the same
  # payloads and values, and the same errors, as the conversion on the caller's scheduler, while
  # the caller only waits.
  use ExUnit.Case, async: true
  import Hourglass.TestHelpers

  alias Hourglass.{Native, Payload}

  @moduletag timeout: 120_000

  # About 20,000 units of work is what a scheduler converts itself (see native's dirty.rs).
  defp heavy?(values), do: Native.payloads_from_values(values) == :heavy

  test "a heavy value makes the payload its light pieces make, and reads back the same" do
    piece = %{"a" => [1, -2, 2.5, nil, true, false, "ünï ✓", 123_456_789_012_345_678_901_234_567]}
    assert {:ok, [%Payload{data: piece_json}]} = Payload.from_values([piece])
    heavy = List.duplicate(piece, 20_000)
    assert heavy?([heavy])

    assert {:ok, [%Payload{metadata: %{"encoding" => "json/plain"}, data: data}]} =
             Payload.from_values([heavy])

    assert data == "[" <> Enum.join(List.duplicate(piece_json, 20_000), ",") <> "]"

    assert {:ok, [^heavy]} =
             Payload.to_values([%Payload{metadata: %{"encoding" => "json/plain"}, data: data}])
  end

  test "every kind of value, and payload structs, cross as they do on a scheduler" do
    wide = for i <- 1..50_000, into: %{}, do: {"k#{i}", i}
    raw = %Payload{metadata: %{"encoding" => "binary/plain", "x" => "y"}, data: <<0, 255>>}
    values = [wide, <<255, 0, 1>>, nil, "text", [], %{}, raw, 1.5, -(2 ** 70)]
    assert heavy?(values)
    assert {:ok, payloads} = Payload.from_values(values)

    assert Enum.map(payloads, & &1.metadata["encoding"]) ==
             ~w(json/plain binary/plain binary/null json/plain json/plain json/plain binary/plain json/plain json/plain)

    assert Enum.at(payloads, 6) == raw
    assert {:ok, back} = Payload.to_values(payloads)
    assert back == List.replace_at(values, 6, <<0, 255>>)
  end

  test "errors name the value and the place, as on a scheduler" do
    wide = for i <- 1..50_000, into: %{}, do: {"k#{i}", i}

    for {bad, where} <- [{self(), "a pid"}, {{1, 2}, "a tuple"}, {make_ref(), "a reference"}] do
      light = Payload.from_values([1, %{"bad" => bad}])
      heavy = Payload.from_values([1, Map.put(wide, "bad", bad)])
      assert light == {:error, "value 2: #{where} cannot be converted to JSON at $[\"bad\"]"}
      assert heavy == light
    end

    bad_struct = %Payload{metadata: %{"encoding" => 1}, data: "x"}

    assert {:error,
            "value 2: the Hourglass.Payload metadata value of \"encoding\" must be a binary"} =
             Payload.from_values([wide, bad_struct])

    broken = %Payload{
      metadata: %{"encoding" => "json/plain"},
      data: String.duplicate("[1,", 100_000)
    }

    assert {:error, "payload 1: invalid json/plain payload: " <> _} = Payload.to_values([broken])

    too_deep = Enum.reduce(1..200, [], fn _, acc -> [acc] end)
    assert {:error, message} = Payload.from_values([wide, too_deep])
    assert message =~ "value 2: value nested deeper than 100 levels"
  end

  test "the caller waits in a receive while tokio converts, and a collection there loses nothing" do
    heavy = for i <- 1..400_000, do: %{"i" => i, "s" => "value #{i}"}
    parent = self()

    caller =
      spawn(fn ->
        send(parent, {:converted, Payload.from_values([heavy])})
      end)

    # Sampled while it converts: waiting, not running on a scheduler; its heap collected under
    # it (which would free the pending conversion, were it not held).
    statuses =
      Stream.repeatedly(fn ->
        :erlang.garbage_collect(caller)
        status = Process.info(caller, :status)
        conversions = Native.stats().conversions
        Process.sleep(1)
        {status, conversions}
      end)
      |> Enum.take_while(fn {status, _} -> status != nil end)

    assert_receive {:converted, {:ok, [%Payload{}]}}, 60_000

    assert Enum.any?(
             statuses,
             &match?({{:status, :waiting}, conversions} when conversions > 0, &1)
           )

    eventually(fn -> Native.stats().conversions == 0 end)
  end

  test "a caller that dies while tokio converts gets nothing and leaves nothing running" do
    heavy = for i <- 1..400_000, do: %{"i" => i}
    caller = spawn(fn -> Payload.from_values([heavy]) end)
    eventually(fn -> Native.stats().conversions > 0 end)
    Process.exit(caller, :kill)
    eventually(fn -> Native.stats().conversions == 0 end, 30_000)
  end
end
