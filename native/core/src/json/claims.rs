//! The claims by the general parser: the registered claims read the way PyJWT reads them
//! (times converted like Python's `int()`, PyJWT's audience shapes), the `require`d ones
//! noted, everything else skipped.

use std::borrow::Cow;

use jiter::{Jiter, JiterResult, Peek};

use super::fast::fast_claims;
use super::{anchored, skip, walk_object, Audience, Claims, Field, Step, Time};
use crate::error::{Result, Segment};

/// Python's `int(str)`: surrounding whitespace, a sign, decimal digits with single
/// underscores between them. Non-ASCII digits are refused (documented deviation).
pub fn int_from_str(s: &str) -> Time {
    let t = s.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c));
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let b = digits.as_bytes();
    if b.is_empty() || !b[0].is_ascii_digit() || !b[b.len() - 1].is_ascii_digit() {
        return Time::Invalid;
    }
    let mut clean = String::with_capacity(b.len());
    let mut prev_underscore = false;
    for &c in b {
        match c {
            b'0'..=b'9' => {
                clean.push(c as char);
                prev_underscore = false;
            }
            b'_' if !prev_underscore => prev_underscore = true,
            _ => return Time::Invalid,
        }
    }
    // CPython refuses int() of strings over 4300 digits (sys.int_info.str_digits_check_threshold).
    if clean.len() > 4300 {
        return Time::Invalid;
    }
    int_from_digits(neg, &clean)
}

fn int_from_digits(neg: bool, digits: &str) -> Time {
    match digits.parse::<i128>() {
        Ok(v) => Time::Int(if neg { -v } else { v }),
        Err(_) => {
            let f: f64 = digits.parse().unwrap_or(f64::INFINITY);
            Time::Big(if neg { -f } else { f })
        }
    }
}

pub fn time_from_number(raw: &[u8]) -> Time {
    // Fast path: a plain integer of up to 18 digits (every real timestamp).
    let (neg, digits) = match raw.split_first() {
        Some((b'-', d)) => (true, d),
        _ => (false, raw),
    };
    if !digits.is_empty() && digits.len() <= 18 && digits.iter().all(u8::is_ascii_digit) {
        let v = digits
            .iter()
            .fold(0i64, |acc, d| acc * 10 + (d - b'0') as i64);
        return Time::Int(if neg { -v } else { v } as i128);
    }
    let Ok(s) = std::str::from_utf8(raw) else {
        return Time::Invalid;
    };
    if s.bytes()
        .any(|c| matches!(c, b'.' | b'e' | b'E' | b'N' | b'I'))
    {
        // A JSON float: int() truncates; NaN and infinities (incl. overflow like 1e400) raise.
        match s.parse::<f64>() {
            Ok(f) if f.is_finite() => {
                let t = f.trunc();
                if t.abs() < 1e38 {
                    Time::Int(t as i128)
                } else {
                    Time::Big(t)
                }
            }
            _ => Time::Invalid,
        }
    } else {
        let (neg, digits) = match s.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, s),
        };
        int_from_digits(neg, digits)
    }
}

fn read_time(j: &mut Jiter<'_>, peek: Peek) -> JiterResult<(Time, bool)> {
    Ok(match peek {
        Peek::True => (Time::Int(1), false),
        Peek::False => (Time::Int(0), false),
        Peek::String => (int_from_str(j.known_str()?), true),
        p if p.is_num() => (time_from_number(j.known_number_bytes(p)?), true),
        _ => (Time::Invalid, false),
    })
}

fn read_str_field<'j>(
    input: &'j [u8],
    j: &mut Jiter<'j>,
    peek: Peek,
) -> JiterResult<(Field<Cow<'j, str>>, bool)> {
    if peek == Peek::String {
        Ok((Field::Value(anchored(input, j.known_str()?)), true))
    } else {
        Ok((Field::WrongType, false))
    }
}

fn is_falsy_number(raw: &[u8]) -> bool {
    std::str::from_utf8(raw)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .is_some_and(|f| f == 0.0)
}

fn read_aud<'j>(
    input: &'j [u8],
    j: &mut Jiter<'j>,
    peek: Peek,
    max_depth: usize,
) -> JiterResult<(Audience<'j>, Step)> {
    Ok(match peek {
        Peek::String => {
            let s = anchored(input, j.known_str()?);
            (
                if s.is_empty() {
                    Audience::Absent
                } else {
                    Audience::Str(s)
                },
                Step::Consumed,
            )
        }
        Peek::Null | Peek::False => (Audience::Absent, Step::Skip),
        Peek::True => (Audience::Invalid, Step::Skip),
        Peek::Array => {
            if max_depth < 2 {
                return Ok((Audience::Invalid, Step::TooDeep)); // the array is at depth 2
            }
            let mut items = Vec::new();
            let mut invalid = false;
            let mut next = j.known_array()?;
            while let Some(p) = next {
                if p == Peek::String && !invalid {
                    items.push(anchored(input, j.known_str()?));
                } else {
                    invalid = true;
                    if p == Peek::String {
                        j.known_str()?;
                    } else if !skip(j, p, 2, max_depth)? {
                        return Ok((Audience::Invalid, Step::TooDeep));
                    }
                }
                next = j.array_step()?;
            }
            let aud = if invalid {
                Audience::Invalid
            } else if items.is_empty() {
                Audience::Absent
            } else {
                Audience::List(items)
            };
            (aud, Step::Consumed)
        }
        Peek::Object => {
            // {} is falsy (absent); a non-empty object is an invalid format.
            let start = j.current_index();
            if !skip(j, peek, 1, max_depth)? {
                return Ok((Audience::Invalid, Step::TooDeep));
            }
            let raw = &input[start..j.current_index()];
            let empty = raw.iter().filter(|b| !b.is_ascii_whitespace()).count() == 2;
            (
                if empty {
                    Audience::Absent
                } else {
                    Audience::Invalid
                },
                Step::Consumed,
            )
        }
        p if p.is_num() => {
            let raw = j.known_number_bytes(p)?;
            (
                if is_falsy_number(raw) {
                    Audience::Absent
                } else {
                    Audience::Invalid
                },
                Step::Consumed,
            )
        }
        _ => (Audience::Invalid, Step::Skip),
    })
}

