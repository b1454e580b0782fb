//! Registered-claim validation with PyJWT's order, semantics and messages.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::error::{ErrorKind, JwtError, Result};
use crate::json::{Audience, Claims, Field, Time};

/// `audience=` / `issuer=`: one string or several.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expected<'a> {
    One(Cow<'a, str>),
    Any(Vec<Cow<'a, str>>),
}

impl Expected<'_> {
    pub fn into_owned(self) -> Expected<'static> {
        match self {
            Expected::One(s) => Expected::One(Cow::Owned(s.into_owned())),
            Expected::Any(v) => {
                Expected::Any(v.into_iter().map(|s| Cow::Owned(s.into_owned())).collect())
            }
        }
    }
}

/// The claim checks of one decode call (PyJWT's merged options plus the arguments).
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimsPolicy<'a> {
    pub verify_exp: bool,
    pub verify_nbf: bool,
    pub verify_iat: bool,
    pub verify_aud: bool,
    pub verify_iss: bool,
    pub verify_sub: bool,
    pub verify_jti: bool,
    pub strict_aud: bool,
    pub require: Vec<String>,
    pub audience: Option<Expected<'a>>,
    pub issuer: Option<Expected<'a>>,
    pub subject: Option<Cow<'a, str>>,
    pub leeway: f64,
}

impl Default for ClaimsPolicy<'_> {
    fn default() -> Self {
        ClaimsPolicy {
            verify_exp: true,
            verify_nbf: true,
            verify_iat: true,
            verify_aud: true,
            verify_iss: true,
            verify_sub: true,
            verify_jti: true,
            strict_aud: false,
            require: Vec::new(),
            audience: None,
            issuer: None,
            subject: None,
            leeway: 0.0,
        }
    }
}

/// Python's exact `int` vs `float` comparison (NaN compares unordered).
fn cmp_time(t: Time, f: f64) -> Option<Ordering> {
    match t {
        Time::Invalid => None,
        Time::Big(b) => b.partial_cmp(&f),
        // Every real timestamp: the integer converts to f64 exactly (|i| <= 2^53), so the
        // float comparison is Python's exact one (NaN: unordered), with no floor().
        Time::Int(i) if i.unsigned_abs() <= 1 << 53 => (i as i64 as f64).partial_cmp(&f),
        Time::Int(i) => cmp_int_float(i, f),
    }
}

/// Python's exact comparison of any integer with a float.
fn cmp_int_float(i: i128, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    if f >= 1.7e38 {
        return Some(Ordering::Less);
    }
    if f <= -1.7e38 {
        return Some(Ordering::Greater);
    }
    let fl = f.floor();
    // Through i64 when it fits: f64 -> i128 is a slow software routine.
    let fi = if fl.abs() < 9.2e18 {
        fl as i64 as i128
    } else {
        fl as i128
    };
    Some(match i.cmp(&fi) {
        Ordering::Equal if f > fl => Ordering::Less,
        o => o,
    })
}

