defmodule NativeActivities.MixProject do
  use Mix.Project

  # An application with native activities of its own: the Rust crate in native/image_activities
  # declares its NIF with `hourglass::nif!`, config/config.exs tells Hourglass to load it, and the
  # :hourglass_native compiler (from the Hourglass dependency) builds it.
  def project do
    [
      app: :native_activities,
      version: "0.1.0",
      elixir: "~> 1.14",
      compilers: [:hourglass_native | Mix.compilers()],
      deps: [{:hourglass, path: "../.."}]
    ]
  end

  def application, do: [extra_applications: [:logger]]
end
