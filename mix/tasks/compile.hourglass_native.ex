defmodule Mix.Tasks.Compile.HourglassNative do
  @moduledoc """
  Builds the project's Rust NIF crate with cargo and installs it under `priv/native/`.

  Hourglass cannot use the `rustler` Mix package (hex.pm is out of reach), so this small
  compiler does the part of it we need. Add it in front of the other compilers and describe the
  crate in the project config:

      compilers: [:hourglass_native | Mix.compilers()],
      hourglass_native: [crate: "hourglass_nif", features: []]

  Options under `:hourglass_native`:

    * `:crate` (required) - the cargo package name of the NIF crate; cargo finds it in the
      workspace at the project root.
    * `:features` - cargo features to enable (default `[]`).
    * `:profile` - `:release` or `:debug`; defaults to `:release` in the `:prod` environment and
      `:debug` elsewhere (the workspace optimises dependencies even in debug builds).

  cargo runs on every compile and decides itself whether anything changed (a no-op build takes a
  fraction of a second), so a Rust change is picked up by `mix compile` or `mix test` with
  nothing else to run. The library is copied only when it changed.
  """
  use Mix.Task.Compiler

  @recursive true

  @impl Mix.Task.Compiler
  def run(_args) do
    config = Mix.Project.config()
    options = Keyword.get(config, :hourglass_native) || Mix.raise(":hourglass_native is not set")
    crate = Keyword.get(options, :crate) || Mix.raise(":hourglass_native needs :crate")
    features = Keyword.get(options, :features, [])
    profile = Keyword.get(options, :profile, default_profile())

    root = File.cwd!()
    cargo = System.find_executable("cargo") || Mix.raise("cargo not found in PATH; run bin/setup")

    args =
      ["build", "--quiet", "--package", crate] ++
        if(profile == :release, do: ["--release"], else: []) ++
        if(features == [], do: [], else: ["--features", Enum.join(features, ",")])

    case System.cmd(cargo, args, cd: root, stderr_to_stdout: true, into: IO.stream(:stdio, :line)) do
      {_, 0} -> install(root, crate, profile)
      {_, status} -> Mix.raise("cargo #{Enum.join(args, " ")} failed with status #{status}")
    end
  end

  defp default_profile, do: if(Mix.env() == :prod, do: :release, else: :debug)

  defp install(root, crate, profile) do
    target_dir = System.get_env("CARGO_TARGET_DIR") || Path.join(root, "target")
    built = Path.join([target_dir, Atom.to_string(profile), "lib#{crate}.#{extension()}"])
    # The BEAM loads NIFs by the ".so" name on every unix, macOS included.
    installed = Path.join([root, "priv", "native", "lib#{crate}.so"])

    cond do
      not File.exists?(built) ->
        Mix.raise("cargo reported success but #{built} does not exist")

      File.exists?(installed) and File.read!(built) == File.read!(installed) ->
        {:noop, []}

      true ->
        File.mkdir_p!(Path.dirname(installed))
        # Write a new file and rename it, so a running VM that has the old one mapped is unharmed.
        tmp = installed <> ".tmp"
        File.cp!(built, tmp)
        File.rename!(tmp, installed)
        {:ok, []}
    end
  end

  defp extension do
    case :os.type() do
      {:unix, :darwin} -> "dylib"
      {:win32, _} -> "dll"
      _ -> "so"
    end
  end
end
