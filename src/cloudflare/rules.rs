//! Access rules compared by meaning, not bytes: the API may store a rule list in
//! another order, with other key orders, as `null` instead of `[]`, or with selectors
//! that carry nothing. Comparing raw JSON would then plan an "update" on every run.
//!
//! NOTE (Cloudflare API schema, policy `include` / `exclude` / `require`): include
//! rules are "evaluated with an OR logical operator. A user needs to meet only one of
//! the Include rules"; exclude rules "with a NOT logical operator ... a user cannot
//! meet any of the Exclude rules"; require rules "with an AND logical operator ... a
//! user must meet all of the Require rules". OR, NOR and AND ignore order and
//! repetition, so neither the order of rules in a list nor a repeated rule changes a
//! policy's meaning. Inside one rule, nothing is reordered: a selector's own lists are
//! compared as they are.

use serde_json::{Map, Value};

/// A rule list in its canonical form: null-valued keys dropped at every depth, keys
/// sorted, rules left empty by that dropped, then sorted and de-duplicated.
pub fn canonical(rules: &[Value]) -> Vec<Value> {
    let mut out: Vec<(String, Value)> = rules
        .iter()
        .map(canonical_value)
        .filter(|rule| {
            !matches!(rule, Value::Null) && rule.as_object().is_none_or(|o| !o.is_empty())
        })
        .map(|rule| (rule.to_string(), rule))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.dedup_by(|a, b| a.0 == b.0);
    out.into_iter().map(|(_, rule)| rule).collect()
}

/// True when two rule lists mean the same (see [`canonical`]).
pub fn same_meaning(a: &[Value], b: &[Value]) -> bool {
    canonical(a) == canonical(b)
}

/// A rule list as read from the API, with the keys that carry nothing (`null` values)
/// dropped from each rule at every depth, order and everything else kept. What the
/// client reads from a policy goes through this once, so an "empty selector" such as
/// `{"everyone": null}` can never be mistaken for the selector itself.
pub fn without_nulls(rules: &[Value]) -> Vec<Value> {
    rules
        .iter()
        .map(strip_nulls)
        .filter(|rule| {
            !matches!(rule, Value::Null) && rule.as_object().is_none_or(|o| !o.is_empty())
        })
        .collect()
}

fn strip_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip_nulls).collect()),
        other => other.clone(),
    }
}

fn canonical_value(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().filter(|k| !map[*k].is_null()).collect();
            keys.sort();
            let mut out = Map::new();
            for key in keys {
                out.insert(key.clone(), canonical_value(&map[key]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical_value).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn order_repetition_key_order_and_empty_selectors_carry_no_meaning() {
        let ours = [
            json!({"linked_app_token": {"app_uid": "a"}}),
            json!({"email_domain": {"domain": "example.com"}}),
        ];
        let stored = [
            json!({"email": null, "email_domain": {"domain": "example.com"}}),
            json!({"group": null, "linked_app_token": {"app_uid": "a", "extra": null}}),
            json!({"linked_app_token": {"app_uid": "a"}}),
            json!({"everyone": null}),
        ];
        assert!(same_meaning(&ours, &stored));
        // The raw forms differ, which is what made a byte comparison plan an update.
        assert_ne!(ours.to_vec(), stored.to_vec());
    }

    #[test]
    fn different_rules_differ() {
        let a = [json!({"linked_app_token": {"app_uid": "a"}})];
        let b = [json!({"linked_app_token": {"app_uid": "b"}})];
        assert!(!same_meaning(&a, &b));
        assert!(!same_meaning(&a, &[]));
        // `everyone: {}` is a selector; an empty body is its whole content.
        assert!(!same_meaning(&[json!({"everyone": {}})], &[]));
        // Order inside a selector's own list is kept: its meaning is not ours to decide.
        assert!(!same_meaning(
            &[json!({"x": {"list": [1, 2]}})],
            &[json!({"x": {"list": [2, 1]}})]
        ));
    }

    #[test]
    fn without_nulls_keeps_order_and_drops_only_what_carries_nothing() {
        let read = [
            json!({"b": {"v": 1, "w": null}, "a": null}),
            json!({"everyone": null}),
            json!({"everyone": {}}),
        ];
        assert_eq!(
            without_nulls(&read),
            [json!({"b": {"v": 1}}), json!({"everyone": {}})]
        );
    }
}
