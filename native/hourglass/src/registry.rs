//! The native activities this NIF can run: the built-ins plus those the NIF's crate registered
//! with [`crate::nif!`], fixed when the NIF loads.

use crate::activities;
use crate::activity::NativeActivity;
use std::collections::HashSet;
use std::sync::OnceLock;

static REGISTERED: OnceLock<Vec<NativeActivity>> = OnceLock::new();

/// Registers `extra` next to the built-ins. Only the first call, made when the NIF loads and so
/// before any lookup, has an effect (a lookup before it fixes the built-ins alone). Fails,
/// registering nothing, when two activities share a type.
pub fn install(extra: Vec<NativeActivity>) -> Result<(), String> {
    let mut all = activities::built_ins();
    all.extend(extra);
    let mut seen = HashSet::new();
    if let Some(twice) = all.iter().find(|activity| !seen.insert(activity.name())) {
        return Err(format!(
            "two native activities have the type {:?}",
            twice.name()
        ));
    }
    let _ = REGISTERED.set(all);
    Ok(())
}

/// Every registered native activity (the built-ins alone before [`install`]).
pub fn all() -> &'static [NativeActivity] {
    REGISTERED.get_or_init(activities::built_ins)
}

/// Finds a native activity by its type.
pub fn find(name: &str) -> Option<&'static NativeActivity> {
    all().iter().find(|activity| activity.name() == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity::Workload;

    #[test]
    fn built_ins_are_found_by_type_and_duplicates_are_refused() {
        for name in ["hourglass.echo", "hourglass.sleep", "hourglass.sha256"] {
            assert_eq!(find(name).map(NativeActivity::name), Some(name));
        }
        assert!(find("hourglass.nope").is_none());
        let twin = NativeActivity::with_arguments("hourglass.echo", Workload::Io, |_, _| async {
            Ok(serde_json::Value::Null)
        });
        assert!(install(vec![twin]).unwrap_err().contains("hourglass.echo"));
    }
}
