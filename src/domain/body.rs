//! The register body as JSON (the API's and JSON Lines imports'): read field by field, so
//! every problem is named by its JSON path.

use serde_json::{Map, Value};

use super::{FieldError, NewProduct, ProductDraft};

fn problem(field: &'static str, message: &str) -> FieldError {
    FieldError {
        field,
        message: message.into(),
    }
}

fn text_field(
    obj: &Map<String, Value>,
    key: &str,
    field: &'static str,
    out: &mut Vec<FieldError>,
) -> String {
    match obj.get(key) {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => {
            out.push(problem(field, "is required"));
            String::new()
        }
        Some(_) => {
            out.push(problem(field, "must be a string"));
            String::new()
        }
    }
}

/// A JSON number's literal text (so `59.99` is read exactly); nothing when `obj` is missing,
/// which its parent already reported.
fn number_field(
    obj: Option<&Map<String, Value>>,
    keys: &[&str],
    field: &'static str,
    out: &mut Vec<FieldError>,
) -> String {
    let Some(obj) = obj else { return String::new() };
    match keys
        .iter()
        .find_map(|k| obj.get(*k).filter(|v| !v.is_null()))
    {
        Some(Value::Number(n)) => n.to_string(),
        None => {
            out.push(problem(field, "is required"));
            String::new()
        }
        Some(_) => {
            out.push(problem(field, "must be a number"));
            String::new()
        }
    }
}

fn object<'a>(
    root: &'a Map<String, Value>,
    key: &'static str,
    out: &mut Vec<FieldError>,
) -> Option<&'a Map<String, Value>> {
    match root.get(key) {
        Some(Value::Object(o)) => Some(o),
        None | Some(Value::Null) => {
            out.push(problem(key, "is required"));
            None
        }
        Some(_) => {
            out.push(problem(key, "must be an object"));
            None
        }
    }
}

/// Form order, so problems read top to bottom.
const FIELD_ORDER: &[&str] = &[
    "name",
    "description",
    "category",
    "pricing",
    "pricing.ammount",
    "pricing.currency",
    "availability",
    "availability.quantity",
];

fn in_form_order(mut problems: Vec<FieldError>) -> Vec<FieldError> {
    problems.sort_by_key(|p| {
        FIELD_ORDER
            .iter()
            .position(|f| *f == p.field)
            .unwrap_or(usize::MAX)
    });
    problems
}

/// Reads a register body (`ammount` as in the original; `amount` accepted too) into a valid
/// product; every failing field is reported at once, in form order, by its JSON path.
pub fn product_from_json(v: &Value) -> Result<NewProduct, Vec<FieldError>> {
    let Value::Object(root) = v else {
        return Err(vec![problem("body", "must be a JSON object")]);
    };
    let mut out = Vec::new();
    let mut draft = ProductDraft {
        name: text_field(root, "name", "name", &mut out),
        description: text_field(root, "description", "description", &mut out),
        category: text_field(root, "category", "category", &mut out),
        ..Default::default()
    };
    let pricing = object(root, "pricing", &mut out);
    draft.amount = number_field(pricing, &["ammount", "amount"], "pricing.ammount", &mut out);
    draft.currency = match pricing {
        Some(p) => text_field(p, "currency", "pricing.currency", &mut out),
        None => String::new(),
    };
    let availability = object(root, "availability", &mut out);
    draft.quantity = number_field(
        availability,
        &["quantity"],
        "availability.quantity",
        &mut out,
    );
    let typed: Vec<&'static str> = out.iter().map(|p| p.field).collect();
    match draft.validate() {
        Ok(p) if out.is_empty() => Ok(p),
        Ok(_) => Err(in_form_order(out)),
        Err(errs) => {
            // Rule errors only for fields that were present with the right type.
            let reported = |f: &str| {
                typed
                    .iter()
                    .any(|t| f == *t || f.strip_prefix(t).is_some_and(|r| r.starts_with('.')))
            };
            out.extend(errs.0.into_iter().filter(|f| !reported(f.field)));
            Err(in_form_order(out))
        }
    }
}
