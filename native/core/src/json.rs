//! One pass over the header and claims JSON with jiter: registered members are read into
//! typed fields, everything else is skipped without allocating. Duplicate top-level
//! members and nesting beyond the depth limit are refused here.

use std::borrow::Cow;

use jiter::{Jiter, JiterResult, Peek};
use smallvec::SmallVec;

use crate::alg::Algorithm;
use crate::error::{JwtError, Result, Segment};

/// A top-level member name (escapes decoded, so "\u0061lg" and "alg" are the same member),
/// borrowed from the input when it had no escapes.
fn member_name<'j>(input: &'j [u8], name: &str) -> Cow<'j, [u8]> {
    match anchored(input, name) {
        Cow::Borrowed(b) => Cow::Borrowed(b.as_bytes()),
        Cow::Owned(o) => Cow::Owned(o.into_bytes()),
    }
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

/// A cursor for the claims fast path: plain strings (no escapes), integers, literals and
/// containers of those. Anything else yields None and the caller uses the general parser,
/// which gives the exact verdict (including every error).
struct Fast<'j> {
    b: &'j [u8],
    i: usize,
}

impl<'j> Fast<'j> {
    #[inline(always)]
    fn ws(&mut self) {
        // Compact JSON has no whitespace: one comparison settles the usual case.
        if self.b.get(self.i).is_some_and(|&c| c <= b' ') {
            self.ws_slow();
        }
    }

    #[cold]
    fn ws_slow(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// At an opening quote: the string, when it has no escape or control character.
    #[inline(always)]
    fn plain_str(&mut self) -> Option<&'j str> {
        let start = self.i + 1;
        let end = find_string_special(self.b, start)?;
        if self.b[end] != b'"' {
            return None;
        }
        self.i = end + 1;
        // SAFETY: `fast_claims`, the only maker of a `Fast` over untrusted input, checks the
        // whole input is UTF-8 first (the tests build one over ASCII); the slice starts
        // right after an ASCII quote and ends right before one, so it is whole characters.
        Some(unsafe { std::str::from_utf8_unchecked(&self.b[start..end]) })
    }

    /// An integer without fraction or exponent that fits in an i64 (18 digits).
    #[inline(always)]
    fn int(&mut self) -> Option<i64> {
        let neg = self.peek() == Some(b'-');
        let start = self.i + neg as usize;
        let mut k = start;
        let mut v: i64 = 0;
        // Eight digits at a time while there are eight (a timestamp has ten); at most 24
        // this way, and the length check below refuses more than 18.
        while k - start < 24 {
            match self
                .b
                .get(k..k + 8)
                .and_then(|w| eight_digits(w.try_into().ok()?))
            {
                Some(d) => {
                    v = v.wrapping_mul(100_000_000).wrapping_add(d as i64);
                    k += 8;
                }
                None => break,
            }
        }
        while let Some(&d @ b'0'..=b'9') = self.b.get(k) {
            v = v.wrapping_mul(10).wrapping_add((d - b'0') as i64); // checked by length below
            k += 1;
        }
        let digits = k - start;
        if digits == 0 || digits > 18 || (digits > 1 && self.b[start] == b'0') {
            return None;
        }
        if let Some(b'.' | b'e' | b'E') = self.b.get(k) {
            return None;
        }
        self.i = k;
        Some(if neg { -v } else { v })
    }

    #[inline]
    fn literal(&mut self) -> Option<u8> {
        let first = self.peek()?;
        let lit: &[u8] = match first {
            b't' => b"true",
            b'f' => b"false",
            b'n' => b"null",
            _ => return None,
        };
        if self.b[self.i..].starts_with(lit) {
            self.i += lit.len();
            Some(first)
        } else {
            None
        }
    }

