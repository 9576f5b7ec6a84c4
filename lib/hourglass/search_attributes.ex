defmodule Hourglass.SearchAttributes do
  @moduledoc false
  # Search attributes as the server indexes them: names as strings, values as plain JSON (a
  # DateTime as its ISO 8601 text), never through a payload codec. Shared by the client (at a
  # workflow's start) and by workflows (upserts).

  @doc "Names as strings and values ready for JSON, or `{:error, message}`."
  @spec normalize(term()) :: {:ok, %{String.t() => term()}} | {:error, String.t()}
  def normalize(attributes) when is_map(attributes) do
    Enum.reduce_while(attributes, {:ok, %{}}, fn {name, value}, {:ok, acc} ->
      case name(name) do
        {:ok, name} -> {:cont, {:ok, Map.put(acc, name, value(value))}}
        :error -> {:halt, {:error, "names must be non-empty strings or atoms"}}
      end
    end)
  end

  def normalize(_attributes), do: {:error, "must be a map of names to values"}

  @doc false
  def name(name) when is_atom(name) and not is_nil(name) and not is_boolean(name),
    do: {:ok, Atom.to_string(name)}

  def name(name) when is_binary(name) and name != "" do
    if String.valid?(name), do: {:ok, name}, else: :error
  end

  def name(_name), do: :error

  defp value(%DateTime{} = time), do: DateTime.to_iso8601(time)
  defp value(values) when is_list(values), do: Enum.map(values, &value/1)
  defp value(value), do: value
end
