//! Hands the code the descriptor set of Temporal's protos, which temporalio-protos' build
//! writes and names through its `links` key: `temporal::history_json` reads histories in their
//! JSON form with it.

fn main() {
    let path = std::env::var("DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH")
        .expect("temporalio-protos names its descriptor set (its build's descriptor_path)");
    println!("cargo:rustc-env=HOURGLASS_TEMPORAL_DESCRIPTORS={path}");
    println!("cargo:rerun-if-env-changed=DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH");
}
