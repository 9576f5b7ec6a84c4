defmodule NativeActivitiesTest do
  use ExUnit.Case, async: false

  alias Hourglass.{ApplicationError, Client, Native}

  @moduletag timeout: 300_000
  @moduletag :tmp_dir

  setup do
    address = Application.fetch_env!(:native_activities, :test_server_address)
    queue = "images-#{System.unique_integer([:positive])}"

    start_supervised!(
      {Hourglass.Worker,
       task_queue: queue,
       address: address,
       native_activities: NativeActivities.activity_types() ++ ["hourglass.sha256"]}
    )

    {:ok, client} = Client.connect(address: address)
    %{client: client, queue: queue}
  end

  test "the application's NIF is the one loaded, with the built-ins beside its activities" do
    assert Native.nif_path() =~ "native_activities"
    assert Native.nif_path() =~ "libimage_activities"
    types = Native.activity_types()
    assert "images.thumbnail" in types and "images.dimensions" in types
    assert "hourglass.sha256" in types
  end

  test "a large image becomes a thumbnail, through the dev server", ctx do
    source = write_test_image(ctx.tmp_dir, 3_000, 2_000)
    destination = Path.join(ctx.tmp_dir, "thumb.png")

    assert {:ok, result} =
             NativeActivities.thumbnail(ctx.client, ctx.queue, source, destination, 300)

    assert %{
             "width" => 300,
             "height" => 200,
             "source_width" => 3_000,
             "source_height" => 2_000,
             "destination" => ^destination
           } = result

    # The file is a real PNG of that size.
    assert <<0x89, "PNG", _::binary-size(12), width::32, height::32, _::binary>> =
             File.read!(destination)

    assert {width, height} == {300, 200}
    assert result["bytes"] == File.stat!(destination).size

    assert {:ok, %{"width" => 300, "height" => 200}} =
             Client.execute_activity(ctx.client, "images.dimensions", [destination],
               task_queue: ctx.queue,
               start_to_close_timeout: 10_000
             )
  end

  test "the built-ins still run from the application's NIF", ctx do
    assert {:ok, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"} =
             Client.execute_activity(
               ctx.client,
               "hourglass.sha256",
               [%{"data" => "abc", "rounds" => 1}],
               task_queue: ctx.queue,
               start_to_close_timeout: 10_000
             )
  end

  test "an image that cannot be decoded fails without retry; bad arguments too", ctx do
    garbage = Path.join(ctx.tmp_dir, "garbage.png")
    File.write!(garbage, "not an image at all")
    out = Path.join(ctx.tmp_dir, "out.png")

    assert {:error, {:failed, %ApplicationError{} = error}} =
             NativeActivities.thumbnail(ctx.client, ctx.queue, garbage, out, 100)

    assert error.type in ["InvalidImage", "UnsupportedImage"]
    assert error.non_retryable

    assert {:error, {:failed, %ApplicationError{type: "InvalidArgument", non_retryable: true}}} =
             NativeActivities.thumbnail(ctx.client, ctx.queue, garbage, out, 0)

    assert {:error, {:failed, %ApplicationError{type: "InvalidArgument"} = error}} =
             Client.execute_activity(ctx.client, "images.thumbnail", [%{"source" => 1}],
               task_queue: ctx.queue,
               start_to_close_timeout: 10_000,
               retry_policy: [maximum_attempts: 1]
             )

    assert error.message =~ "images.thumbnail"
  end

  test "a missing file is retried (it may appear), then fails with the IO error's kind", ctx do
    missing = Path.join(ctx.tmp_dir, "missing.png")
    request = %{"source" => missing, "destination" => missing <> ".out", "max_side" => 10}

    {:ok, handle} =
      Client.start_activity(ctx.client, "images.thumbnail", [request],
        task_queue: ctx.queue,
        start_to_close_timeout: 10_000,
        retry_policy: [maximum_attempts: 3, initial_interval: 100]
      )

    assert {:error, {:failed, %ApplicationError{type: "NotFound", non_retryable: false}}} =
             Client.result(ctx.client, handle)

    assert {:ok, %{attempt: 3}} = Client.describe(ctx.client, handle)
  end

  # A 24-bit binary PPM with a horizontal gradient: big enough that scaling it is real work.
  defp write_test_image(dir, width, height) do
    row = for x <- 0..(width - 1), into: <<>>, do: <<rem(x, 256), 128, 255 - rem(x, 256)>>
    path = Path.join(dir, "source.ppm")
    File.write!(path, ["P6\n#{width} #{height}\n255\n", :binary.copy(row, height)])
    path
  end
end