/// Scans the claims object, reading the registered claims and the presence of `require`d ones.
pub fn scan_claims<'j>(
    input: &'j [u8],
    require: &[String],
    max_depth: usize,
) -> Result<Claims<'j>> {
    let mut c = Claims {
        required_present: vec![false; require.len()],
        ..Claims::default()
    };
    walk_object(input, Segment::Payload, max_depth, |name, j, peek| {
        if !require.is_empty() && peek != Peek::Null {
            for (flag, r) in c.required_present.iter_mut().zip(require) {
                if r.as_bytes() == name {
                    *flag = true;
                }
            }
        }
        Ok(match name {
            b"exp" | b"nbf" | b"iat" => {
                let (t, consumed) = read_time(j, peek)?;
                let slot = match name {
                    b"exp" => &mut c.exp,
                    b"nbf" => &mut c.nbf,
                    _ => &mut c.iat,
                };
                *slot = Some(t);
                consumed.into()
            }
            b"iss" | b"sub" | b"jti" => {
                let (f, consumed) = read_str_field(input, j, peek)?;
                match name {
                    b"iss" => c.iss = f,
                    b"sub" => c.sub = f,
                    _ => c.jti = f,
                }
                consumed.into()
            }
            b"aud" => {
                let (a, step) = read_aud(input, j, peek, max_depth)?;
                c.aud = a;
                step
            }
            _ => Step::Skip,
        })
    })?;
    Ok(c)
}

/// The claims: the fast path when it applies, else the general parser.
pub fn claims<'j>(input: &'j [u8], require: &[String], max_depth: usize) -> Result<Claims<'j>> {
    match fast_claims(input, require, max_depth) {
        Some(c) => Ok(c),
        None => scan_claims(input, require, max_depth),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_conversions_follow_python_int() {
        let c = scan_claims(br#"{"exp":1.9,"nbf":" -12_3 ","iat":true}"#, &[], 64).unwrap();
        assert_eq!(c.exp, Some(Time::Int(1)));
        assert_eq!(c.nbf, Some(Time::Int(-123)));
        assert_eq!(c.iat, Some(Time::Int(1)));
        let c = scan_claims(br#"{"exp":"1.5","nbf":null,"iat":1e400}"#, &[], 64).unwrap();
        assert_eq!(
            (c.exp, c.nbf, c.iat),
            (
                Some(Time::Invalid),
                Some(Time::Invalid),
                Some(Time::Invalid)
            )
        );
        let c = scan_claims(
            br#"{"exp":NaN,"nbf":"1__0","iat":1000000000000000000000000000000000000000000}"#,
            &[],
            64,
        )
        .unwrap();
        assert_eq!((c.exp, c.nbf), (Some(Time::Invalid), Some(Time::Invalid)));
        assert!(matches!(c.iat, Some(Time::Big(f)) if f > 1e41));
    }

    #[test]
    fn audience_shapes() {
        fn aud(j: &str) -> Audience<'static> {
            match scan_claims(j.as_bytes(), &[], 64).unwrap().aud {
                Audience::Str(s) => Audience::Str(Cow::Owned(s.into_owned())),
                Audience::List(l) => {
                    Audience::List(l.into_iter().map(|s| Cow::Owned(s.into_owned())).collect())
                }
                Audience::Absent => Audience::Absent,
                Audience::Invalid => Audience::Invalid,
            }
        }
        assert_eq!(aud(r#"{"aud":"a"}"#), Audience::Str("a".into()));
        assert_eq!(
            aud(r#"{"aud":["a","b"]}"#),
            Audience::List(vec!["a".into(), "b".into()])
        );
        assert_eq!(aud(r#"{"aud":["a",1]}"#), Audience::Invalid);
        for falsy in [r#""""#, "[]", "{}", "0", "0.0", "null", "false"] {
            assert_eq!(
                aud(&format!(r#"{{"aud":{falsy}}}"#)),
                Audience::Absent,
                "{falsy}"
            );
        }
        for truthy in ["1", "true", r#"{"a":1}"#] {
            assert_eq!(
                aud(&format!(r#"{{"aud":{truthy}}}"#)),
                Audience::Invalid,
                "{truthy}"
            );
        }
    }

    #[test]
    fn required_presence() {
        let req = vec!["exp".to_string(), "x".to_string(), "n".to_string()];
        let c = scan_claims(br#"{"exp":1,"n":null}"#, &req, 64).unwrap();
        assert_eq!(c.required_present, vec![true, false, false]);
    }
}
