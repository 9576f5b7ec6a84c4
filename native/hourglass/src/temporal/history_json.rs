//! Histories in their JSON form (`temporal workflow show --output json`): proto3 JSON of
//! `temporal.api.history.v1.History`, read with the descriptor set of
//! Temporal's protos, into the history the replayer takes.
//!
//! The CLI writes payloads in a shorthand by default: a JSON payload as its plain value instead
//! of `{"metadata": …, "data": …}`. Such values are turned back into `json/plain` payloads
//! first, wherever a payload goes (`payloads` lists, and the `fields` / `indexedFields` maps of
//! headers, memos and search attributes).

use base64::Engine;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage};
use serde_json::{Map, Value};
use std::sync::LazyLock;
use temporalio_common::protos::temporal::api::history::v1::History;

static POOL: LazyLock<Result<DescriptorPool, String>> = LazyLock::new(|| {
    DescriptorPool::decode(&include_bytes!(env!("HOURGLASS_TEMPORAL_DESCRIPTORS"))[..])
        .map_err(|error| format!("Temporal's proto descriptors cannot be read: {error}"))
});

/// The history in `json`, or what is wrong with it.
pub fn history_from_json(json: &str) -> Result<History, String> {
    let pool = POOL.as_ref().map_err(Clone::clone)?;
    let descriptor = pool
        .get_message_by_name("temporal.api.history.v1.History")
        .ok_or("Temporal's proto descriptors have no History")?;
    let mut value: Value =
        serde_json::from_str(json).map_err(|error| format!("not JSON: {error}"))?;
    expand_shorthand_payloads(&mut value);
    let message = DynamicMessage::deserialize(descriptor, value)
        .map_err(|error| format!("not a workflow history: {error}"))?;
    let history = History::decode(message.encode_to_vec().as_slice())
        .map_err(|error| format!("not a workflow history: {error}"))?;
    if history.events.is_empty() {
        return Err("the history has no events".to_string());
    }
    Ok(history)
}

fn expand_shorthand_payloads(value: &mut Value) {
    match value {
        Value::Object(object) => {
            for (key, child) in object.iter_mut() {
                match (key.as_str(), &mut *child) {
                    ("payloads", Value::Array(items)) => items.iter_mut().for_each(expand),
                    ("fields" | "indexedFields", Value::Object(named)) => {
                        named.values_mut().for_each(expand)
                    }
                    _ => expand_shorthand_payloads(child),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(expand_shorthand_payloads),
        _ => {}
    }
}

/// A payload in shorthand becomes a `json/plain` payload; a full one is left as it is.
fn expand(payload: &mut Value) {
    if is_full_payload(payload) {
        return;
    }
    let data = serde_json::to_vec(payload).unwrap_or_default();
    let mut metadata = Map::new();
    metadata.insert("encoding".into(), Value::String(base64(b"json/plain")));
    let mut full = Map::new();
    full.insert("metadata".into(), Value::Object(metadata));
    full.insert("data".into(), Value::String(base64(&data)));
    *payload = Value::Object(full);
}

fn is_full_payload(value: &Value) -> bool {
    match value {
        Value::Object(object) => {
            object.contains_key("metadata")
                && object.keys().all(|key| {
                    matches!(
                        key.as_str(),
                        "metadata" | "data" | "externalPayloads" | "external_payloads"
                    )
                })
        }
        _ => false,
    }
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_common::protos::temporal::api::enums::v1::EventType;
    use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

    const STARTED: &str = r#"{"events": [{
        "eventId": "1",
        "eventTime": "2026-12-01T10:00:00Z",
        "eventType": "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED",
        "workflowExecutionStartedEventAttributes": {
            "workflowType": {"name": "Approval"},
            "taskQueue": {"name": "orders", "kind": "TASK_QUEUE_KIND_NORMAL"},
            "input": {"payloads": [PAYLOAD]},
            "memo": {"fields": {"owner": "ada"}},
            "workflowTaskTimeout": "10s"
        }
    }]}"#;

    fn started(json: &str) -> (String, Vec<u8>, Vec<u8>) {
        let history = history_from_json(json).unwrap();
        let event = &history.events[0];
        assert_eq!(event.event_id, 1);
        assert_eq!(event.event_type(), EventType::WorkflowExecutionStarted);
        let Some(Attributes::WorkflowExecutionStartedEventAttributes(attributes)) =
            &event.attributes
        else {
            panic!("no started attributes");
        };
        let input = &attributes.input.as_ref().unwrap().payloads[0];
        let owner = &attributes.memo.as_ref().unwrap().fields["owner"];
        (
            attributes.workflow_type.as_ref().unwrap().name.clone(),
            input.data.clone(),
            owner.data.clone(),
        )
    }

    #[test]
    fn a_full_payload_is_read_as_it_is() {
        let full = r#"{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "Im9yZGVyLTEi"}"#;
        let (name, input, owner) = started(&STARTED.replace("PAYLOAD", full));
        assert_eq!(name, "Approval");
        assert_eq!(input, b"\"order-1\"");
        assert_eq!(owner, b"\"ada\"");
    }

    #[test]
    fn a_shorthand_payload_becomes_json() {
        let (_, input, _) = started(&STARTED.replace("PAYLOAD", r#"{"id": 7, "items": [1, 2]}"#));
        assert_eq!(input, br#"{"id":7,"items":[1,2]}"#);
    }

    #[test]
    fn what_is_not_a_history_says_so() {
        assert!(history_from_json("{").unwrap_err().starts_with("not JSON"));
        assert!(history_from_json(r#"{"events": "no"}"#)
            .unwrap_err()
            .starts_with("not a workflow history"));
        assert_eq!(
            history_from_json(r#"{"events": []}"#).unwrap_err(),
            "the history has no events"
        );
    }
}
