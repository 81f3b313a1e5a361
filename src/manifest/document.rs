//! YAML documents other than manifests (the controller's settings file), read through
//! the same YAML boundary and limits as a manifest, with `${VAR}` interpolated in every
//! string value, and handed over as JSON values for serde to type.

use serde_json::{Map, Number, Value as Json};

use super::env::{interpolate, room};
use super::yaml::{self, Node, Value};

/// The document in `text` as JSON values. Errors name the line.
pub fn yaml_to_json(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Json, String> {
    let root = yaml::parse(text).map_err(|e| match e.line {
        0 => format!("invalid YAML: {}", e.message),
        line => format!("line {line}: invalid YAML: {}", e.message),
    })?;
    // As in a manifest: expansion may grow the document to the size limit of a file.
    let mut budget = room(text.len());
    convert(&root, text, env, &mut budget)
}

fn convert(
    node: &Node,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    room: &mut usize,
) -> Result<Json, String> {
    let at = |message: String| format!("line {}: {message}", node.line);
    Ok(match &node.value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => i64::try_from(*i)
            .map(Json::from)
            .map_err(|_| at(format!("{i} is out of range")))?,
        Value::Float(f) => Number::from_f64(*f)
            .map(Json::Number)
            .ok_or_else(|| at(format!("{f} is not a finite number")))?,
        Value::Str(s) => {
            let max_len = s.len() + *room;
            let value = interpolate(s, env, max_len).map_err(|e| at(e.message))?;
            *room = max_len - value.len();
            Json::String(value)
        }
        Value::Seq(items) => Json::Array(
            items
                .iter()
                .map(|item| convert(item, text, env, room))
                .collect::<Result<_, _>>()?,
        ),
        Value::Map(entries) => {
            let mut map = Map::new();
            for (key, value) in entries {
                // A key reads as written: YAML 1.1 makes `n:` or `on:` a boolean.
                let name = match &key.value {
                    Value::Str(name) => name.clone(),
                    Value::Bool(_) | Value::Int(_) | Value::Float(_) => key
                        .span
                        .and_then(|(o, l)| text.get(o..o + l))
                        .map(str::to_owned)
                        .ok_or_else(|| at("a key must be a string".to_owned()))?,
                    other => {
                        return Err(at(format!(
                            "a key must be a string, found {}",
                            other.kind()
                        )));
                    }
                };
                map.insert(name, convert(value, text, env, room)?);
            }
            Json::Object(map)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_interpolated_and_errors_name_the_line() {
        let env = |name: &str| (name == "HOOK").then(|| "https://h.example.com/x".to_owned());
        let json = yaml_to_json("a:\n  - url: ${HOOK}\n    n: 3\n", &env).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"a": [{"url": "https://h.example.com/x", "n": 3}]})
        );
        let e = yaml_to_json("a: 1\nb: ${NOPE}\n", &env).unwrap_err();
        assert!(
            e.starts_with("line 2:") && e.contains("`NOPE` is not set"),
            "{e}"
        );
        assert!(
            yaml_to_json("a: [\n", &env)
                .unwrap_err()
                .contains("invalid YAML")
        );
    }
}
