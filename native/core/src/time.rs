//! Request times: the one parser every reader uses (`verify_batch`'s `at`, the JSON-lines,
//! CSV, Parquet and access-log readers, `verify-logs --at`), and the rule that a time is a
//! finite number. A time judges whether a token had expired, so anything that is not
//! plainly a time is refused rather than guessed at: a NaN would make every `exp`/`nbf`
//! comparison false, and so every expired token valid.

/// Why a request time was refused (the verdict's reason for a token judged as of it).
pub const NOT_A_TIME: &str =
    "the request time is not a finite number of seconds or an ISO 8601 date-time";

/// Epoch seconds from text: ASCII decimal seconds (`1700000000`, `-5`, `1700000000.25`,
/// optional sign, no exponent) or an ISO 8601 / RFC 3339 date-time (without a zone: UTC),
/// with ASCII spaces around it. Nothing else: no `nan`/`inf`, exponents, `_` separators or
/// non-ASCII digits (which some parsers accept and others do not).
pub fn parse_time(text: &str) -> Option<f64> {
    let t = text.trim_matches(|c: char| c.is_ascii_whitespace());
    if is_ascii_decimal(t) {
        return finite(t.parse::<f64>().ok()?);
    }
    // (a date-time starts with its year's digits; speedate would also read a bare number
    // as a Unix time, which the decimal rule above has already decided)
    if !t.as_bytes().first().is_some_and(u8::is_ascii_digit) || !t.contains('-') {
        return None;
    }
    let dt = speedate::DateTime::parse_str(t).ok()?;
    finite(dt.timestamp_tz() as f64 + f64::from(dt.time.microsecond) / 1e6)
}

/// `t` if it is a finite number (a time can be judged against), else None.
pub fn finite(t: f64) -> Option<f64> {
    t.is_finite().then_some(t)
}

/// `[+-]?[0-9]+(\.[0-9]+)?`
fn is_ascii_decimal(t: &str) -> bool {
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    all_digits(int) && frac.is_none_or(all_digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_seconds_and_iso_8601_only() {
        for (text, want) in [
            ("1700000000", 1_700_000_000.0),
            (" 1700000000.25\t", 1_700_000_000.25),
            ("-5", -5.0),
            ("+5", 5.0),
            ("0", 0.0),
            ("2023-11-14T22:13:20Z", 1_700_000_000.0),
            ("2023-11-14T22:13:20", 1_700_000_000.0),
            ("2023-11-14T23:13:20+01:00", 1_700_000_000.0),
            ("2023-11-14T22:13:20.5Z", 1_700_000_000.5),
            ("2023-11-14 22:13:20Z", 1_700_000_000.0),
        ] {
            assert_eq!(parse_time(text), Some(want), "{text:?}");
        }
        for text in [
            "",
            " ",
            "nan",
            "NaN",
            "-nan",
            "inf",
            "-inf",
            "infinity",
            "Infinity",
            "1e9",
            "1E9",
            "1_700_000_000",
            "١٧٠٠٠٠٠٠٠٠",
            "１７００",
            "0x10",
            ".5",
            "5.",
            "--5",
            "+-5",
            "1 2",
            "yesterday",
            "2023-13-01T00:00:00Z",
            "2023-02-31T00:00:00Z",
            "T22:13:20Z",
            "\u{a0}1700000000",
        ] {
            assert_eq!(parse_time(text), None, "{text:?}");
        }
        let huge = "9".repeat(400);
        assert_eq!(parse_time(&huge), None, "overflows to infinity");
    }

    #[test]
    fn finite_refuses_nan_and_infinities() {
        assert_eq!(finite(1.5), Some(1.5));
        for t in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(finite(t), None);
        }
    }
}
