//! Native activities of the `native_activities` example: image thumbnails, CPU-heavy work that
//! runs on Hourglass's low-priority tokio pool instead of a BEAM scheduler.
//!
//! - `images.thumbnail`: `%{"source" => path, "destination" => path, "max_side" => pixels}` →
//!   decodes the image (PNG, JPEG or PNM), scales it to fit `max_side` with a Lanczos filter,
//!   writes a PNG and returns its size. Heartbeats at each step, so a cancellation stops it
//!   between steps.
//! - `images.dimensions`: a path → `%{"width" => w, "height" => h}`, read from the header only.

use hourglass::{ActivityContext, ActivityFailure, NativeActivity, Workload};
use image::imageops::FilterType;
use image::{ImageError, ImageFormat};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
struct ThumbnailRequest {
    source: String,
    destination: String,
    max_side: u32,
}

#[derive(Debug, Serialize)]
struct Thumbnail {
    destination: String,
    width: u32,
    height: u32,
    source_width: u32,
    source_height: u32,
    bytes: u64,
}

async fn thumbnail(
    ctx: ActivityContext,
    request: ThumbnailRequest,
) -> Result<Thumbnail, ActivityFailure> {
    if request.max_side == 0 {
        return Err(ActivityFailure::non_retryable(
            "InvalidArgument",
            "max_side must be at least 1",
        ));
    }
    ctx.heartbeat("decoding")?;
    let source = image::open(&request.source).map_err(image_failure)?;
    // Each step below takes a while: yield in between, so other bodies on the pool get their
    // turn and a cancellation lands.
    hourglass::tokio::task::yield_now().await;
    ctx.heartbeat("resizing")?;
    let small = source.resize(request.max_side, request.max_side, FilterType::Lanczos3);
    hourglass::tokio::task::yield_now().await;
    ctx.heartbeat("encoding")?;
    small
        .save_with_format(&request.destination, ImageFormat::Png)
        .map_err(image_failure)?;
    Ok(Thumbnail {
        bytes: std::fs::metadata(&request.destination)?.len(),
        destination: request.destination,
        width: small.width(),
        height: small.height(),
        source_width: source.width(),
        source_height: source.height(),
    })
}

#[derive(Debug, Serialize)]
struct Dimensions {
    width: u32,
    height: u32,
}

async fn dimensions(_ctx: ActivityContext, path: String) -> Result<Dimensions, ActivityFailure> {
    // Reading a file blocks: off the async pool's threads.
    let read = hourglass::tokio::task::spawn_blocking(move || image::image_dimensions(path));
    let (width, height) = read
        .await
        .map_err(|error| ActivityFailure::new("Panic", error.to_string()))?
        .map_err(image_failure)?;
    Ok(Dimensions { width, height })
}

/// An unreadable file may be there on the next attempt; an image that cannot be decoded will not
/// get better by retrying.
fn image_failure(error: ImageError) -> ActivityFailure {
    match error {
        ImageError::IoError(io) => io.into(),
        ImageError::Unsupported(_) => {
            ActivityFailure::non_retryable("UnsupportedImage", error.to_string())
        }
        other => ActivityFailure::non_retryable("InvalidImage", other.to_string()),
    }
}

hourglass::nif!(
    NativeActivity::new("images.thumbnail", Workload::Cpu, thumbnail),
    NativeActivity::new("images.dimensions", Workload::Io, dimensions),
);
