//! The native activities Hourglass ships, registered in every Hourglass NIF.

mod echo;
pub mod sha256;
mod sleep;
#[cfg(feature = "test-activities")]
mod test_support;

use crate::activity::NativeActivity;

/// The built-in activities (and, in test builds, the misbehaving ones the ExUnit suite uses).
pub fn built_ins() -> Vec<NativeActivity> {
    #[allow(unused_mut)]
    let mut all = vec![echo::activity(), sleep::activity(), sha256::activity()];
    #[cfg(feature = "test-activities")]
    all.extend(test_support::activities());
    all
}
