//! Reading the scikit-learn fixtures shared by the reference tests.
#![allow(dead_code)]

use serde_json::Value;

/// The `cases` array of a fixture document.
pub fn cases(json: &str) -> Vec<Value> {
    let doc: Value = serde_json::from_str(json).unwrap();
    doc["cases"].as_array().unwrap().clone()
}

/// A JSON array of non-negative integers.
pub fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

/// A number, with `null` standing for NaN and 1e308 for +∞ (JSON has neither); a string is
/// parsed exactly (serde_json may read a float one ulp off).
pub fn num(v: &Value) -> f64 {
    if let Some(text) = v.as_str() {
        return text.parse().unwrap();
    }
    match v.as_f64() {
        Some(x) if x >= 1e308 => f64::INFINITY,
        Some(x) => x,
        None => f64::NAN,
    }
}