    /// Skips one value; `depth` is the nesting level of the value itself. Strings and
    /// integers, most values, are skipped here without a call.
    #[inline(always)]
    fn skip_value(&mut self, depth: usize, max_depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.plain_str().map(drop),
            b'-' | b'0'..=b'9' => self.int().map(drop),
            _ => self.skip_nested_or_literal(depth, max_depth),
        }
    }

    /// [`Self::skip_value`] for arrays, objects and literals.
    fn skip_nested_or_literal(&mut self, depth: usize, max_depth: usize) -> Option<()> {
        match self.peek()? {
            open @ (b'[' | b'{') => {
                if depth >= max_depth {
                    return None;
                }
                let close = if open == b'[' { b']' } else { b'}' };
                self.i += 1;
                self.ws();
                if self.peek()? == close {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    if open == b'{' {
                        if self.peek()? != b'"' {
                            return None;
                        }
                        self.plain_str()?;
                        self.ws();
                        if self.peek()? != b':' {
                            return None;
                        }
                        self.i += 1;
                        self.ws();
                    }
                    self.skip_value(depth + 1, max_depth)?;
                    self.ws();
                    match self.peek()? {
                        b',' => {
                            self.i += 1;
                            self.ws();
                        }
                        c if c == close => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            _ => self.literal().map(drop),
        }
    }

    /// A flat array of plain strings (an audience list); None for anything else.
    fn str_array(&mut self) -> Option<Vec<Cow<'j, str>>> {
        self.i += 1;
        self.ws();
        let mut items = Vec::new();
        if self.peek()? == b']' {
            self.i += 1;
            return Some(items);
        }
        loop {
            if self.peek()? != b'"' {
                return None;
            }
            items.push(Cow::Borrowed(self.plain_str()?));
            self.ws();
            match self.peek()? {
                b',' => {
                    self.i += 1;
                    self.ws();
                }
                b']' => {
                    self.i += 1;
                    return Some(items);
                }
                _ => return None,
            }
        }
    }
}

/// The value of 8 ASCII decimal digits, or None when some byte is not a digit (SWAR: one
/// 64-bit word instead of a loop over the bytes).
#[inline(always)]
fn eight_digits(w: [u8; 8]) -> Option<u32> {
    let x = u64::from_le_bytes(w);
    // Every byte is 0x30..=0x39: its high nibble is 3, and adding 6 does not carry into it.
    let high = 0xF0F0_F0F0_F0F0_F0F0u64;
    if x & high != 0x3030_3030_3030_3030
        || (x.wrapping_add(0x0606_0606_0606_0606) & high) != 0x3030_3030_3030_3030
    {
        return None;
    }
    let d = x - 0x3030_3030_3030_3030; // digits, first in the lowest byte
    let pairs = (d.wrapping_mul(10) + (d >> 8)) & 0x00FF_00FF_00FF_00FF; // 2-digit values
    let quads = (pairs.wrapping_mul(100) + (pairs >> 16)) & 0x0000_FFFF_0000_FFFF; // 4-digit values
    Some((quads.wrapping_mul(10_000) + (quads >> 32)) as u32)
}

/// The first 8 bytes of the `len`-byte name at `input[at..]` (zero-padded) as a number.
/// A name is followed by at least `":` and a value, so the 8 bytes are usually there to be
/// read at once and masked.
#[inline]
fn fingerprint_at(input: &[u8], at: usize, len: usize) -> u64 {
    match input.get(at..).and_then(<[u8]>::first_chunk::<8>) {
        Some(word) if len >= 8 => u64::from_le_bytes(*word),
        Some(word) => u64::from_le_bytes(*word) & ((1u64 << (8 * len)) - 1),
        None => input[at..at + len]
            .iter()
            .enumerate()
            .fold(0, |v, (i, &b)| v | (b as u64) << (8 * i)),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum RegisteredClaim {
    Exp,
    Nbf,
    Iat,
    Iss,
    Sub,
    Jti,
    Aud,
}

/// Which registered claim a member name is, from its fingerprint (all are 3 bytes long).
#[inline]
fn registered_claim(print: u64, len: usize) -> Option<RegisteredClaim> {
    const fn p(s: &[u8; 3]) -> u64 {
        s[0] as u64 | (s[1] as u64) << 8 | (s[2] as u64) << 16
    }
    if len != 3 {
        return None;
    }
    Some(match print {
        x if x == p(b"exp") => RegisteredClaim::Exp,
        x if x == p(b"nbf") => RegisteredClaim::Nbf,
        x if x == p(b"iat") => RegisteredClaim::Iat,
        x if x == p(b"iss") => RegisteredClaim::Iss,
        x if x == p(b"sub") => RegisteredClaim::Sub,
        x if x == p(b"jti") => RegisteredClaim::Jti,
        x if x == p(b"aud") => RegisteredClaim::Aud,
        _ => return None,
    })
}

/// [`scan_claims`] for the usual claims object (plain strings, integer times, flat
/// audience lists, nested values of the same kinds), without the general parser; None
/// hands the input to [`scan_claims`], which also gives every error.
pub fn fast_claims<'j>(
    input: &'j [u8],
    require: &[String],
    max_depth: usize,
) -> Option<Claims<'j>> {
    if !is_ascii(input) {
        std::str::from_utf8(input).ok()?;
    }
    let mut f = Fast { b: input, i: 0 };
    let mut c = Claims {
        required_present: vec![false; require.len()],
        ..Claims::default()
    };
    // Member names seen so far, with their first 8 bytes as a number: a cheap first test.
    let mut seen: SmallVec<[(u64, &[u8]); 24]> = SmallVec::new();
    let mut filter = 0u64;
    f.ws();
    if f.peek()? != b'{' || max_depth < 2 {
        return None;
    }
    f.i += 1;
    f.ws();
    if f.peek()? == b'}' {
        f.i += 1;
    } else {
        loop {
            if f.peek()? != b'"' {
                return None;
            }
            let name_at = f.i + 1;
            let name = f.plain_str()?.as_bytes();
            let print = fingerprint_at(input, name_at, name.len());
            // A 64-bit filter of the names seen: the list is searched only on a filter hit.
            let bit = 1u64 << (print.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58);
            if filter & bit != 0 && seen.iter().any(|&(p, s)| p == print && s == name) {
                return None; // a duplicate: the general path words the error
            }
            filter |= bit;
            seen.push((print, name));
            f.ws();
            if f.peek()? != b':' {
                return None;
            }
            f.i += 1;
            f.ws();
            let first = f.peek()?;
            if !require.is_empty() && !f.b[f.i..].starts_with(b"null") {
                for (flag, r) in c.required_present.iter_mut().zip(require) {
                    if r.as_bytes() == name {
                        *flag = true;
                    }
                }
            }
            match registered_claim(print, name.len()) {
                Some(
                    slot @ (RegisteredClaim::Exp | RegisteredClaim::Nbf | RegisteredClaim::Iat),
                ) => {
                    let t = Some(Time::Int(f.int()? as i128));
                    match slot {
                        RegisteredClaim::Exp => c.exp = t,
                        RegisteredClaim::Nbf => c.nbf = t,
                        _ => c.iat = t,
                    }
                }
                Some(
                    slot @ (RegisteredClaim::Iss | RegisteredClaim::Sub | RegisteredClaim::Jti),
                ) => {
                    if first != b'"' {
                        return None;
                    }
                    let v = Field::Value(Cow::Borrowed(f.plain_str()?));
                    match slot {
                        RegisteredClaim::Iss => c.iss = v,
                        RegisteredClaim::Sub => c.sub = v,
                        _ => c.jti = v,
                    }
                }
                Some(RegisteredClaim::Aud) => {
                    c.aud = match first {
                        b'"' => match f.plain_str()? {
                            "" => Audience::Absent,
                            s => Audience::Str(Cow::Borrowed(s)),
                        },
                        b'[' => {
                            let items = f.str_array()?;
                            if items.is_empty() {
                                Audience::Absent
                            } else {
                                Audience::List(items)
                            }
                        }
                        _ => return None,
                    }
                }
                _ => f.skip_value(2, max_depth)?,
            }
            f.ws();
            match f.peek()? {
                b',' => {
                    f.i += 1;
                    f.ws();
                }
                b'}' => {
                    f.i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    f.ws();
    (f.i == input.len()).then_some(c)
}

/// The claims: the fast path when it applies, else the general parser.
pub fn claims<'j>(input: &'j [u8], require: &[String], max_depth: usize) -> Result<Claims<'j>> {
    match fast_claims(input, require, max_depth) {
        Some(c) => Ok(c),
        None => scan_claims(input, require, max_depth),
    }
}

#[cfg(test)]
mod fast_tests {
    use super::*;

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
    fn integers_read_eight_digits_at_a_time_as_one_by_one() {
        for text in [
            "0",
            "7",
            "-0",
            "12345678",
            "123456789",
            "1795891690",
            "-1795891690",
            "99999999",
            "100000000",
            "123456789012345678",
            "1234567890123456789",
            "12345678x",
            "1234567:",
            "12345678.5",
            "1e3",
            "00",
            "01",
            "-",
            "",
            "1234567/",
            "123456789012345678901234567",
        ] {
            let b = format!("{text},").into_bytes();
            let mut f = Fast { b: &b, i: 0 };
            let fast = f.int();
            let neg = text.starts_with('-');
            let digits: String = text[neg as usize..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            let next = text[neg as usize + digits.len()..].chars().next();
            let want = (!digits.is_empty()
                && digits.len() <= 18
                && (digits.len() == 1 || !digits.starts_with('0'))
                && !matches!(next, Some('.' | 'e' | 'E')))
            .then(|| digits.parse::<i64>().unwrap() * if neg { -1 } else { 1 });
            assert_eq!(fast, want, "{text}");
            if want.is_some() {
                assert_eq!(f.i, neg as usize + digits.len(), "{text}");
            }
        }
        for word in [
            *b"00000000",
            *b"99999999",
            *b"01234567",
            *b"9876543:",
            *b"/1234567",
        ] {
            let want = std::str::from_utf8(&word).unwrap().parse::<u32>().ok();
            assert_eq!(eight_digits(word), want);
        }
    }

    /// The fast path agrees with the general parser whenever it answers.
    #[test]
    fn fast_claims_agree_with_the_general_parser() {
        let require = vec!["exp".to_string(), "sub".to_string()];
        let cases = [
            r#"{}"#,
            r#" { "exp" : 1 , "sub":"x" } "#,
            r#"{"iss":"https://idp","sub":"u","aud":"api","exp":1795891690,"nbf":-5,"iat":0,"jti":"j","name":"Jane","roles":["a","b"],"n":{"x":[1,{"y":null}],"z":true},"e":[],"o":{}}"#,
            r#"{"aud":["a","b"]}"#,
            r#"{"aud":[]}"#,
            r#"{"aud":""}"#,
            r#"{"aud":["a",1]}"#,
            r#"{"aud":{}}"#,
            r#"{"aud":null}"#,
            r#"{"exp":1.5}"#,
            r#"{"exp":"12"}"#,
            r#"{"exp":null,"sub":null}"#,
            r#"{"exp":01}"#,
            r#"{"exp":1e3}"#,
            r#"{"exp":12345678901234567890}"#,
            r#"{"iss":"a\"b"}"#,
            r#"{"iss":5}"#,
            r#"{"a":1,"a":2}"#,
            r#"{"a":1,}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":tru}"#,
            r#"{"a":1} x"#,
            r#"{"a":"é","b":"日本"}"#,
            r#"[1]"#,
            r#"{"a":[[[[[[1]]]]]]}"#,
            r#"{"a":NaN}"#,
            "{\"a\":\"\u{1}\"}",
        ];
        for case in cases {
            for depth in [1, 3, 64] {
                let general = scan_claims(case.as_bytes(), &require, depth);
                if let Some(fast) = fast_claims(case.as_bytes(), &require, depth) {
                    assert_eq!(Ok(fast), general, "{case} depth {depth}");
                }
                assert_eq!(claims(case.as_bytes(), &require, depth), general, "{case}");
            }
        }
        // Random mutations of a typical claims object: whenever the fast path answers, the
        // general parser gives the same claims (so the fast path never accepts what the
        // general parser refuses).
        let seed_doc = cases[2].as_bytes();
        let alphabet = b"{}[]\",:0123456789-+.eEtrufalsn \\u\t\n\x01\xc3\xa9abc";
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut fast_hits = 0;
        // (TURBOJWT_FUZZ_ITERATIONS runs a longer campaign)
        let iterations = std::env::var("TURBOJWT_FUZZ_ITERATIONS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(60_000);
        for _ in 0..iterations {
            let mut doc = seed_doc.to_vec();
            for _ in 0..1 + next(3) {
                let at = next(doc.len() + 1);
                match next(3) {
                    0 if at < doc.len() => {
                        doc.remove(at);
                    }
                    1 if at < doc.len() => doc[at] = alphabet[next(alphabet.len())],
                    _ => doc.insert(at, alphabet[next(alphabet.len())]),
                }
            }
            for depth in [2, 64] {
                if let Some(fast) = fast_claims(&doc, &require, depth) {
                    fast_hits += 1;
                    assert_eq!(
                        Ok(fast),
                        scan_claims(&doc, &require, depth),
                        "{}",
                        String::from_utf8_lossy(&doc)
                    );
                }
            }
        }
        assert!(
            fast_hits > 1000,
            "the mutations should often stay on the fast path"
        );
        // The common token shape takes the fast path.
        assert!(fast_claims(cases[2].as_bytes(), &require, 64).is_some());
        assert!(fast_claims(cases[3].as_bytes(), &[], 64).is_some());
    }
}
