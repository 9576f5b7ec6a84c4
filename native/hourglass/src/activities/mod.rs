//! The native activities Hourglass ships, registered in every Hourglass NIF.

mod echo;
pub mod sha256;
mod sleep;

use crate::activity::NativeActivity;

/// The built-in activities.
pub fn built_ins() -> Vec<NativeActivity> {
    vec![echo::activity(), sleep::activity(), sha256::activity()]
}
