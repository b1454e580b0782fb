//! One pass over the header and claims JSON with jiter: registered members are read into
//! typed fields, everything else is skipped without allocating. Duplicate top-level
//! members and nesting beyond the depth limit are refused here.
//!
//! This file holds the types read (`Header`, `Claims`, `Time`, ...), the errors, and what
//! both segments share: UTF-8 and string scanning and the general object walker. The header
//! is read in `header.rs`, the claims by the general parser in `claims.rs` and by the fast
//! path for the usual claims object in `fast.rs`.

use std::borrow::Cow;

use jiter::{Jiter, JiterResult, Peek};
use smallvec::SmallVec;

use crate::alg::Algorithm;
use crate::error::{JwtError, Result, Segment};

mod claims;
mod fast;
mod header;

pub use claims::{claims, int_from_str, scan_claims, time_from_number};
pub use fast::fast_claims;
pub use header::scan_header;

/// The `alg` header parameter as far as verification cares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum HeaderAlg {
    #[default]
    Missing,
    Known(Algorithm),
    /// A string naming no algorithm the core implements (may still be in the allow-list).
    Unknown(String),
    /// Not a string, or an empty string: never in an allow-list of names.
    Invalid,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Field<T> {
    #[default]
    Absent,
    Value(T),
    /// Present but not of the expected JSON type.
    WrongType,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CritItem {
    Name(String),
    NotString,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Header<'j> {
    pub alg: HeaderAlg,
    pub kid: Field<Cow<'j, str>>,
    pub typ: Field<Cow<'j, str>>,
    /// `None`: absent; `Some(None)`: present but not an array.
    pub crit: Option<Option<Vec<CritItem>>>,
    pub has_b64: bool,
    /// `b64` is exactly JSON `false` (RFC 7797 unencoded payload).
    pub b64_false: bool,
}

/// The same string field owning its value.
fn own(f: Field<Cow<'_, str>>) -> Field<Cow<'static, str>> {
    match f {
        Field::Value(v) => Field::Value(Cow::Owned(v.into_owned())),
        Field::Absent => Field::Absent,
        Field::WrongType => Field::WrongType,
    }
}

impl Header<'_> {
    /// The same header owning its strings (kept beyond its JSON buffer).
    pub fn into_owned(self) -> Header<'static> {
        Header {
            alg: self.alg,
            kid: own(self.kid),
            typ: own(self.typ),
            crit: self.crit,
            has_b64: self.has_b64,
            b64_false: self.b64_false,
        }
    }
}

/// A time claim (`exp`, `nbf`, `iat`) converted the way PyJWT's `int(value)` converts it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Time {
    Int(i128),
    /// Beyond i128: kept as its (signed, possibly infinite) float approximation.
    Big(f64),
    /// `int()` would raise (null, list, object, NaN, infinity, non-numeric string).
    Invalid,
}

