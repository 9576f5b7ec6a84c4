defmodule Hourglass.Secret do
  @moduledoc """
  A value that must never be printed: an API key, a TLS private key, a payload codec's options
  (its keys).

  Hourglass wraps such options as soon as it sees them (`Hourglass.Worker.child_spec/1`, the
  option checks of workers and clients), and unwraps them only where they are used: when the
  NIF connects, and when a codec runs. Wrapped, the value sits in a closure, so whatever prints
  a worker's state, a child spec, a task or a crash report — Elixir's `inspect` or Erlang's
  `~p` — shows `#Hourglass.Secret<redacted>` or an anonymous function, never the value.
  """

  @enforce_keys [:reveal]
  defstruct [:reveal]

  @opaque t :: %__MODULE__{reveal: (() -> term())}

  @doc "Wraps `value` (a secret already wrapped stays as it is)."
  @spec wrap(term()) :: t()
  def wrap(%__MODULE__{} = secret), do: secret
  def wrap(value), do: %__MODULE__{reveal: fn -> value end}

  @doc "The value itself; a value that was never wrapped is returned as it is."
  @spec reveal(t() | term()) :: term()
  def reveal(%__MODULE__{reveal: reveal}), do: reveal.()
  def reveal(value), do: value

  defimpl Inspect do
    def inspect(_secret, _opts), do: "#Hourglass.Secret<redacted>"
  end
end
