//! The fast path for the usual claims object: a hand-written cursor over plain strings,
//! integers and literals, integers read eight digits at a time (SWAR), member names told
//! apart by a fingerprint of their first bytes. Anything unusual hands over to the general
//! parser ([`scan_claims`](super::scan_claims)), which gives the exact verdict.

use std::borrow::Cow;

use smallvec::SmallVec;

use super::{find_string_special, is_ascii, Audience, Claims, Field, Time};

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

/// [`scan_claims`](super::scan_claims) for the usual claims object (plain strings,
/// integer times, flat audience lists, nested values of the same kinds), without the
/// general parser; None hands the input to [`scan_claims`](super::scan_claims), which also
/// gives every error.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{claims, scan_claims};

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
