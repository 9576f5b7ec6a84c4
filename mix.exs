# The compiler task that builds the NIF must exist before Hourglass's own lib/ is compiled, also
# when Hourglass is a dependency, so it lives outside lib/ and is loaded here.
Code.require_file("mix/tasks/compile.hourglass_native.ex", __DIR__)

defmodule Hourglass.MixProject do
  use Mix.Project

  def project do
    [
      app: :hourglass,
      version: "0.1.0",
      elixir: "~> 1.14",
      start_permanent: Mix.env() == :prod,
      compilers: [:hourglass_native | Mix.compilers()],
      hourglass_native: [
        crate: native_crate(Mix.env()),
        features: native_features(Mix.env()),
        profile: native_profile(Mix.env())
      ],
      elixirc_paths: elixirc_paths(Mix.env()),
      deps: [],
      # Benchmarks measure what users deploy: an optimised (release) NIF.
      preferred_cli_env: ["hourglass.bench": :bench],
      test_coverage: [summary: [threshold: 0]]
    ]
  end

  def application do
    [
      extra_applications: [:logger, :crypto],
      mod: {Hourglass.Application, []}
    ]
  end

  # The test suite's NIF carries native activities that misbehave on purpose (a panicking body),
  # from a crate of its own (config/test.exs loads it); the benchmarks' build carries the
  # baselines that hold a scheduler on purpose. Neither ships.
  defp native_crate(:test), do: "hourglass_test_nif"
  defp native_crate(_), do: "hourglass_nif"

  defp native_features(:bench), do: ["bench-baselines"]
  defp native_features(_), do: []

  defp native_profile(env) when env in [:prod, :bench], do: :release
  defp native_profile(_env), do: :debug

  # The benchmarks (bench/lib) and the fault suite (faults/lib) are compiled in dev, in test
  # and in the benchmarks' own environment (`MIX_ENV=bench`, the preferred one of
  # `mix hourglass.bench`), never into a release.
  defp elixirc_paths(:test), do: ["lib", "test/support", "bench/lib", "faults/lib"]
  defp elixirc_paths(env) when env in [:dev, :bench], do: ["lib", "bench/lib", "faults/lib"]
  defp elixirc_paths(_), do: ["lib"]
end
