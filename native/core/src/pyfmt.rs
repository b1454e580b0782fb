//! Python's `repr()` and `json.dumps()` of strings, for the messages PyJWT and turbojwt's
//! Python key handling build with them (so a front end without Python words them alike).

/// `repr(s)` of a Python `str`: single quotes unless the text has a single quote and no
/// double quote; backslash, the quote and control characters escaped as Python escapes them.
pub fn repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// `json.dumps(s)` of a Python `str` (`ensure_ascii`: every non-ASCII character escaped).
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_ascii() && (c as u32) >= 0x20 => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
        }
    }
    out.push('"');
    out
}

/// `json.dumps` of a list of strings (`", "` between items, as Python writes it).
pub fn json_str_list(items: &[String]) -> String {
    let parts: Vec<String> = items.iter().map(|s| json_str(s)).collect();
    format!("[{}]", parts.join(", "))
}

/// `repr` of a list of strings.
pub fn repr_list(items: &[&str]) -> String {
    let parts: Vec<String> = items.iter().map(|s| repr(s)).collect();
    format!("[{}]", parts.join(", "))
}

/// `repr()` of the Python value `json.loads` makes of a JSON value.
pub fn repr_json(v: &jiter::JsonValue<'_>) -> String {
    use jiter::JsonValue as J;
    match v {
        J::Null => "None".into(),
        J::Bool(true) => "True".into(),
        J::Bool(false) => "False".into(),
        J::Int(i) => i.to_string(),
        J::BigInt(b) => b.to_string(),
        J::Float(f) => float_repr(*f),
        J::Str(s) => repr(s),
        J::Array(items) => {
            let parts: Vec<String> = items.iter().map(repr_json).collect();
            format!("[{}]", parts.join(", "))
        }
        J::Object(obj) => {
            let parts: Vec<String> = obj
                .iter()
                .map(|(k, v)| format!("{}: {}", repr(k), repr_json(v)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
    }
}

/// `json.dumps()` of the Python value `json.loads` makes of a JSON value.
pub fn dumps_json(v: &jiter::JsonValue<'_>) -> String {
    use jiter::JsonValue as J;
    match v {
        J::Null => "null".into(),
        J::Bool(b) => b.to_string(),
        J::Int(i) => i.to_string(),
        J::BigInt(b) => b.to_string(),
        J::Float(f) if f.is_nan() => "NaN".into(),
        J::Float(f) if f.is_infinite() => if *f > 0.0 { "Infinity" } else { "-Infinity" }.into(),
        J::Float(f) => float_repr(*f),
        J::Str(s) => json_str(s),
        J::Array(items) => {
            let parts: Vec<String> = items.iter().map(dumps_json).collect();
            format!("[{}]", parts.join(", "))
        }
        J::Object(obj) => {
            let parts: Vec<String> = obj
                .iter()
                .map(|(k, v)| format!("{}: {}", json_str(k), dumps_json(v)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
    }
}

/// Python's `repr(float)` for the usual values (shortest round trip; exponent form as
/// Python writes it outside 1e-4 <= |f| < 1e16).
fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    let a = f.abs();
    if a != 0.0 && !(1e-4..1e16).contains(&a) {
        let s = format!("{f:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        return format!(
            "{mantissa}e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        );
    }
    let s = format!("{f:?}");
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reprs_as_python_writes_them() {
        assert_eq!(repr("RS256"), "'RS256'");
        assert_eq!(repr("it's"), "\"it's\"");
        assert_eq!(repr("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(repr("x\ny\u{1}é"), "'x\\ny\\x01é'");
        assert_eq!(repr_list(&["a", "b"]), "['a', 'b']");
        assert_eq!(json_str("é\"\u{1F600}"), "\"\\u00e9\\\"\\ud83d\\ude00\"");
        assert_eq!(
            json_str_list(&["sign".into(), "x".into()]),
            "[\"sign\", \"x\"]"
        );
        let v = jiter::JsonValue::parse(br#"[1, 2.5, 1e20, null, true, "x", {"a": []}]"#, false)
            .unwrap();
        assert_eq!(repr_json(&v), "[1, 2.5, 1e+20, None, True, 'x', {'a': []}]");
        assert_eq!(
            dumps_json(&v),
            "[1, 2.5, 1e+20, null, true, \"x\", {\"a\": []}]"
        );
    }
}
