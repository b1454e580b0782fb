//! Tokens out of JSON-lines logs: the token at one dotted path, the request time at another,
//! read in one validating pass over each line (a line that is not JSON is reported, not
//! half-read).

use jiter::{Jiter, JiterResult, NumberAny, NumberInt, Peek};

use crate::time::{finite, parse_time};

/// Where the token and the request time are in each line.
pub struct JsonlFields {
    pub token: Vec<String>,
    pub time: Option<Vec<String>>,
}

/// What one line gave.
pub enum Extracted {
    Token {
        token: String,
        at: Option<f64>,
    },
    /// Why the line has no usable token (the report's `reason`).
    Problem(String),
}

enum Found {
    Missing,
    Str(String),
    Number(f64),
    Other,
}

fn walk(
    j: &mut Jiter<'_>,
    paths: [Option<&[String]>; 2],
    found: &mut [Found; 2],
) -> JiterResult<()> {
    let mut key = j.known_object()?;
    while let Some(k) = key {
        // The rest of each path that continues through this member (borrowing the paths,
        // not the key, which the parser reuses).
        let sub = paths.map(|p| {
            p.filter(|p| p.first().map(String::as_str) == Some(k))
                .map(|p| &p[1..])
        });
        let peek = j.peek()?;
        if let Some(leaf) = (0..2).find(|&i| sub[i].is_some_and(<[String]>::is_empty)) {
            found[leaf] = match peek {
                Peek::String => Found::Str(j.known_str()?.to_owned()),
                Peek::True | Peek::False | Peek::Null | Peek::Array | Peek::Object => {
                    j.known_skip(peek)?;
                    Found::Other
                }
                _ => match j.known_number(peek)? {
                    NumberAny::Float(f) => Found::Number(f),
                    NumberAny::Int(NumberInt::Int(i)) => Found::Number(i as f64),
                    NumberAny::Int(NumberInt::BigInt(_)) => Found::Other,
                },
            };
        } else if sub.iter().any(Option::is_some) && peek == Peek::Object {
            walk(j, sub, found)?;
        } else {
            j.known_skip(peek)?;
        }
        key = j.next_key()?;
    }
    Ok(())
}

/// The token (a leading `Bearer ` dropped) and request time of one JSON line.
pub fn extract_jsonl(line: &[u8], fields: &JsonlFields) -> Extracted {
    let mut found = [Found::Missing, Found::Missing];
    let mut j = Jiter::new(line);
    let parsed = (|| -> JiterResult<bool> {
        if j.peek()? != Peek::Object {
            j.next_skip()?;
            j.finish()?;
            return Ok(false);
        }
        walk(
            &mut j,
            [Some(&fields.token[..]), fields.time.as_deref()],
            &mut found,
        )?;
        j.finish()?;
        Ok(true)
    })();
    match parsed {
        Err(e) => return Extracted::Problem(format!("invalid JSON: {}", e.error_type)),
        Ok(false) => return Extracted::Problem("line is not a JSON object".into()),
        Ok(true) => {}
    }
    let [token, time] = found;
    let token_name = fields.token.join(".");
    let token = match token {
        Found::Str(s) => s,
        Found::Missing => return Extracted::Problem(format!("missing field {token_name}")),
        _ => return Extracted::Problem(format!("field {token_name} is not a string")),
    };
    let at = match (&fields.time, time) {
        (None, _) => None,
        (Some(p), Found::Missing) => {
            return Extracted::Problem(format!("missing time field {}", p.join(".")))
        }
        (Some(p), found) => {
            let at = match found {
                Found::Number(v) => finite(v),
                Found::Str(s) => parse_time(&s),
                _ => None,
            };
            if at.is_none() {
                return Extracted::Problem(format!("time field {} is not a time", p.join(".")));
            }
            at
        }
    };
    let token = strip_bearer(&token);
    if token.is_empty() {
        return Extracted::Problem(format!("field {token_name} is empty"));
    }
    Extracted::Token {
        token: token.to_owned(),
        at,
    }
}

/// A credential without its `Bearer ` scheme (any case) and surrounding space.
pub fn strip_bearer(s: &str) -> &str {
    let s = s.trim();
    let scheme = s.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("bearer"))
        && s.as_bytes().get(6).is_none_or(u8::is_ascii_whitespace);
    if scheme {
        s[6..].trim()
    } else {
        s
    }
}

/// The lines of a block (`\n`-separated, a trailing `\r` dropped; no empty last line).
pub fn split_lines<'b>(block: &'b [u8]) -> Vec<&'b [u8]> {
    let line = |l: &'b [u8]| l.strip_suffix(b"\r").unwrap_or(l);
    let mut out = Vec::with_capacity(block.len() / 64);
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', block) {
        out.push(line(&block[start..end]));
        start = end + 1;
    }
    if start < block.len() {
        out.push(line(&block[start..])); // the last line, without its line end
    }
    out
}

