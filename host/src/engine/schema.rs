//! The JSON Schemas of the planner's plan and the reviewers' verdicts, sent
//! to providers as `response-schema` (strict-compatible: every property
//! required, optional ones nullable, `additionalProperties: false`), and the
//! check of a reply against them. The check reads a schema the way a strict
//! provider enforces it, with two allowances for providers that do not
//! enforce it: a missing property whose schema allows `null` counts as
//! `null`, and a property the schema does not name is ignored. Its errors
//! name the place (`/steps/1/type`) and what was expected, for the model.

use serde_json::Value;

/// The plan's schema.
pub const PLAN: &str = include_str!("schemas/plan.json");
/// A plan reviewer's verdict.
pub const PLAN_VERDICT: &str = include_str!("schemas/plan-verdict.json");
/// A code reviewer's verdict.
pub const CODE_VERDICT: &str = include_str!("schemas/code-verdict.json");

/// Most errors listed for one reply.
const MAX_ERRORS: usize = 8;

/// Checks `value` against `schema` (JSON text); the errors found, each
/// `at /path: what is wrong`, or none.
pub fn validate(schema: &str, value: &Value) -> Vec<String> {
    let schema: Value = serde_json::from_str(schema).expect("the built-in schemas are JSON");
    let mut errors = Vec::new();
    check(&schema, value, &mut String::new(), &mut errors);
    errors.truncate(MAX_ERRORS);
    errors
}

fn check(schema: &Value, value: &Value, path: &mut String, errors: &mut Vec<String>) {
    if errors.len() >= MAX_ERRORS {
        return;
    }
    let at = |path: &str| if path.is_empty() { "/".to_owned() } else { path.to_owned() };
    let types = allowed_types(schema);
    if !types.is_empty() && !types.iter().any(|t| has_type(value, t)) {
        errors.push(format!("at {}: expected {}, found {}", at(path), types.join(" or "), describe(value)));
        return;
    }
    if let Some(options) = schema["enum"].as_array()
        && !options.contains(value)
    {
        let names: Vec<String> = options.iter().filter(|o| !o.is_null()).map(Value::to_string).collect();
        errors.push(format!("at {}: {} is not one of {}", at(path), shorten(value), names.join(", ")));
        return;
    }
    match value {
        Value::Object(object) => {
            let Some(properties) = schema["properties"].as_object() else { return };
            let required: Vec<&str> =
                schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            for (name, property) in properties {
                let len = path.len();
                path.push('/');
                path.push_str(name);
                match object.get(name) {
                    Some(field) => check(property, field, path, errors),
                    None if required.contains(&name.as_str()) && !allowed_types(property).contains(&"null") => {
                        errors.push(format!("at {}: the required property is missing", at(path)));
                    }
                    None => {}
                }
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("/{i}"));
                check(&schema["items"], item, path, errors);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// The `type` of a schema as a list (`"string"` or `["string", "null"]`).
fn allowed_types(schema: &Value) -> Vec<&str> {
    match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn has_type(value: &Value, ty: &str) -> bool {
    match ty {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => false,
    }
}

/// `a string`, `an array`, … for messages.
fn describe(value: &Value) -> String {
    match value {
        Value::Object(_) => "an object".into(),
        Value::Array(_) => "an array".into(),
        Value::String(_) => format!("the string {}", shorten(value)),
        Value::Number(n) => format!("the number {n}"),
        Value::Bool(b) => format!("{b}"),
        Value::Null => "null".into(),
    }
}

/// `value` as JSON, cut to 60 characters.
fn shorten(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_schemas_are_strict_compatible() {
        // Every object: additionalProperties false and every property required.
        fn strict(schema: &Value, path: &str) {
            if let Some(properties) = schema["properties"].as_object() {
                assert_eq!(schema["additionalProperties"], json!(false), "{path}");
                let required: Vec<&str> =
                    schema["required"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
                for (name, property) in properties {
                    assert!(required.contains(&name.as_str()), "{path}/{name} is not required");
                    strict(property, &format!("{path}/{name}"));
                }
            }
            if schema.get("items").is_some() {
                strict(&schema["items"], &format!("{path}/items"));
            }
        }
        for schema in [PLAN, PLAN_VERDICT, CODE_VERDICT] {
            strict(&serde_json::from_str(schema).unwrap(), "");
        }
    }

    #[test]
    fn a_valid_plan_passes_and_nullable_properties_may_be_missing() {
        let plan = json!({"steps": [{"id": "s1", "type": "analysis", "description": "read", "estimated_complexity": "small",
            "files_to_read": [], "files_to_create": [], "files_to_modify": [], "tests_required": [], "commands": [],
            "dependencies": [], "extra": "ignored"}]});
        assert_eq!(validate(PLAN, &plan), Vec::<String>::new());
    }

    #[test]
    fn errors_name_the_place_and_what_was_expected() {
        let plan = json!({"steps": [{"id": 7, "type": "coding", "description": "x", "estimated_complexity": "small",
            "files_to_read": "a.py", "files_to_create": [], "files_to_modify": [], "tests_required": [], "commands": [],
            "dependencies": []}]});
        assert_eq!(
            validate(PLAN, &plan),
            [
                "at /steps/0/files_to_read: expected array or null, found the string \"a.py\"",
                "at /steps/0/id: expected string, found the number 7",
                "at /steps/0/type: \"coding\" is not one of \"analysis\", \"implementation\", \"testing\", \"validation\", \"docs\"",
            ]
        );
        assert_eq!(validate(PLAN, &json!({})), ["at /steps: the required property is missing"]);
        assert_eq!(validate(PLAN_VERDICT, &json!([])), ["at /: expected object, found an array"]);
        let verdict = json!({"verdict": "needs_changes", "concerns": [], "summary": "x"});
        assert_eq!(
            validate(PLAN_VERDICT, &verdict),
            ["at /verdict: \"needs_changes\" is not one of \"approved\", \"rejected\", \"needs_revision\""]
        );
        assert_eq!(validate(CODE_VERDICT, &verdict), Vec::<String>::new());
    }
}