impl Time {
    /// Seconds since the epoch as a float (None for an invalid time), as reports and
    /// caches read them.
    pub fn seconds(self) -> Option<f64> {
        match self {
            // Through i64 when it fits: i128 -> f64 is a slow software routine.
            Time::Int(i) => Some(match i64::try_from(i) {
                Ok(small) => small as f64,
                Err(_) => i as f64,
            }),
            Time::Big(f) => Some(f),
            Time::Invalid => None,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub enum Audience<'j> {
    #[default]
    /// Absent, or a falsy value (null, false, 0, "", [], {}), which PyJWT treats as absent.
    Absent,
    Str(Cow<'j, str>),
    List(Vec<Cow<'j, str>>),
    /// A truthy value that is neither a string nor a list of strings.
    Invalid,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Claims<'j> {
    pub exp: Option<Time>,
    pub nbf: Option<Time>,
    pub iat: Option<Time>,
    pub iss: Field<Cow<'j, str>>,
    pub sub: Field<Cow<'j, str>>,
    pub jti: Field<Cow<'j, str>>,
    pub aud: Audience<'j>,
    /// One flag per name in the `require` list: present and not null.
    pub required_present: Vec<bool>,
}

impl Claims<'_> {
    /// The same claims owning their strings (kept beyond their JSON buffer).
    pub fn into_owned(self) -> Claims<'static> {
        Claims {
            exp: self.exp,
            nbf: self.nbf,
            iat: self.iat,
            iss: own(self.iss),
            sub: own(self.sub),
            jti: own(self.jti),
            aud: match self.aud {
                Audience::Absent => Audience::Absent,
                Audience::Str(s) => Audience::Str(Cow::Owned(s.into_owned())),
                Audience::List(items) => Audience::List(
                    items
                        .into_iter()
                        .map(|s| Cow::Owned(s.into_owned()))
                        .collect(),
                ),
                Audience::Invalid => Audience::Invalid,
            },
            required_present: self.required_present,
        }
    }
}

pub fn depth_error(segment: Segment, max_depth: usize) -> JwtError {
    let name = match segment {
        Segment::Header => "header",
        Segment::Payload => "payload",
    };
    JwtError::decode(format!(
        "Invalid {name} string: JSON nested deeper than {max_depth} levels"
    ))
}

pub fn duplicate_error(segment: Segment, name: &[u8]) -> JwtError {
    let which = match segment {
        Segment::Header => "header",
        Segment::Payload => "payload",
    };
    JwtError::decode(format!(
        "Invalid {which} string: duplicate member {:?} (refused: two JSON parsers could disagree on its value)",
        String::from_utf8_lossy(name)
    ))
}

pub fn not_object_error(segment: Segment) -> JwtError {
    JwtError::decode(match segment {
        Segment::Header => "Invalid header string: must be a json object",
        Segment::Payload => "Invalid payload string: must be a json object",
    })
}

/// JOSE JSON is UTF-8 (RFC 7515 §5.1, RFC 8259 §8.1); jiter leaves bytes inside strings
/// unchecked, so the whole segment is validated (a no-op scan for ASCII).
pub fn check_utf8(input: &[u8], segment: Segment) -> Result<()> {
    if is_ascii(input) || std::str::from_utf8(input).is_ok() {
        return Ok(());
    }
    let which = match segment {
        Segment::Header => "header",
        Segment::Payload => "payload",
    };
    Err(JwtError::bad_json(
        segment,
        format!("Invalid {which} string: not valid UTF-8"),
    ))
}

/// `input.is_ascii()` without a byte loop over the tail: the standard one checks the bytes
/// after its last 64-byte block one at a time, which for a token's payload (a few hundred
/// bytes) costs more than the blocks. Here the last 16 bytes are read as one overlapping word
/// pair.
#[inline]
fn is_ascii(input: &[u8]) -> bool {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let word = |i: usize| u64::from_le_bytes(input[i..i + 8].try_into().expect("8 bytes"));
    if input.len() < 16 {
        return input.is_ascii();
    }
    let mut any = 0;
    let mut i = 0;
    while i + 16 <= input.len() {
        any |= word(i) | word(i + 8);
        i += 16;
    }
    let end = input.len() - 16;
    any |= word(end) | word(end + 8);
    any & HIGH == 0
}

/// The index of the first `"`, `\\` or control character (< 0x20) at or after `i`.
pub fn find_string_special(b: &[u8], mut i: usize) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        // SSE2 is part of x86_64: 16 bytes per step, with no feature detection needed.
        use std::arch::x86_64::*;
        // SAFETY: the intrinsics need SSE2, which every x86_64 CPU has (the target's
        // baseline). The unaligned loads read b[i..i + 16], inside the slice by the loop
        // condition, and b[len - 16..len], guarded by len >= 16; `add` stays inside the
        // slice for the same reasons.
        unsafe {
            let quote = _mm_set1_epi8(b'"' as i8);
            let backslash = _mm_set1_epi8(b'\\' as i8);
            let ctl_max = _mm_set1_epi8(0x1f);
            while i + 16 <= b.len() {
                let x = _mm_loadu_si128(b.as_ptr().add(i) as *const __m128i);
                let is_ctl = _mm_cmpeq_epi8(_mm_min_epu8(x, ctl_max), x); // unsigned x <= 0x1f
                let hits = _mm_or_si128(
                    _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)),
                    is_ctl,
                );
                let mask = _mm_movemask_epi8(hits) as u32;
                if mask != 0 {
                    return Some(i + mask.trailing_zeros() as usize);
                }
                i += 16;
            }
            // The last partial block: one load ending at the slice's end, with the bytes
            // before `i` (already scanned) shifted out.
            if i < b.len() && b.len() >= 16 {
                let base = b.len() - 16;
                let x = _mm_loadu_si128(b.as_ptr().add(base) as *const __m128i);
                let is_ctl = _mm_cmpeq_epi8(_mm_min_epu8(x, ctl_max), x);
                let hits = _mm_or_si128(
                    _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)),
                    is_ctl,
                );
                let mask = (_mm_movemask_epi8(hits) as u32) >> (i - base);
                return (mask != 0).then(|| i + mask.trailing_zeros() as usize);
            }
        }
    }
    b[i..]
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|p| i + p)
}

