defmodule Hourglass.Bench do
  @moduledoc """
  What the benchmark suites share: the machine they ran on, percentiles, results written as
  JSON under `bench/results/`, and PNG charts drawn by gnuplot. Run them with
  `mix hourglass.bench [suite]`; every comparison inside a suite runs side by side in one run,
  because these machines are noisy.
  """

  alias Hourglass.Bench.JSON

  @results_dir Path.expand("../../results", __DIR__)

  @doc "Where results and charts are written."
  @spec results_dir() :: Path.t()
  def results_dir, do: @results_dir

  @doc "The machine, for the record."
  @spec machine() :: map()
  def machine do
    cpu =
      case File.read("/proc/cpuinfo") do
        {:ok, text} -> text |> String.split("\n") |> Enum.find_value("unknown", &model_name/1)
        _ -> "unknown"
      end

    memory_kb =
      case File.read("/proc/meminfo") do
        {:ok, "MemTotal:" <> rest} -> rest |> String.trim() |> Integer.parse() |> elem(0)
        _ -> 0
      end

    %{
      cores: System.schedulers_online(),
      cpu: cpu,
      memory_gib: Float.round(memory_kb / 1_048_576, 1),
      otp: System.otp_release(),
      elixir: System.version(),
      date: DateTime.utc_now() |> DateTime.truncate(:second) |> DateTime.to_iso8601()
    }
  end

  defp model_name("model name" <> rest),
    do: rest |> String.split(":", parts: 2) |> List.last() |> String.trim()

  defp model_name(_), do: nil

  @doc "Percentiles of a list of numbers: `%{p50, p99, max}`, rounded."
  @spec percentiles([number()]) :: %{p50: float(), p99: float(), max: float()}
  def percentiles([]), do: %{p50: 0.0, p99: 0.0, max: 0.0}

  def percentiles(samples) do
    sorted = Enum.sort(samples)

    at = fn p ->
      Enum.at(sorted, min(length(sorted) - 1, max(0, ceil(p / 100 * length(sorted)) - 1)))
    end

    %{p50: round2(at.(50)), p99: round2(at.(99)), max: round2(List.last(sorted))}
  end

  defp round2(number), do: Float.round(number / 1, 2)

  @doc "The median of a list of numbers."
  @spec median([number()]) :: float()
  def median(samples), do: samples |> Enum.sort() |> Enum.at(div(length(samples), 2)) |> round2()

  @doc "Writes `bench/results/SUITE.json` with the machine and the result; returns the path."
  @spec write(String.t(), map()) :: Path.t()
  def write(suite, result) do
    File.mkdir_p!(@results_dir)
    path = Path.join(@results_dir, "#{suite}.json")
    File.write!(path, JSON.encode(%{suite: suite, machine: machine(), result: result}) <> "\n")
    path
  end

  @doc "The name a suite's results and chart go under: `SUITE_grpc_none` without gRPC compression."
  @spec suite_name(String.t(), :gzip | :none) :: String.t()
  def suite_name(suite, :gzip), do: suite
  def suite_name(suite, :none), do: "#{suite}_grpc_none"

  @doc """
  Hourglass's CPU over a peer's, from `results` keyed `"worker/kind"`: the `key` figure of
  each of `ours` that ran, per kind, over the peer's; empty when the peer did not run.
  """
  @spec cpu_ratios(map(), [atom()], atom(), [String.t()], atom()) :: %{String.t() => float()}
  def cpu_ratios(results, ours, peer, kinds, key) do
    if Map.has_key?(results, "#{peer}/#{hd(kinds)}") do
      for worker <- ours,
          Map.has_key?(results, "#{worker}/#{hd(kinds)}"),
          kind <- kinds,
          into: %{} do
        mine = results["#{worker}/#{kind}"][key]
        theirs = results["#{peer}/#{kind}"][key]
        {"#{worker}/#{kind}", Float.round(mine / max(theirs, 0.001), 2)}
      end
    else
      %{}
    end
  end

  @doc """
  Bars of the `key` figure of each worker per kind, from `results` keyed `"worker/kind"`
  (see `chart/4`).
  """
  @spec cpu_chart(String.t(), map(), [atom()], [String.t()], atom(), keyword()) :: Path.t() | nil
  def cpu_chart(suite, results, workers, kinds, key, opts) do
    bars =
      for kind <- kinds, worker <- workers do
        {"#{worker_label(worker)} #{kind}", results["#{worker}/#{kind}"][key]}
      end

    chart(suite, :bars, bars, opts)
  end

  defp worker_label(:hourglass_no_spin), do: "hourglass (no spin)"
  defp worker_label(worker), do: Atom.to_string(worker)

  @doc """
  Draws `bench/results/SUITE.png` with gnuplot: `:bars` for `[{label, value}]`, or `:lines`
  for `[{series_name, [{x, y}]}]`. Returns the path, or nil when gnuplot is missing.
  """
  @spec chart(String.t(), :bars | :lines, list(), keyword()) :: Path.t() | nil
  def chart(suite, kind, data, opts) do
    with gnuplot when is_binary(gnuplot) <- System.find_executable("gnuplot") do
      File.mkdir_p!(@results_dir)
      png = Path.join(@results_dir, "#{suite}.png")
      dir = Path.join(System.tmp_dir!(), "hourglass-chart-#{System.unique_integer([:positive])}")
      File.mkdir_p!(dir)
      script = gnuplot_script(kind, data, dir, png, opts)
      File.write!(Path.join(dir, "chart.gp"), script)
      {_, 0} = System.cmd(gnuplot, [Path.join(dir, "chart.gp")], stderr_to_stdout: true)
      File.rm_rf!(dir)
      png
    end
  end

  defp gnuplot_script(:bars, data, dir, png, opts) do
    file = Path.join(dir, "bars.dat")
    File.write!(file, Enum.map_join(data, "\n", fn {label, value} -> "\"#{label}\" #{value}" end))

    """
    set terminal pngcairo size 900,500 noenhanced
    set output '#{png}'
    set title '#{opts[:title]}'
    set ylabel '#{opts[:ylabel]}'
    set style data histograms
    set style fill solid 0.8 border -1
    set boxwidth 0.6
    set grid ytics
    set yrange [0:*]
    #{if opts[:log], do: "set logscale y\nset yrange [*:*]", else: ""}
    set xtics rotate by -20
    plot '#{file}' using 2:xtic(1) notitle linecolor rgb '#3b7dd8'
    """
  end

  defp gnuplot_script(:lines, series, dir, png, opts) do
    plots =
      series
      |> Enum.with_index()
      |> Enum.map(fn {{name, points}, index} ->
        file = Path.join(dir, "series#{index}.dat")
        File.write!(file, Enum.map_join(points, "\n", fn {x, y} -> "#{x} #{y}" end))
        "'#{file}' using 1:2 with linespoints title '#{name}'"
      end)

    """
    set terminal pngcairo size 900,500 noenhanced
    set output '#{png}'
    set title '#{opts[:title]}'
    set xlabel '#{opts[:xlabel]}'
    set ylabel '#{opts[:ylabel]}'
    set grid
    #{if opts[:logx], do: "set logscale x", else: ""}
    set key left top
    plot #{Enum.join(plots, ", ")}
    """
  end
end
