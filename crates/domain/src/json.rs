//! Reading any part of a document, at any heads, as JSON — for conflicts and history.

use automerge::{ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue, Value};
use serde_json::{Map, Value as Json};

/// A scalar as JSON (bytes as a length summary: they are encoded tracks, not for people).
pub fn scalar(s: &ScalarValue) -> Json {
    match s {
        ScalarValue::Str(t) => Json::String(t.to_string()),
        ScalarValue::Int(i) => Json::from(*i),
        ScalarValue::Uint(u) => Json::from(*u),
        ScalarValue::F64(f) => Json::from(*f),
        ScalarValue::Counter(c) => Json::from(i64::from(c)),
        ScalarValue::Timestamp(t) => Json::from(*t),
        ScalarValue::Boolean(b) => Json::Bool(*b),
        ScalarValue::Null => Json::Null,
        ScalarValue::Bytes(b) => Json::String(format!("<{} bytes>", b.len())),
        other => Json::String(other.to_string()),
    }
}

/// A value found at some key, as JSON.
pub fn value<D: ReadDoc>(doc: &D, v: &Value<'_>, id: &ObjId, heads: Option<&[ChangeHash]>) -> Json {
    match v {
        Value::Scalar(s) => scalar(s),
        Value::Object(_) => object(doc, id, heads),
    }
}

/// An object (map, list or text) as JSON.
pub fn object<D: ReadDoc>(doc: &D, obj: &ObjId, heads: Option<&[ChangeHash]>) -> Json {
    match doc.object_type(obj) {
        Ok(ObjType::Text) => {
            let t = match heads {
                Some(h) => doc.text_at(obj, h),
                None => doc.text(obj),
            };
            Json::String(t.unwrap_or_default())
        }
        Ok(ObjType::List) => {
            let len = match heads {
                Some(h) => doc.length_at(obj, h),
                None => doc.length(obj),
            };
            Json::Array((0..len).map(|i| prop(doc, obj, i.into(), heads)).collect())
        }
        Ok(ObjType::Map) | Ok(ObjType::Table) => {
            let keys: Vec<String> = match heads {
                Some(h) => doc.keys_at(obj, h).collect(),
                None => doc.keys(obj).collect(),
            };
            let mut m = Map::new();
            for k in keys {
                m.insert(k.clone(), prop(doc, obj, k.into(), heads));
            }
            Json::Object(m)
        }
        Err(_) => Json::Null,
    }
}

fn prop<D: ReadDoc>(
    doc: &D,
    obj: &ObjId,
    p: automerge::Prop,
    heads: Option<&[ChangeHash]>,
) -> Json {
    let got = match heads {
        Some(h) => doc.get_at(obj, p, h),
        None => doc.get(obj, p),
    };
    match got {
        Ok(Some((v, id))) => value(doc, &v, &id, heads),
        _ => Json::Null,
    }
}

/// Flattens JSON into `path → leaf` pairs (`vessels_inspected[0].result`), in order.
pub fn flatten(prefix: &str, v: &Json, out: &mut Vec<(String, Json)>) {
    match v {
        Json::Object(m) => {
            for (k, child) in m {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&path, child, out);
            }
        }
        Json::Array(items) if !items.is_empty() => {
            for (i, child) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), child, out);
            }
        }
        leaf => out.push((prefix.to_string(), leaf.clone())),
    }
}