impl ClaimsPolicy<'_> {
    /// The same policy owning its strings (for a policy kept beyond the call).
    pub fn into_owned(self) -> ClaimsPolicy<'static> {
        ClaimsPolicy {
            audience: self.audience.map(Expected::into_owned),
            issuer: self.issuer.map(Expected::into_owned),
            subject: self.subject.map(|s| Cow::Owned(s.into_owned())),
            require: self.require,
            verify_exp: self.verify_exp,
            verify_nbf: self.verify_nbf,
            verify_iat: self.verify_iat,
            verify_aud: self.verify_aud,
            verify_iss: self.verify_iss,
            verify_sub: self.verify_sub,
            verify_jti: self.verify_jti,
            strict_aud: self.strict_aud,
            leeway: self.leeway,
        }
    }

    /// Validates `claims` as of `now` (seconds since the epoch, as a float like PyJWT's).
    pub fn validate(&self, c: &Claims<'_>, now: f64) -> Result<()> {
        for (present, name) in c.required_present.iter().zip(&self.require) {
            if !present {
                return Err(JwtError::missing_claim(name.clone()));
            }
        }
        let leeway = self.leeway;
        if let (Some(iat), true) = (c.iat, self.verify_iat) {
            if iat == Time::Invalid {
                return Err(JwtError::new(
                    ErrorKind::InvalidIssuedAt,
                    "Issued At claim (iat) must be an integer.",
                ));
            }
            // (fail closed: a comparison that is not ordered, a NaN time, refuses)
            if !matches!(
                cmp_time(iat, now + leeway),
                Some(Ordering::Less | Ordering::Equal)
            ) {
                return Err(JwtError::new(
                    ErrorKind::ImmatureSignature,
                    "The token is not yet valid (iat)",
                ));
            }
        }
        if let (Some(nbf), true) = (c.nbf, self.verify_nbf) {
            if nbf == Time::Invalid {
                return Err(JwtError::decode(
                    "Not Before claim (nbf) must be an integer.",
                ));
            }
            if !matches!(
                cmp_time(nbf, now + leeway),
                Some(Ordering::Less | Ordering::Equal)
            ) {
                return Err(JwtError::new(
                    ErrorKind::ImmatureSignature,
                    "The token is not yet valid (nbf)",
                ));
            }
        }
        if let (Some(exp), true) = (c.exp, self.verify_exp) {
            if exp == Time::Invalid {
                return Err(JwtError::decode(
                    "Expiration Time claim (exp) must be an integer.",
                ));
            }
            if !matches!(cmp_time(exp, now - leeway), Some(Ordering::Greater)) {
                return Err(JwtError::new(
                    ErrorKind::ExpiredSignature,
                    "Signature has expired",
                ));
            }
        }
        if self.verify_iss {
            self.validate_iss(c)?;
        }
        if self.verify_aud {
            self.validate_aud(c)?;
        }
        if self.verify_sub {
            match &c.sub {
                Field::Absent => {}
                Field::WrongType => {
                    return Err(JwtError::new(
                        ErrorKind::InvalidSubject,
                        "Subject must be a string",
                    ))
                }
                Field::Value(s) => {
                    if self.subject.as_ref().is_some_and(|want| want != s) {
                        return Err(JwtError::new(ErrorKind::InvalidSubject, "Invalid subject"));
                    }
                }
            }
        }
        if self.verify_jti && c.jti == Field::WrongType {
            return Err(JwtError::new(
                ErrorKind::InvalidJti,
                "JWT ID must be a string",
            ));
        }
        Ok(())
    }

    fn validate_iss(&self, c: &Claims<'_>) -> Result<()> {
        let Some(expected) = &self.issuer else {
            return Ok(());
        };
        let iss = match &c.iss {
            Field::Absent => return Err(JwtError::missing_claim("iss")),
            Field::WrongType => {
                return Err(JwtError::new(
                    ErrorKind::InvalidIssuer,
                    "Payload Issuer (iss) must be a string",
                ))
            }
            Field::Value(s) => s,
        };
        let ok = match expected {
            Expected::One(want) => want == iss,
            Expected::Any(wants) => wants.iter().any(|w| w == iss),
        };
        if ok {
            Ok(())
        } else {
            Err(JwtError::new(ErrorKind::InvalidIssuer, "Invalid issuer"))
        }
    }

    fn validate_aud(&self, c: &Claims<'_>) -> Result<()> {
        let invalid = |m: &'static str| Err(JwtError::new(ErrorKind::InvalidAudience, m));
        let Some(expected) = &self.audience else {
            return match c.aud {
                Audience::Absent => Ok(()),
                _ => invalid("Invalid audience"),
            };
        };
        if c.aud == Audience::Absent {
            return Err(JwtError::missing_claim("aud"));
        }
        if self.strict_aud {
            let Expected::One(want) = expected else {
                return invalid("Invalid audience (strict)");
            };
            let Audience::Str(got) = &c.aud else {
                return invalid("Invalid claim format in token (strict)");
            };
            return if want == got {
                Ok(())
            } else {
                invalid("Audience doesn't match (strict)")
            };
        }
        let matches = |want: &Cow<str>| match &c.aud {
            Audience::Str(s) => s == want,
            Audience::List(l) => l.iter().any(|s| s == want),
            _ => false,
        };
        if c.aud == Audience::Invalid {
            return invalid("Invalid claim format in token");
        }
        let any = match expected {
            Expected::One(want) => matches(want),
            Expected::Any(wants) => wants.iter().any(matches),
        };
        if any {
            Ok(())
        } else {
            invalid("Audience doesn't match")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::scan_claims;

    fn check(p: &ClaimsPolicy<'_>, json: &str, now: f64) -> std::result::Result<(), String> {
        let c = scan_claims(json.as_bytes(), &p.require, 64).unwrap();
        p.validate(&c, now).map_err(|e| e.to_string())
    }

    #[test]
    fn time_boundaries_match_pyjwt() {
        let p = ClaimsPolicy::default();
        assert!(check(&p, r#"{"exp":100}"#, 99.5).is_ok());
        assert_eq!(
            check(&p, r#"{"exp":100}"#, 100.0).unwrap_err(),
            "ExpiredSignatureError: Signature has expired"
        );
        assert!(check(&p, r#"{"nbf":100}"#, 100.0).is_ok());
        assert!(check(&p, r#"{"nbf":101}"#, 100.5).is_err());
        assert!(check(&p, r#"{"iat":"100"}"#, 100.0).is_ok());
        let lee = ClaimsPolicy {
            leeway: 10.0,
            ..Default::default()
        };
        assert!(check(&lee, r#"{"exp":95}"#, 100.0).is_ok());
        assert_eq!(
            check(&p, r#"{"exp":"x"}"#, 1.0).unwrap_err(),
            "DecodeError: Expiration Time claim (exp) must be an integer."
        );
        assert!(check(&p, r#"{"exp":1e300}"#, 1.0).is_ok());
        assert!(check(&p, r#"{"exp":-1e300}"#, 1.0).is_err());
    }

    /// A time that does not compare (NaN, from a caller's time or leeway) fails every time
    /// check it takes part in, instead of passing it.
    #[test]
    fn unordered_time_comparisons_fail_closed() {
        let p = ClaimsPolicy::default();
        for claims in [r#"{"exp":100}"#, r#"{"nbf":100}"#, r#"{"iat":100}"#] {
            assert!(check(&p, claims, f64::NAN).is_err(), "{claims} at NaN");
            let nan_leeway = ClaimsPolicy {
                leeway: f64::NAN,
                ..Default::default()
            };
            assert!(
                check(&nan_leeway, claims, 50.0).is_err(),
                "{claims} leeway NaN"
            );
        }
        assert!(
            check(&p, r#"{"sub":"x"}"#, f64::NAN).is_ok(),
            "no time claim to judge"
        );
    }

    #[test]
    fn timestamps_compare_as_any_integer_does() {
        let big = 1i128 << 53;
        let ints = [0, 1, -1, 1_795_891_690, -1_795_891_690, big - 1, big, -big];
        let floats = [
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.0,
            1_795_891_690.0,
            1_795_891_690.25,
            1_795_891_689.999_999_9,
            -1_795_891_690.5,
            9_007_199_254_740_991.0,
            9_007_199_254_740_992.0,
            9_007_199_254_740_994.0,
            -9_007_199_254_740_992.0,
            1e300,
            -1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        for i in ints {
            for f in floats {
                assert_eq!(cmp_time(Time::Int(i), f), cmp_int_float(i, f), "{i} vs {f}");
            }
        }
    }

    #[test]
    fn audience_rules() {
        let p = ClaimsPolicy {
            audience: Some(Expected::One("a".into())),
            ..Default::default()
        };
        assert!(check(&p, r#"{"aud":["x","a"]}"#, 0.0).is_ok());
        assert_eq!(
            check(&p, r#"{"aud":"ab"}"#, 0.0).unwrap_err(),
            "InvalidAudienceError: Audience doesn't match"
        );
        assert_eq!(
            check(&p, r#"{}"#, 0.0).unwrap_err(),
            "MissingRequiredClaimError: Token is missing the \"aud\" claim"
        );
        let none = ClaimsPolicy::default();
        assert_eq!(
            check(&none, r#"{"aud":"a"}"#, 0.0).unwrap_err(),
            "InvalidAudienceError: Invalid audience"
        );
        let strict = ClaimsPolicy {
            strict_aud: true,
            ..p.clone()
        };
        assert_eq!(
            check(&strict, r#"{"aud":["a"]}"#, 0.0).unwrap_err(),
            "InvalidAudienceError: Invalid claim format in token (strict)"
        );
        let empty = ClaimsPolicy {
            audience: Some(Expected::Any(vec![])),
            ..Default::default()
        };
        assert!(check(&empty, r#"{"aud":"a"}"#, 0.0).is_err());
    }

    #[test]
    fn issuer_subject_jti_require() {
        let p = ClaimsPolicy {
            issuer: Some(Expected::Any(vec!["i1".into(), "i2".into()])),
            subject: Some("s".into()),
            require: vec!["jti".into()],
            ..Default::default()
        };
        assert!(check(&p, r#"{"iss":"i2","sub":"s","jti":"j"}"#, 0.0).is_ok());
        assert_eq!(
            check(&p, r#"{"iss":"i2","sub":"s"}"#, 0.0).unwrap_err(),
            "MissingRequiredClaimError: Token is missing the \"jti\" claim"
        );
        assert_eq!(
            check(&p, r#"{"iss":"i","sub":"s","jti":"j"}"#, 0.0).unwrap_err(),
            "InvalidIssuerError: Invalid issuer"
        );
        assert_eq!(
            check(&p, r#"{"iss":"i1","sub":"t","jti":"j"}"#, 0.0).unwrap_err(),
            "InvalidSubjectError: Invalid subject"
        );
        assert_eq!(
            check(&p, r#"{"iss":"i1","sub":"s","jti":5}"#, 0.0).unwrap_err(),
            "InvalidJTIError: JWT ID must be a string"
        );
    }
}