/// The first `max_lines` lines of `block`: how many line ends they have, and the offset
/// just after the last of them (the block's length when it has fewer line ends).
pub fn line_ends(block: &[u8], max_lines: usize) -> (usize, usize) {
    let max = max_lines.max(1);
    // (memchr counts with SIMD without stopping at each line end: the usual block has
    // fewer lines than the maximum, and one pass settles it)
    let total = memchr::memchr_iter(b'\n', block).count();
    if total < max {
        return (total, block.len());
    }
    let last = memchr::memchr_iter(b'\n', block)
        .nth(max - 1)
        .expect("at least max line ends");
    (max, last + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_and_counted_as_a_byte_loop_would() {
        for block in [
            &b""[..],
            b"\n",
            b"a",
            b"a\n",
            b"a\r\n\nb",
            b"one\ntwo\r\nthree\n\n",
            b"\r\n\r\n",
        ] {
            let mut want: Vec<&[u8]> = block
                .split(|&b| b == b'\n')
                .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
                .collect();
            if block.last() == Some(&b'\n') || block.is_empty() {
                want.pop();
            }
            assert_eq!(split_lines(block), want, "{block:?}");
            let ends: Vec<usize> = (0..block.len()).filter(|&i| block[i] == b'\n').collect();
            for max in 1..5 {
                let (count, end) = line_ends(block, max);
                assert_eq!(count, ends.len().min(max), "{block:?} {max}");
                let want_end = if ends.len() >= max {
                    ends[max - 1] + 1
                } else {
                    block.len()
                };
                assert_eq!(end, want_end, "{block:?} {max}");
            }
        }
    }

    fn fields(token: &str, time: Option<&str>) -> JsonlFields {
        JsonlFields {
            token: token.split('.').map(String::from).collect(),
            time: time.map(|t| t.split('.').map(String::from).collect()),
        }
    }

    fn ok(line: &str, f: &JsonlFields) -> (String, Option<f64>) {
        match extract_jsonl(line.as_bytes(), f) {
            Extracted::Token { token, at } => (token, at),
            Extracted::Problem(p) => panic!("{line}: {p}"),
        }
    }

    fn problem(line: &str, f: &JsonlFields) -> String {
        match extract_jsonl(line.as_bytes(), f) {
            Extracted::Token { token, .. } => panic!("{line}: got {token}"),
            Extracted::Problem(p) => p,
        }
    }

    #[test]
    fn dotted_paths_and_times() {
        let f = fields("http.auth", Some("ts"));
        assert_eq!(
            ok(
                r#"{"x":[1,{"a":2}],"http":{"h":"v","auth":"Bearer a.b.c"},"ts":1700000000}"#,
                &f
            ),
            ("a.b.c".into(), Some(1.7e9))
        );
        assert_eq!(
            ok(r#"{"ts":"1970-01-02T00:00:00Z","http":{"auth":"t"}}"#, &f).1,
            Some(86400.0)
        );
        assert_eq!(
            ok(
                r#"{"ts":"1970-01-02T01:00:00+01:00","http":{"auth":"t"}}"#,
                &f
            )
            .1,
            Some(86400.0)
        );
        assert_eq!(
            ok(r#"{"ts":"1970-01-02T00:00:00.5","http":{"auth":"t"}}"#, &f).1,
            Some(86400.5)
        );
        assert_eq!(
            ok(r#"{"ts":"12.5","http":{"auth":"t\u002e"}}"#, &f),
            ("t.".into(), Some(12.5))
        );
        assert_eq!(
            problem(r#"{"ts":1,"http":{"auth":"t"}"#, &f),
            "invalid JSON: EOF while parsing an object"
        );
        assert_eq!(
            problem(r#"{"ts":1,"http":{"auth":"t"}} x"#, &f),
            "invalid JSON: trailing characters"
        );
        assert_eq!(problem(r#"[1]"#, &f), "line is not a JSON object");
        assert_eq!(
            problem(r#"{"ts":1,"http":{}}"#, &f),
            "missing field http.auth"
        );
        assert_eq!(
            problem(r#"{"ts":1,"http":"x"}"#, &f),
            "missing field http.auth"
        );
        assert_eq!(
            problem(r#"{"ts":1,"http":{"auth":5}}"#, &f),
            "field http.auth is not a string"
        );
        assert_eq!(
            problem(r#"{"ts":1,"http":{"auth":"Bearer  "}}"#, &f),
            "field http.auth is empty"
        );
        assert_eq!(
            problem(r#"{"http":{"auth":"t"}}"#, &f),
            "missing time field ts"
        );
        assert_eq!(
            problem(r#"{"ts":"soon","http":{"auth":"t"}}"#, &f),
            "time field ts is not a time"
        );
        assert_eq!(
            problem(r#"{"ts":true,"http":{"auth":"t"}}"#, &f),
            "time field ts is not a time"
        );
        // Only plain times: NaN and infinities would pass every exp/nbf check.
        for ts in [
            r#""nan""#,
            r#""inf""#,
            r#""-Infinity""#,
            r#""1_700_000_000""#,
            r#""1e9""#,
            r#""\u0661\u0667""#,
            "\"\u{661}\u{667}\"",
            "NaN",
            "Infinity",
        ] {
            let line = format!(r#"{{"ts":{ts},"http":{{"auth":"t"}}}}"#);
            assert!(
                matches!(extract_jsonl(line.as_bytes(), &f), Extracted::Problem(_)),
                "{line}"
            );
        }
        assert_eq!(ok(r#"{"t":"x"}"#, &fields("t", None)), ("x".into(), None));
    }

    #[test]
    fn lines() {
        assert_eq!(
            split_lines(b"a\r\nb\n\nc"),
            vec![&b"a"[..], b"b", b"", b"c"]
        );
        assert_eq!(split_lines(b"a\n"), vec![&b"a"[..]]);
        assert!(split_lines(b"").is_empty());
    }
}
