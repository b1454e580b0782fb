//! The JOSE header: the usual shape read directly, anything else by the general walker.

use std::borrow::Cow;

use jiter::Peek;

use super::{
    anchored, find_string_special, skip, walk_object, CritItem, Field, Header, HeaderAlg, Members,
    Step,
};
use crate::alg::Algorithm;
use crate::error::{Result, Segment};

/// The usual header (`{"alg":"RS256","typ":"JWT","kid":"k1"}`: string members without
/// escapes) read without the general parser; None hands anything else to jiter.
fn fast_header(input: &[u8]) -> Option<Header<'_>> {
    let text = std::str::from_utf8(input).ok()?;
    let b = input;
    let ws = |mut i: usize| {
        while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
        }
        i
    };
    let plain_str = |start: usize| -> Option<(&str, usize)> {
        let end = find_string_special(b, start)?;
        if b[end] != b'"' {
            return None;
        }
        Some((text.get(start..end)?, end + 1))
    };
    let mut h = Header::default();
    let mut members = Members::new();
    let mut i = ws(0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = ws(i + 1);
    loop {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let (name, after) = plain_str(i + 1)?;
        i = ws(after);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = ws(i + 1);
        if b.get(i) != Some(&b'"') {
            return None; // crit, b64 and other non-string values: the general parser
        }
        let (value, after) = plain_str(i + 1)?;
        if !members.insert(Cow::Borrowed(name.as_bytes())) {
            return None; // the general parser reports the duplicate
        }
        match name {
            "alg" => {
                h.alg = match Algorithm::from_name(value) {
                    Some(a) => HeaderAlg::Known(a),
                    None if value.is_empty() => HeaderAlg::Invalid,
                    None => HeaderAlg::Unknown(value.to_owned()),
                }
            }
            "kid" => h.kid = Field::Value(Cow::Borrowed(value)),
            "typ" => h.typ = Field::Value(Cow::Borrowed(value)),
            "crit" => h.crit = Some(None),
            "b64" => h.has_b64 = true,
            _ => {}
        }
        i = ws(after);
        match b.get(i) {
            Some(b',') => i = ws(i + 1),
            Some(b'}') => return (ws(i + 1) == b.len()).then_some(h),
            _ => return None,
        }
    }
}

pub fn scan_header(input: &[u8], max_depth: usize) -> Result<Header<'_>> {
    match fast_header(input) {
        Some(h) => Ok(h),
        None => scan_header_general(input, max_depth),
    }
}

fn scan_header_general(input: &[u8], max_depth: usize) -> Result<Header<'_>> {
    let mut h = Header::default();
    walk_object(input, Segment::Header, max_depth, |name, j, peek| {
        match name {
            b"alg" => {
                h.alg = if peek == Peek::String {
                    let s = j.known_str()?;
                    match Algorithm::from_name(s) {
                        Some(a) => HeaderAlg::Known(a),
                        None if s.is_empty() => HeaderAlg::Invalid,
                        None => HeaderAlg::Unknown(s.to_owned()),
                    }
                } else {
                    HeaderAlg::Invalid
                };
                Ok((peek == Peek::String).into())
            }
            b"kid" | b"typ" => {
                let v = if peek == Peek::String {
                    Field::Value(anchored(input, j.known_str()?))
                } else {
                    Field::WrongType
                };
                if name == b"kid" {
                    h.kid = v;
                } else {
                    h.typ = v;
                }
                Ok((peek == Peek::String).into())
            }
            b"b64" => {
                h.has_b64 = true;
                if peek == Peek::False {
                    h.b64_false = true;
                }
                Ok(Step::Skip)
            }
            b"crit" => {
                if peek != Peek::Array {
                    h.crit = Some(None);
                    return Ok(Step::Skip);
                }
                if max_depth < 2 {
                    return Ok(Step::TooDeep); // the array is at depth 2
                }
                let mut items = Vec::new();
                let mut next = j.known_array()?;
                while let Some(p) = next {
                    if p == Peek::String {
                        items.push(CritItem::Name(j.known_str()?.to_owned()));
                    } else {
                        items.push(CritItem::NotString);
                        // Nested values inside crit are bounded by the depth limit too.
                        if !skip(j, p, 2, max_depth)? {
                            return Ok(Step::TooDeep);
                        }
                    }
                    next = j.array_step()?;
                }
                h.crit = Some(Some(items));
                Ok(Step::Consumed)
            }
            _ => Ok(Step::Skip),
        }
    })?;
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields() {
        let h = scan_header(br#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#, 64).unwrap();
        assert_eq!(h.alg, HeaderAlg::Known(Algorithm::HS256));
        assert_eq!(h.kid, Field::Value(Cow::Borrowed("k1")));
        let h = scan_header(br#"{"alg":5,"kid":7,"crit":["b64",1],"b64":false}"#, 64).unwrap();
        assert_eq!(h.alg, HeaderAlg::Invalid);
        assert_eq!(h.kid, Field::WrongType);
        assert_eq!(
            h.crit,
            Some(Some(vec![
                CritItem::Name("b64".into()),
                CritItem::NotString
            ]))
        );
        assert!(h.b64_false);
    }

    #[test]
    fn fast_and_general_header_paths_agree() {
        for json in [
            r#"{"alg":"HS256","typ":"JWT"}"#,
            " { \"alg\" : \"RS256\" , \"kid\" : \"k\u{e9}\" } ",
            r#"{"alg":"","typ":"x"}"#,
            r#"{"alg":"XX9","crit":"b64"}"#,
            r#"{"typ":"JWT"}"#,
            r#"{"alg":"HS256","b64":"no"}"#,
        ] {
            let fast = fast_header(json.as_bytes()).expect(json);
            let general = scan_header_general(json.as_bytes(), 64).unwrap();
            assert_eq!(fast, general, "{json}");
        }
        for refused_fast in [
            r#"{"alg":"HS256","alg":"none"}"#,
            r#"{"alg":"HS256",}"#,
            r#"{"alg":"HS256"} x"#,
            "{\"alg\":\"a\u{1}\"}",
            r#"{"\u0061lg":"HS256"}"#,
            r#"{"alg":"HS256","b64":false,"crit":["b64"]}"#,
        ] {
            assert!(
                fast_header(refused_fast.as_bytes()).is_none(),
                "{refused_fast}"
            );
        }
        assert!(scan_header(br#"{"alg":"HS256","alg":"none"}"#, 64).is_err());
    }
}
