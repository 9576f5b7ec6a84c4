defmodule NativeActivities do
  @moduledoc """
  An application whose activities are written in Rust: `native/image_activities` builds an
  Hourglass NIF with two of them next to Hourglass's built-ins, and `config/config.exs` makes
  Hourglass load it.

      children = [
        {Hourglass.Worker,
         task_queue: "images",
         native_activities: NativeActivities.activity_types(),
         address: "localhost:7233"}
      ]

  Any Temporal client starts them by type, like any other activity — from Elixir:

      {:ok, client} = Hourglass.Client.connect(address: "localhost:7233")
      NativeActivities.thumbnail(client, "images", "photo.jpg", "photo-thumb.png", 256)
  """

  @doc "The activity types this application's NIF adds."
  @spec activity_types() :: [String.t()]
  def activity_types, do: ["images.thumbnail", "images.dimensions"]

  @doc """
  Runs `images.thumbnail` as a Standalone Activity on `task_queue` and waits for it: `source`
  (PNG, JPEG or PNM) scaled to fit `max_side` pixels, written as a PNG to `destination`.
  Returns `{:ok, %{"width" => w, "height" => h, "bytes" => n, ...}}` or the client's error.
  """
  @spec thumbnail(Hourglass.Client.t(), String.t(), Path.t(), Path.t(), pos_integer()) ::
          {:ok, map()} | {:error, term()}
  def thumbnail(client, task_queue, source, destination, max_side) do
    request = %{"source" => source, "destination" => destination, "max_side" => max_side}

    Hourglass.Client.execute_activity(client, "images.thumbnail", [request],
      task_queue: task_queue,
      start_to_close_timeout: 60_000,
      heartbeat_timeout: 10_000,
      # Bad images fail without retry (the activity says so); an unreadable file is retried.
      retry_policy: [maximum_attempts: 3, initial_interval: 100]
    )
  end
end
