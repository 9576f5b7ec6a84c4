defmodule Hourglass.Bench.JSON do
  @moduledoc """
  Just enough JSON for benchmark results and the peers' output: Elixir 1.14 has no JSON module
  and Hourglass uses no hex package. Maps with string or atom keys, lists, numbers, strings,
  booleans and nil.
  """

  @doc "Encodes a term as pretty-printed JSON."
  @spec encode(term()) :: String.t()
  def encode(term), do: IO.iodata_to_binary(encode(term, 0))

  defp encode(nil, _), do: "null"
  defp encode(true, _), do: "true"
  defp encode(false, _), do: "false"
  defp encode(atom, _) when is_atom(atom), do: encode_string(Atom.to_string(atom))
  defp encode(number, _) when is_integer(number), do: Integer.to_string(number)
  defp encode(number, _) when is_float(number), do: Float.to_string(Float.round(number, 6))
  defp encode(text, _) when is_binary(text), do: encode_string(text)
  defp encode([], _), do: "[]"

  defp encode(list, depth) when is_list(list) do
    inner = Enum.map(list, &[indent(depth + 1), encode(&1, depth + 1)])
    ["[\n", Enum.intersperse(inner, ",\n"), "\n", indent(depth), "]"]
  end

  defp encode(map, _) when map == %{}, do: "{}"

  defp encode(map, depth) when is_map(map) do
    inner =
      map
      |> Enum.sort_by(fn {key, _} -> to_string(key) end)
      |> Enum.map(fn {key, value} ->
        [indent(depth + 1), encode_string(to_string(key)), ": ", encode(value, depth + 1)]
      end)

    ["{\n", Enum.intersperse(inner, ",\n"), "\n", indent(depth), "}"]
  end

  defp indent(depth), do: String.duplicate("  ", depth)

  defp encode_string(text) do
    escaped =
      for <<char::utf8 <- text>>, into: "" do
        case char do
          ?" -> "\\\""
          ?\\ -> "\\\\"
          ?\n -> "\\n"
          ?\r -> "\\r"
          ?\t -> "\\t"
          c when c < 0x20 -> "\\u" <> String.pad_leading(Integer.to_string(c, 16), 4, "0")
          c -> <<c::utf8>>
        end
      end

    ["\"", escaped, "\""]
  end

  @doc "Decodes JSON text; objects become maps with string keys."
  @spec decode(String.t()) :: {:ok, term()} | {:error, String.t()}
  def decode(text) do
    case value(skip(text)) do
      {value, rest} ->
        if skip(rest) == "", do: {:ok, value}, else: {:error, "trailing text"}
    end
  catch
    {:json_error, message} -> {:error, message}
  end

  defp skip(<<c, rest::binary>>) when c in ~c" \t\n\r", do: skip(rest)
  defp skip(rest), do: rest

  defp value("null" <> rest), do: {nil, rest}
  defp value("true" <> rest), do: {true, rest}
  defp value("false" <> rest), do: {false, rest}
  defp value("\"" <> rest), do: string(rest, [])
  defp value("[" <> rest), do: array(skip(rest), [])
  defp value("{" <> rest), do: object(skip(rest), %{})
  defp value(text), do: number(text)

  defp array("]" <> rest, acc), do: {Enum.reverse(acc), rest}

  defp array(text, acc) do
    {item, rest} = value(skip(text))

    case skip(rest) do
      "," <> rest -> array(skip(rest), [item | acc])
      "]" <> rest -> {Enum.reverse([item | acc]), rest}
      _ -> throw({:json_error, "expected , or ] in an array"})
    end
  end

  defp object("}" <> rest, acc), do: {acc, rest}

  defp object("\"" <> text, acc) do
    {key, rest} = string(text, [])

    case skip(rest) do
      ":" <> rest ->
        {item, rest} = value(skip(rest))

        case skip(rest) do
          "," <> rest -> object(skip(rest), Map.put(acc, key, item))
          "}" <> rest -> {Map.put(acc, key, item), rest}
          _ -> throw({:json_error, "expected , or } in an object"})
        end

      _ ->
        throw({:json_error, "expected : in an object"})
    end
  end

  defp object(_, _), do: throw({:json_error, "expected a key in an object"})

  defp string("\"" <> rest, acc), do: {acc |> Enum.reverse() |> IO.iodata_to_binary(), rest}

  defp string("\\u" <> <<hex::binary-4, rest::binary>>, acc),
    do: string(rest, [<<String.to_integer(hex, 16)::utf8>> | acc])

  defp string("\\" <> <<c, rest::binary>>, acc) do
    char =
      %{
        ?" => "\"",
        ?\\ => "\\",
        ?/ => "/",
        ?n => "\n",
        ?r => "\r",
        ?t => "\t",
        ?b => "\b",
        ?f => "\f"
      }[c]

    string(rest, [char || throw({:json_error, "bad escape"}) | acc])
  end

  defp string(<<c::utf8, rest::binary>>, acc), do: string(rest, [<<c::utf8>> | acc])
  defp string(_, _), do: throw({:json_error, "unterminated string"})

  defp number(text) do
    case Regex.run(~r/^-?\d+(\.\d+)?([eE][-+]?\d+)?/, text) do
      [digits | _] ->
        rest = binary_part(text, byte_size(digits), byte_size(text) - byte_size(digits))

        if String.contains?(digits, [".", "e", "E"]) do
          {elem(Float.parse(digits), 0), rest}
        else
          {String.to_integer(digits), rest}
        end

      nil ->
        throw({:json_error, "unexpected text"})
    end
  end
end
