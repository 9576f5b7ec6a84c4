defmodule Hourglass.ValueGenerator do
  @moduledoc false
  # Values of every shape and size the default converter accepts, from a seeded generator (no
  # hex: StreamData is out of reach), for property tests through the real NIF (the ExUnit suite)
  # and for the fault suite's wide_values scenario (hence it lives beside the fault suite, which
  # is compiled in dev and test).
  #
  # Every value is in the converter's normal form — what decoding its payload gives back —
  # so a round trip through any path must return it unchanged: string keys, lists, binaries
  # that are valid UTF-8, integers of any size, finite floats, booleans and nil.

  # Nesting the converter accepts everywhere: hourglass_values' MAX_DEPTH is 100 levels below
  # the top, and a native activity's arguments are converted as one list, one level more; the
  # innermost map's values are one level below it.
  @max_depth 98

  @unicode_keys ["ключ", "鍵", "κλειδί", "🔑", "clé", "مفتاح", "a\u0000b", "\"quoted\"", ""]

  @doc "Seeds the generator of the calling process."
  def seed(seed), do: :rand.seed(:exsss, {seed, seed * 7 + 1, seed * 13 + 2})

  @doc "A map of `size` keys (some of them non-ASCII) with small values."
  def wide_map(size) do
    for i <- 1..size//1, into: %{} do
      {key(i), small(i)}
    end
  end

  @doc "A list of `length` small items."
  def long_list(length), do: for(i <- 1..length//1, do: small(i))

  @doc "`depth` levels of nesting, alternating lists and maps, with a wide map at the bottom."
  def deep(depth) do
    Enum.reduce(1..depth//1, wide_map(40), fn level, inner ->
      if rem(level, 2) == 0, do: [level, inner], else: %{"level" => level, "inner" => inner}
    end)
  end

  @doc "The deepest value the converter accepts on every path."
  def deepest, do: deep(@max_depth)

  @doc "A value nested deeper than the converter accepts on any path."
  def too_deep, do: deep(@max_depth + 2)

  @doc "A UTF-8 text of about `bytes` bytes, with multi-byte characters."
  def text(bytes) do
    unit = "hourglass ⌛ "
    String.duplicate(unit, div(bytes, byte_size(unit)) + 1) |> binary_part(0, bytes) |> valid()
  end

  @doc "Integers at and beyond every machine width, and their negatives."
  def big_integers do
    base = [0, 1, 127, 128, 32_767, 2_147_483_647, 4_294_967_295]
    huge = for bits <- [63, 64, 65, 128, 256, 1_024], do: Integer.pow(2, bits)
    more = for n <- base ++ huge, do: [n, -n, n - 1]
    List.flatten(more) |> Enum.uniq()
  end

  @doc "Finite floats across the whole range."
  def floats do
    [0.0, 1.5, -2.25, 1.0e-300, 1.7976931348623157e308, 2.2250738585072014e-308, 3.0e-5] ++
      for(_ <- 1..20, do: (:rand.uniform() - 0.5) * :math.pow(10, :rand.uniform(600) - 300))
  end

  @doc "A random value: any mix of the shapes above, sizes up to `budget` items."
  def value(budget \\ 2_000, depth \\ 0) do
    choice = if depth >= 6 or budget < 10, do: :rand.uniform(6), else: :rand.uniform(10)

    case choice do
      1 ->
        Enum.random(big_integers())

      2 ->
        Enum.random(floats())

      3 ->
        Enum.random([nil, true, false])

      4 ->
        text(:rand.uniform(64))

      5 ->
        Enum.random(@unicode_keys)

      6 ->
        :rand.uniform(1_000_000) - 500_000

      7 ->
        wide_map(:rand.uniform(min(budget, 300)))

      8 ->
        for(_ <- 1..:rand.uniform(8), do: value(div(budget, 8), depth + 1))

      9 ->
        for(i <- 1..:rand.uniform(40), into: %{}, do: {key(i), value(div(budget, 40), depth + 1)})

      10 ->
        long_list(:rand.uniform(budget))
    end
  end

  @doc """
  Named cases for the widest shapes, sized by `scale` (`:ci` for the test command, `:full` for
  the fault suite).
  """
  def cases(scale) do
    {maps, list, text} =
      case scale do
        :ci -> {[0, 32, 33, 128, 129, 1_000, 20_000], 200_000, 512 * 1024}
        :full -> {[0, 32, 33, 128, 129, 1_000, 20_000, 100_000], 1_000_000, 1_500_000}
      end

    for(size <- maps, do: {"a map of #{size} keys", wide_map(size)}) ++
      [
        {"a list of #{list} items", long_list(list)},
        {"#{@max_depth} levels of nesting", deepest()},
        {"big integers", big_integers()},
        {"floats", floats()},
        {"a #{text}-byte text", text(text)},
        {"Unicode keys", Map.new(@unicode_keys, &{&1, &1})},
        {"maps of 129 keys inside a list inside a map",
         %{"rows" => for(_ <- 1..20, do: wide_map(129))}}
      ]
  end

  defp key(i) when rem(i, 7) == 0, do: "#{Enum.at(@unicode_keys, rem(i, 8))}-#{i}"
  defp key(i), do: "k#{i}"

  defp small(i) do
    case rem(i, 5) do
      0 -> i
      1 -> "v#{i}"
      2 -> i * 1.5
      3 -> rem(i, 2) == 0
      4 -> nil
    end
  end

  defp valid(binary) do
    if String.valid?(binary),
      do: binary,
      else: valid(binary_part(binary, 0, byte_size(binary) - 1))
  end
end
