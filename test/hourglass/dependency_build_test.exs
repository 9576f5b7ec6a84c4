defmodule Hourglass.DependencyBuildTest do
  # Builds a brand-new Mix project that depends on Hourglass by path, with a plain
  # `mix compile`, and checks the NIF loads there. The dependency is compiled in :dev (a
  # dependency's default environment is :prod, a release build of every crate: many minutes of
  # compiling that nothing else in the run shares), so the copy's cargo build is the
  # workspace's debug build (bin/test builds it before the ExUnit suite, for the example
  # application).
  use ExUnit.Case, async: true

  @moduletag :dependency_build
  @moduletag timeout: 1_800_000

  @root Path.expand("../..", __DIR__)

  test "a project with {:hourglass, path: ...} compiles Hourglass and its NIF" do
    # Outside the repository, so the copy never ends up among its own files.
    tmp =
      Path.join(System.tmp_dir!(), "hourglass-dependency-#{System.unique_integer([:positive])}")

    on_exit(fn -> File.rm_rf!(tmp) end)
    # A copy of the tracked files, as a git or path dependency would see them. They keep their
    # modification times: cargo names a path crate's build by the crate's place in its
    # workspace, the same in the copy, so with the same times the copy's crates are as fresh as
    # the workspace's.
    source = Path.join(tmp, "hourglass")
    File.mkdir_p!(source)

    {files, 0} =
      System.cmd("git", ["ls-files", "--cached", "--others", "--exclude-standard"], cd: @root)

    for file <- String.split(files, "\n", trim: true), File.regular?(Path.join(@root, file)) do
      File.mkdir_p!(Path.dirname(Path.join(source, file)))
      File.cp!(Path.join(@root, file), Path.join(source, file))
      File.touch!(Path.join(source, file), File.stat!(Path.join(@root, file), time: :posix).mtime)
    end

    app = Path.join(tmp, "my_app")
    File.mkdir_p!(Path.join(app, "lib"))

    File.write!(Path.join(app, "mix.exs"), """
    defmodule MyApp.MixProject do
      use Mix.Project

      def project do
        [app: :my_app, version: "0.1.0", deps: [{:hourglass, path: #{inspect(source)}, env: :dev}]]
      end

      def application, do: [extra_applications: [:logger]]
    end
    """)

    # Reuse the workspace's cargo build: the copy's dependencies resolve to the same build
    # units, found in the workspace's build directory. The libraries themselves go to a target
    # directory of the copy's own, so they never replace the workspace's.
    env = [
      {"MIX_ENV", "dev"},
      {"CARGO_BUILD_BUILD_DIR", Path.join(@root, "target")},
      {"CARGO_TARGET_DIR", Path.join(tmp, "target")}
    ]

    assert {out, 0} = System.cmd("mix", ["compile"], cd: app, env: env, stderr_to_stdout: true)
    assert File.exists?(Path.join([source, "priv", "native", "libhourglass_nif.so"])), out

    script =
      ~s|{:ok, _} = Application.ensure_all_started(:hourglass); IO.inspect(Hourglass.Native.activity_types())|

    assert {out, 0} =
             System.cmd("mix", ["run", "-e", script], cd: app, env: env, stderr_to_stdout: true)

    assert out =~ ~s("hourglass.sha256")
  end
end