/// A string value, borrowed from the input when it had no escapes.
pub fn anchored<'j>(input: &'j [u8], s: &str) -> Cow<'j, str> {
    let start = input.as_ptr() as usize;
    let p = s.as_ptr() as usize;
    if p >= start && p + s.len() <= start + input.len() {
        let off = p - start;
        // SAFETY: `s` lies inside `input` (the range check above), so this slice is the
        // very memory `s` borrows, which is valid UTF-8 since `s` is a str.
        Cow::Borrowed(unsafe { std::str::from_utf8_unchecked(&input[off..off + s.len()]) })
    } else {
        Cow::Owned(s.to_owned())
    }
}

/// A top-level member name (escapes decoded, so "\u0061lg" and "alg" are the same member),
/// borrowed from the input when it had no escapes.
fn member_name<'j>(input: &'j [u8], name: &str) -> Cow<'j, [u8]> {
    match anchored(input, name) {
        Cow::Borrowed(b) => Cow::Borrowed(b.as_bytes()),
        Cow::Owned(o) => Cow::Owned(o.into_bytes()),
    }
}

struct Members<'j> {
    seen: SmallVec<[Cow<'j, [u8]>; 16]>,
}

impl<'j> Members<'j> {
    fn new() -> Self {
        Members {
            seen: SmallVec::new(),
        }
    }
    /// Records a member name; false when it was already there.
    fn insert(&mut self, name: Cow<'j, [u8]>) -> bool {
        if self
            .seen
            .iter()
            .any(|s| s.len() == name.len() && **s == *name)
        {
            return false;
        }
        self.seen.push(name);
        true
    }
}

fn skip(j: &mut Jiter<'_>, peek: Peek, depth: usize, max_depth: usize) -> JiterResult<bool> {
    match peek {
        Peek::Array => {
            if depth >= max_depth {
                return Ok(false);
            }
            let mut next = j.known_array()?;
            while let Some(p) = next {
                if !skip(j, p, depth + 1, max_depth)? {
                    return Ok(false);
                }
                next = j.array_step()?;
            }
            Ok(true)
        }
        Peek::Object => {
            if depth >= max_depth {
                return Ok(false);
            }
            let mut key = j.known_object()?.is_some();
            while key {
                let p = j.peek()?;
                if !skip(j, p, depth + 1, max_depth)? {
                    return Ok(false);
                }
                key = j.next_key()?.is_some();
            }
            Ok(true)
        }
        _ => j.known_skip(peek).map(|_| true),
    }
}

/// What a member callback did with the value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Consumed,
    /// Left for the walker to skip.
    Skip,
    /// Nesting went past the depth limit.
    TooDeep,
}

impl From<bool> for Step {
    fn from(consumed: bool) -> Self {
        if consumed {
            Step::Consumed
        } else {
            Step::Skip
        }
    }
}

