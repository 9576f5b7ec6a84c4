defmodule Mix.Tasks.Compile.HourglassNative do
  @moduledoc """
  Builds the project's Rust NIF crate with cargo and installs it under `priv/native/`.

  Hourglass cannot use the `rustler` Mix package (hex.pm is out of reach), so this small
  compiler does the part of it we need. Add it in front of the other compilers and describe the
  crate in the project config:

      compilers: [:hourglass_native | Mix.compilers()],
      hourglass_native: [crate: "hourglass_nif", features: []]

  ## An application's own NIF

  An application with native activities of its own (a crate that declares its NIF with
  `hourglass::nif!`) adds the compiler to its project and names its crate in its config:

      # mix.exs
      compilers: [:hourglass_native | Mix.compilers()]

      # config/config.exs
      config :hourglass, :native, otp_app: :my_app, crate: "my_activities"

  The compiler then builds `my_activities` (found in the cargo workspace at the project root,
  or at `native/my_activities/Cargo.toml`) into `my_app`'s `priv/native/`, `Hourglass.Native`
  loads it from there, and Hourglass, compiled as a dependency, skips building its own NIF.

  Options under `:hourglass_native`:

    * `:crate` - the cargo package name of the NIF crate; cargo finds it in the workspace at the
      project root, or at `native/<crate>/Cargo.toml`. Defaults to the `:crate` of the
      `:hourglass, :native` config when its `:otp_app` is this project's application.
    * `:features` - cargo features to enable (default `[]`).
    * `:profile` - `:release` or `:debug`; defaults to `:release` in the `:prod` environment and
      `:debug` elsewhere (the workspace optimises dependencies even in debug builds).

  ## One build for the NIF and cargo's own commands

  A debug build of a crate in a cargo workspace is a build of the whole workspace, with the
  features `cargo test --workspace` resolves: the configured features of the crate, and the
  features the members' dev-dependencies ask for (tokio's `test-util`, say). Cargo resolves
  features over the packages it builds, so a NIF built alone would differ in features from
  `cargo test --workspace`, `cargo build --workspace` or another member's NIF, and each would
  build the dependencies again. Release builds build the crate alone, with exactly its own
  features: that is what ships.

  cargo runs on every compile and decides itself whether anything changed (a no-op build takes a
  fraction of a second), so a Rust change is picked up by `mix compile` or `mix test` with
  nothing else to run. The library is copied only when it changed.
  """
  use Mix.Task.Compiler

  @recursive true

  @impl Mix.Task.Compiler
  def run(_args) do
    config = Mix.Project.config()
    native = Application.get_env(:hourglass, :native, [])
    options = Keyword.get(config, :hourglass_native) || app_nif_options(config[:app], native)

    cond do
      options == nil ->
        Mix.raise(
          ":hourglass_native is not set in the project, and config :hourglass, :native does " <>
            "not name this application (otp_app: #{inspect(config[:app])}) and its crate"
        )

      # Hourglass itself, compiled for an application that brings its own NIF.
      config[:app] == :hourglass and Keyword.get(native, :otp_app, :hourglass) != :hourglass ->
        {:noop, []}

      true ->
        build(options)
    end
  end

  defp app_nif_options(app, native) do
    if Keyword.get(native, :otp_app) == app do
      crate =
        Keyword.get(native, :crate) ||
          Mix.raise("config :hourglass, :native names otp_app #{inspect(app)} but no :crate")

      [crate: crate]
    end
  end

  defp build(options) do
    crate = Keyword.get(options, :crate) || Mix.raise(":hourglass_native needs :crate")
    features = Keyword.get(options, :features, [])
    profile = Keyword.get(options, :profile, default_profile())

    root = File.cwd!()
    cargo = System.find_executable("cargo") || Mix.raise("cargo not found in PATH; run bin/setup")
    location = location(root, crate)
    metadata = metadata(cargo, root, location)
    args = ["build", "--quiet"] ++ selection_args(location, crate, features, profile, metadata)

    case System.cmd(cargo, args, cd: root, stderr_to_stdout: true, into: IO.stream(:stdio, :line)) do
      {_, 0} -> install(root, target_dir(metadata, root), crate, profile)
      {_, status} -> Mix.raise("cargo #{Enum.join(args, " ")} failed with status #{status}")
    end
  end

  # A debug build of a workspace member: the whole workspace, with the features
  # `cargo test --workspace` resolves (see the moduledoc). Otherwise the crate alone, with its
  # own features: a release build is what ships.
  defp selection_args(location, crate, features, profile, metadata) do
    if profile == :debug and workspace_member?(metadata, crate) do
      features = Enum.map(features, &"#{crate}/#{&1}") ++ dev_dependency_features(metadata)
      manifest_args(location) ++ ["--workspace"] ++ feature_args(features)
    else
      location_args(location) ++
        if(profile == :release, do: ["--release"], else: []) ++ feature_args(features)
    end
  end

  defp feature_args([]), do: []
  defp feature_args(features), do: ["--features", features |> Enum.uniq() |> Enum.join(",")]

  # The crate is a package of the cargo workspace at the project root, or a crate of its own
  # under native/.
  defp location(root, crate) do
    manifest = Path.join([root, "native", crate, "Cargo.toml"])

    if File.exists?(Path.join(root, "Cargo.toml")) or not File.exists?(manifest),
      do: {:package, crate},
      else: {:manifest, manifest}
  end

  defp location_args({:package, crate}), do: ["--package", crate]
  defp location_args({:manifest, manifest}), do: ["--manifest-path", manifest]

  defp manifest_args({:package, _crate}), do: []
  defp manifest_args({:manifest, manifest}), do: ["--manifest-path", manifest]

  defp default_profile, do: if(Mix.env() == :prod, do: :release, else: :debug)

  # The workspace's metadata (its members, not their dependencies), as JSON text: there is no
  # JSON parser without hex packages, and the two things read from it are simple to find.
  defp metadata(cargo, root, location) do
    args =
      ["metadata", "--format-version", "1", "--no-deps", "--offline"] ++ manifest_args(location)

    case System.cmd(cargo, args, cd: root) do
      {json, 0} -> json
      _ -> ""
    end
  end

  # Where cargo put the library: its target directory, which a workspace further up or
  # CARGO_TARGET_DIR may have moved.
  defp target_dir(metadata, root) do
    case Regex.run(~r/"target_directory":"([^"]+)"/, metadata) do
      [_, dir] -> dir
      nil -> System.get_env("CARGO_TARGET_DIR") || Path.join(root, "target")
    end
  end

  # The metadata lists the workspace's packages (each object opening with its name and version)
  # and, inside them, their dependencies.
  defp workspace_member?(metadata, crate),
    do: String.contains?(metadata, ~s({"name":"#{crate}","version":"))

  # "dependency/feature" for each feature a member's dev-dependency asks for, where the
  # dependency is also a plain (non-optional) dependency of a member: cargo accepts features of
  # the members' direct dependencies, and a dev-only dependency is not built here anyway. A
  # dependency is a flat JSON object in the metadata (no nested objects).
  defp dev_dependency_features(metadata) do
    dependencies =
      for [object] <- Regex.scan(~r/\{"name":"[^{}]*"uses_default_features":[^{}]*\}/, metadata) do
        %{
          name: json_string(object, "rename") || json_string(object, "name"),
          kind: json_string(object, "kind"),
          optional: object =~ ~s("optional":true),
          features:
            Regex.scan(~r/"([^"]+)"/, json_list(object, "features"), capture: :all_but_first)
        }
      end

    plain =
      for %{kind: nil, optional: false, name: name} <- dependencies, into: MapSet.new(), do: name

    for %{kind: "dev", name: name, features: features} <- dependencies,
        MapSet.member?(plain, name),
        [feature] <- features,
        do: "#{name}/#{feature}"
  end

  defp json_string(object, key) do
    case Regex.run(~r/"#{key}":"([^"]*)"/, object, capture: :all_but_first) do
      [value] -> value
      nil -> nil
    end
  end

  defp json_list(object, key) do
    case Regex.run(~r/"#{key}":\[([^\]]*)\]/, object, capture: :all_but_first) do
      [items] -> items
      nil -> ""
    end
  end

  defp install(root, target_dir, crate, profile) do
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
        # Mix links priv/ into the build only if it existed before the compilers ran; on a
        # first build it did not.
        Mix.Project.build_structure()
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
