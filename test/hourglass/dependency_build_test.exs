defmodule Hourglass.DependencyBuildTest do
  # Builds a brand-new Mix project that depends on Hourglass by path, with a plain
  # `mix compile`, and checks the NIF loads there. Slow on a cold cargo cache.
  use ExUnit.Case, async: true

  @moduletag :dependency_build
  @moduletag timeout: 1_800_000

  @root Path.expand("../..", __DIR__)

  test "a project with {:hourglass, path: ...} compiles Hourglass and its NIF" do
    # Outside the repository, so the copy never ends up among its own files.
    tmp =
      Path.join(System.tmp_dir!(), "hourglass-dependency-#{System.unique_integer([:positive])}")

    on_exit(fn -> File.rm_rf!(tmp) end)
    # A copy of the tracked files, as a git or path dependency would see them.
    source = Path.join(tmp, "hourglass")
    File.mkdir_p!(source)

    {files, 0} =
      System.cmd("git", ["ls-files", "--cached", "--others", "--exclude-standard"], cd: @root)

    for file <- String.split(files, "\n", trim: true), File.regular?(Path.join(@root, file)) do
      File.mkdir_p!(Path.dirname(Path.join(source, file)))
      File.cp!(Path.join(@root, file), Path.join(source, file))
    end

    app = Path.join(tmp, "my_app")
    File.mkdir_p!(Path.join(app, "lib"))

    File.write!(Path.join(app, "mix.exs"), """
    defmodule MyApp.MixProject do
      use Mix.Project

      def project do
        [app: :my_app, version: "0.1.0", deps: [{:hourglass, path: #{inspect(source)}}]]
      end

      def application, do: [extra_applications: [:logger]]
    end
    """)

    # Reuse the workspace's cargo cache: the copy's crates resolve to the same build units.
    env = [{"MIX_ENV", "dev"}, {"CARGO_TARGET_DIR", Path.join(@root, "target")}]
    assert {out, 0} = System.cmd("mix", ["compile"], cd: app, env: env, stderr_to_stdout: true)
    assert File.exists?(Path.join([source, "priv", "native", "libhourglass_nif.so"])), out

    script =
      ~s|{:ok, _} = Application.ensure_all_started(:hourglass); IO.inspect(Hourglass.Native.activity_types())|

    assert {out, 0} =
             System.cmd("mix", ["run", "-e", script], cd: app, env: env, stderr_to_stdout: true)

    assert out =~ ~s("hourglass.sha256")
  end
end