/// Walks a top-level JSON object, calling `on_member(name, jiter, peek)` for each member.
fn walk_object<'j, F>(
    input: &'j [u8],
    segment: Segment,
    max_depth: usize,
    mut on_member: F,
) -> Result<()>
where
    F: FnMut(&[u8], &mut Jiter<'j>, Peek) -> JiterResult<Step>,
{
    let bad = |e: jiter::JiterError| {
        let which = match segment {
            Segment::Header => "header",
            Segment::Payload => "payload",
        };
        JwtError::bad_json(segment, format!("Invalid {which} string: {}", e.error_type))
    };
    check_utf8(input, segment)?;
    let mut j = Jiter::new(input).with_allow_inf_nan();
    let peek = j.peek().map_err(bad)?;
    if peek != Peek::Object {
        // Valid JSON that is not an object gets PyJWT's message; invalid JSON a parse error.
        let ok = skip(&mut j, peek, 1, max_depth).map_err(bad)?;
        if !ok {
            return Err(depth_error(segment, max_depth));
        }
        j.finish().map_err(bad)?;
        return Err(not_object_error(segment));
    }
    if max_depth == 0 {
        return Err(depth_error(segment, max_depth));
    }
    let mut members = Members::new();
    let mut key = j
        .known_object()
        .map_err(bad)?
        .map(|k| member_name(input, k));
    while let Some(name) = key {
        let name_ref: &[u8] = &name;
        let name_copy: Cow<'j, [u8]> = match &name {
            Cow::Borrowed(b) => Cow::Borrowed(b),
            Cow::Owned(o) => Cow::Owned(o.clone()),
        };
        if !members.insert(name_copy) {
            return Err(duplicate_error(segment, name_ref));
        }
        let p = j.peek().map_err(bad)?;
        match on_member(name_ref, &mut j, p).map_err(bad)? {
            Step::Consumed => {}
            Step::Skip => {
                if !skip(&mut j, p, 1, max_depth).map_err(bad)? {
                    return Err(depth_error(segment, max_depth));
                }
            }
            Step::TooDeep => return Err(depth_error(segment, max_depth)),
        }
        key = j.next_key().map_err(bad)?.map(|k| member_name(input, k));
    }
    j.finish().map_err(bad)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_special_matches_a_plain_scan() {
        let mut text: Vec<u8> = (0..200u8).map(|i| b'a' + (i % 26)).collect();
        for pos in [0usize, 1, 15, 16, 17, 31, 32, 100, 199] {
            for special in [b'"', b'\\', 0x00, 0x1f] {
                let mut t = text.clone();
                t[pos] = special;
                for start in [0usize, 1, 7, 16] {
                    let expected = t[start..]
                        .iter()
                        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                        .map(|p| start + p);
                    assert_eq!(
                        find_string_special(&t, start),
                        expected,
                        "pos {pos} start {start}"
                    );
                }
            }
        }
        text[50] = 0x80; // bytes >= 0x80 are not control characters
        text[51] = 0xff;
        assert_eq!(find_string_special(&text, 0), None);
    }

    #[test]
    fn string_special_search_matches_a_byte_loop() {
        let specials = [b'"', b'\\', 0x00, 0x1f, b'a', 0x7f, 0xe9];
        for len in 0..48usize {
            for (k, &special) in specials.iter().enumerate() {
                for at in 0..len.max(1) {
                    let mut b = vec![b'x'; len];
                    if at < len {
                        b[at] = special;
                    }
                    if len > 3 && k % 2 == 0 {
                        b[len - 1] = b'"';
                    }
                    for start in 0..=len {
                        let want = b[start..]
                            .iter()
                            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                            .map(|p| start + p);
                        assert_eq!(
                            find_string_special(&b, start),
                            want,
                            "len {len} at {at} start {start}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn ascii_test_matches_the_standard_one() {
        for len in 0..100usize {
            assert!(is_ascii(&vec![b'x'; len]), "len {len}");
            for at in 0..len {
                for high in [0x80u8, 0xc3, 0xff] {
                    let mut b = vec![b'x'; len];
                    b[at] = high;
                    assert!(!is_ascii(&b), "len {len} at {at} byte {high:#x}");
                }
            }
        }
    }

    #[test]
    fn duplicates_refused_even_when_escaped() {
        let e = scan_header(br#"{"alg":"HS256","\u0061lg":"none"}"#, 64).unwrap_err();
        assert!(e.message.contains("duplicate member"), "{e}");
        assert!(scan_claims(br#"{"exp":1,"exp":2}"#, &[], 64).is_err());
        // nested duplicates are left to last-wins, like json.loads
        assert!(scan_claims(br#"{"x":{"a":1,"a":2}}"#, &[], 64).is_ok());
    }

    #[test]
    fn invalid_utf8_refused() {
        let e = scan_claims(b"{\"a\":\"\xff\"}", &[], 64).unwrap_err();
        assert!(e.message.contains("UTF-8"), "{e}");
        assert!(scan_claims("{\"a\":\"\u{e9}\"}".as_bytes(), &[], 64).is_ok());
    }

    #[test]
    fn depth_and_shape() {
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(100), "]".repeat(100));
        let e = scan_claims(deep.as_bytes(), &[], 64).unwrap_err();
        assert!(e.message.contains("nested deeper"), "{e}");
        let e = scan_claims(b"[1]", &[], 64).unwrap_err();
        assert_eq!(e.message, "Invalid payload string: must be a json object");
        let e = scan_claims(b"{bad", &[], 64).unwrap_err();
        assert!(matches!(e.detail, crate::error::Detail::BadJson { .. }));
    }

    #[test]
    fn arrays_read_in_place_count_towards_the_depth() {
        for json in [
            &br#"{"aud":["a"]}"#[..],
            br#"{"aud":[]}"#,
            br#"{"x":["a"]}"#,
        ] {
            let e = scan_claims(json, &[], 1).unwrap_err();
            assert!(e.message.contains("nested deeper"), "{e}");
            assert!(scan_claims(json, &[], 2).is_ok());
        }
        let e = scan_header(br#"{"alg":"HS256","crit":["b64"]}"#, 1).unwrap_err();
        assert!(e.message.contains("nested deeper"), "{e}");
    }
}
