//! Arrow columns (arrow-rs): the batch engine's verdicts built as Arrow arrays, tokens and
//! request times read out of Arrow arrays, and the report's JSON lines and CSV written from
//! Arrow arrays. The binding moves the arrays across the Arrow C data interface; nothing
//! here knows Python.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float64Builder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use rayon::prelude::*;

use crate::batch::{pool, Chunk, Verdict, CHUNK};
use crate::time;

/// The verdict columns, in order (a table of verdicts starts with an `index` column).
pub const VERDICT_COLUMNS: [&str; 9] = [
    "valid", "error", "reason", "kid", "iss", "sub", "aud", "exp", "iat",
];

/// The Arrow type of verdict column `name`: `valid` boolean, `exp`/`iat` float64 (a
/// NumericDate may have a fraction; one type for every batch, so that parts, partitions and
/// files of one run share a schema), the rest UTF-8. Every column is nullable.
pub fn verdict_type(name: &str) -> DataType {
    match name {
        "valid" => DataType::Boolean,
        "exp" | "iat" => DataType::Float64,
        "index" | "line" => DataType::Int64,
        _ => DataType::Utf8,
    }
}

/// `index` and the verdict columns.
pub fn verdict_schema() -> SchemaRef {
    let fields: Vec<Field> = std::iter::once("index")
        .chain(VERDICT_COLUMNS)
        .map(|n| Field::new(n, verdict_type(n), true))
        .collect();
    Arc::new(Schema::new(fields))
}

/// A UTF-8 column of `rows` values holding `bytes` bytes of text in all.
pub fn text_column<'a>(
    rows: usize,
    bytes: usize,
    values: impl Iterator<Item = Option<&'a str>>,
) -> ArrayRef {
    let mut b = StringBuilder::with_capacity(rows, bytes);
    values.for_each(|v| b.append_option(v));
    Arc::new(b.finish())
}

/// A float64 column (seconds).
pub fn seconds_column(rows: usize, values: impl Iterator<Item = Option<f64>>) -> ArrayRef {
    let mut b = Float64Builder::with_capacity(rows);
    values.for_each(|v| b.append_option(v));
    Arc::new(b.finish())
}

/// The error of verdict `i` (its index in the batch): `(exception class name or
/// "malformed", message)`, None when valid. The binding's, which knows the verdicts the
/// reference path gave and the messages worded as Python's json module words them.
pub type ErrorOf<'a> = dyn Fn(usize, &'a Verdict) -> Option<(&'a str, Cow<'a, str>)> + Sync + 'a;

/// The verdict columns ([`VERDICT_COLUMNS`], in order) of the verdicts in `chunks`, in one
/// group of rows per thread of `threads` (whole chunks each), built side by side: `(first
/// row, columns)` per group. Building them is memory-bound (a verdict is read once; the
/// columns of a million tokens take tens of megabytes), so each group is one pass, with
/// room reserved up front (untouched reserved pages cost nothing) so that no column is
/// copied as it grows.
pub fn verdict_columns<'a>(
    chunks: &'a [Chunk],
    error: &ErrorOf<'a>,
    threads: usize,
) -> Vec<(usize, Vec<ArrayRef>)> {
    let groups = if chunks.len() < 4 {
        1
    } else {
        threads.clamp(1, chunks.len())
    };
    let per = chunks.len().div_ceil(groups).max(1);
    let build = |g: usize| {
        let first_chunk = g * per;
        let part = &chunks[first_chunk.min(chunks.len())..((g + 1) * per).min(chunks.len())];
        (first_chunk * CHUNK, group_columns(part, first_chunk, error))
    };
    let count = chunks.len().div_ceil(per).max(1);
    if count == 1 {
        return vec![build(0)];
    }
    pool(threads).install(|| {
        (0..count)
            .into_par_iter()
            .with_max_len(1)
            .map(build)
            .collect()
    })
}

/// The verdict columns of `chunks`, the first of which is chunk `first_chunk` of the batch.
fn group_columns<'a>(
    chunks: &'a [Chunk],
    first_chunk: usize,
    error: &ErrorOf<'a>,
) -> Vec<ArrayRef> {
    let rows: usize = chunks.iter().map(|c| c.verdicts.len()).sum();
    let text: usize = chunks.iter().map(Chunk::text_bytes).sum();
    let mut valid = BooleanBuilder::with_capacity(rows);
    let mut name = StringBuilder::with_capacity(rows, rows * 24);
    let mut reason = StringBuilder::with_capacity(rows, rows * 48);
    let mut fields: [StringBuilder; 4] =
        std::array::from_fn(|_| StringBuilder::with_capacity(rows, text));
    let mut exp = Float64Builder::with_capacity(rows);
    let mut iat = Float64Builder::with_capacity(rows);
    for (c, chunk) in chunks.iter().enumerate() {
        let first = (first_chunk + c) * CHUNK;
        for (j, v) in chunk.verdicts.iter().enumerate() {
            let e = error(first + j, v);
            valid.append_value(e.is_none());
            name.append_option(e.as_ref().map(|e| e.0));
            reason.append_option(e.as_ref().map(|e| e.1.as_ref()));
            for (b, span) in fields.iter_mut().zip([v.kid, v.iss, v.sub, v.aud]) {
                b.append_option(span.map(|s| chunk.text(s)));
            }
            exp.append_option(v.exp);
            iat.append_option(v.iat);
        }
    }
    let [kid, iss, sub, aud] = fields.map(|mut b| Arc::new(b.finish()) as ArrayRef);
    vec![
        Arc::new(valid.finish()),
        Arc::new(name.finish()),
        Arc::new(reason.finish()),
        kid,
        iss,
        sub,
        aud,
        Arc::new(exp.finish()),
        Arc::new(iat.finish()),
    ]
}

/// A batch of `index` (from `first`) and the verdict columns.
pub fn verdict_batch(first: i64, columns: &[ArrayRef]) -> Result<RecordBatch, ArrowError> {
    let rows = columns.first().map_or(0, |c| c.len()) as i64;
    let index: ArrayRef = Arc::new(Int64Array::from_iter_values(first..first + rows));
    let mut all = vec![index];
    all.extend(columns.iter().cloned());
    RecordBatch::try_new(verdict_schema(), all)
}

// ---------------------------------------------------------------------------- input

/// Why a column cannot be read: its type.
#[derive(Debug)]
pub struct UnsupportedType(pub DataType);

/// The tokens of a string or binary array (UTF-8, large, view, or dictionary-encoded),
/// appended to `out`, borrowed from the array (None for a null).
pub fn token_slices<'a>(
    array: &'a dyn Array,
    out: &mut Vec<Option<&'a [u8]>>,
) -> Result<(), UnsupportedType> {
    fn each<'a>(
        array: &'a dyn Array,
        value: impl Fn(usize) -> &'a [u8],
        out: &mut Vec<Option<&'a [u8]>>,
    ) {
        out.extend((0..array.len()).map(|i| array.is_valid(i).then(|| value(i))));
    }
    match array.data_type() {
        DataType::Utf8 => {
            let a = array.as_string::<i32>();
            each(array, |i| a.value(i).as_bytes(), out)
        }
        DataType::LargeUtf8 => {
            let a = array.as_string::<i64>();
            each(array, |i| a.value(i).as_bytes(), out)
        }
        DataType::Utf8View => {
            let a = array.as_string_view();
            each(array, |i| a.value(i).as_bytes(), out)
        }
        DataType::Binary => {
            let a = array.as_binary::<i32>();
            each(array, |i| a.value(i), out)
        }
        DataType::LargeBinary => {
            let a = array.as_binary::<i64>();
            each(array, |i| a.value(i), out)
        }
        DataType::BinaryView => {
            let a = array.as_binary_view();
            each(array, |i| a.value(i), out)
        }
        DataType::Dictionary(_, _) => {
            let dict = array
                .as_any_dictionary_opt()
                .ok_or_else(|| UnsupportedType(array.data_type().clone()))?;
            let mut values = Vec::with_capacity(dict.values().len());
            token_slices(dict.values().as_ref(), &mut values)?;
            if values.is_empty() {
                // (no values: every row is null; `normalized_keys` needs one)
                out.extend((0..array.len()).map(|_| None));
                return Ok(());
            }
            let keys = dict.normalized_keys();
            out.extend(keys.iter().enumerate().map(|(i, &k)| {
                if array.is_valid(i) {
                    values.get(k).copied().flatten()
                } else {
                    None
                }
            }));
        }
        other => return Err(UnsupportedType(other.clone())),
    }
    Ok(())
}

/// The request times of a column, in epoch seconds, appended to `out`: a timestamp (any unit;
/// the instant, whatever its time zone), a date, an integer or float number of seconds, or
/// text under the one time parser ([`time::parse_time`]). A null, or text that is not a
/// time, is NaN: the token gets a malformed verdict saying so.
pub fn times(array: &dyn Array, out: &mut Vec<f64>) -> Result<(), UnsupportedType> {
    fn each(array: &dyn Array, value: impl Fn(usize) -> f64, out: &mut Vec<f64>) {
        out.extend((0..array.len()).map(|i| {
            if array.is_valid(i) {
                value(i)
            } else {
                f64::NAN
            }
        }));
    }
    macro_rules! numbers {
        ($t:ty, $scale:expr) => {{
            let a = array.as_primitive::<$t>();
            each(array, |i| a.value(i) as f64 / $scale, out)
        }};
    }
    fn text(s: &str) -> f64 {
        time::parse_time(s).unwrap_or(f64::NAN)
    }
    match array.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => numbers!(TimestampSecondType, 1.0),
        DataType::Timestamp(TimeUnit::Millisecond, _) => numbers!(TimestampMillisecondType, 1e3),
        DataType::Timestamp(TimeUnit::Microsecond, _) => numbers!(TimestampMicrosecondType, 1e6),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => numbers!(TimestampNanosecondType, 1e9),
        DataType::Date32 => numbers!(Date32Type, 1.0 / 86400.0),
        DataType::Date64 => numbers!(Date64Type, 1e3),
        DataType::Int8 => numbers!(Int8Type, 1.0),
        DataType::Int16 => numbers!(Int16Type, 1.0),
        DataType::Int32 => numbers!(Int32Type, 1.0),
        DataType::Int64 => numbers!(Int64Type, 1.0),
        DataType::UInt8 => numbers!(UInt8Type, 1.0),
        DataType::UInt16 => numbers!(UInt16Type, 1.0),
        DataType::UInt32 => numbers!(UInt32Type, 1.0),
        DataType::UInt64 => numbers!(UInt64Type, 1.0),
        DataType::Float32 => numbers!(Float32Type, 1.0),
        DataType::Float64 => numbers!(Float64Type, 1.0),
        DataType::Utf8 => {
            let a = array.as_string::<i32>();
            each(array, |i| text(a.value(i)), out)
        }
        DataType::LargeUtf8 => {
            let a = array.as_string::<i64>();
            each(array, |i| text(a.value(i)), out)
        }
        DataType::Utf8View => {
            let a = array.as_string_view();
            each(array, |i| text(a.value(i)), out)
        }
        other => return Err(UnsupportedType(other.clone())),
    }
    Ok(())
}

// ---------------------------------------------------------------------------- reports

/// How a number of seconds reads in a report: as an integer when it is one (below 9e15, as
/// Python holds it), else as a float in `style`.
#[derive(Clone, Copy)]
enum FloatStyle {
    /// orjson's: `1.5e-7`, `1e+16`, `0.00001`; NaN and infinities `null`.
    Json,
    /// Python's `repr`: `1.5e-07`, `1e+16`, `1e-05`; `nan`, `inf`, `-inf`.
    Python,
}

fn write_seconds(out: &mut Vec<u8>, v: f64, style: FloatStyle) {
    if v.fract() == 0.0 && v.abs() < 9e15 {
        out.extend_from_slice(itoa::Buffer::new().format(v as i64).as_bytes());
        return;
    }
    if !v.is_finite() {
        let text = match style {
            FloatStyle::Json => "null",
            FloatStyle::Python if v.is_nan() => "nan",
            FloatStyle::Python if v > 0.0 => "inf",
            FloatStyle::Python => "-inf",
        };
        out.extend_from_slice(text.as_bytes());
        return;
    }
    // The shortest digits that read back as `v` (Rust's LowerExp): "d.ddde±x".
    let sci = format!("{:e}", v.abs());
    let (mantissa, exp) = sci.split_once('e').expect("LowerExp has an exponent");
    let exp: i32 = exp.parse().expect("LowerExp's exponent is an integer");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if v < 0.0 {
        out.push(b'-');
    }
    let low = match style {
        FloatStyle::Json => -6,
        FloatStyle::Python => -5,
    };
    let mut s = String::new();
    if exp <= low || exp >= 16 {
        s.push_str(&digits[..1]);
        if digits.len() > 1 {
            s.push('.');
            s.push_str(&digits[1..]);
        }
        let sign = if exp < 0 { '-' } else { '+' };
        match style {
            FloatStyle::Json => write!(s, "e{sign}{}", exp.abs()),
            FloatStyle::Python => write!(s, "e{sign}{:02}", exp.abs()),
        }
        .expect("writing to a String");
    } else if exp < 0 {
        s.push_str("0.");
        s.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
        s.push_str(&digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            s.push_str(&digits);
            s.extend(std::iter::repeat_n('0', int_len - digits.len()));
            s.push_str(".0");
        } else {
            s.push_str(&digits[..int_len]);
            s.push('.');
            s.push_str(&digits[int_len..]);
        }
    }
    out.extend_from_slice(s.as_bytes());
}

/// A JSON string as orjson writes it: `"` and `\` escaped, the C0 controls as `\b \t \n \f
/// \r` or `\u00XX`, everything else (DEL, non-ASCII) as is.
fn write_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            b'\t' => b't',
            b'\n' => b'n',
            0x0c => b'f',
            b'\r' => b'r',
            0..=0x1f => 0,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if short == 0 {
            write!(HexOut(out), "\\u{b:04x}").expect("writing to a Vec");
        } else {
            out.extend_from_slice(&[b'\\', short]);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

struct HexOut<'a>(&'a mut Vec<u8>);
impl std::fmt::Write for HexOut<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// A spreadsheet reads a cell that starts with one of these as a formula (OWASP, "CSV
/// Injection"): `= + - @`, tab and carriage return. (Python's `FORMULA_START`.)
pub const FORMULA_START: [u8; 6] = [b'=', b'+', b'-', b'@', b'\t', b'\r'];

/// A text cell as the CSV report writes it: always quoted (quotes doubled), with a `'`
/// before text a spreadsheet would take for a formula.
fn write_csv_text(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    if s.as_bytes()
        .first()
        .is_some_and(|b| FORMULA_START.contains(b))
    {
        out.push(b'\'');
    }
    let mut start = 0;
    for i in memchr::memchr_iter(b'"', s.as_bytes()) {
        out.extend_from_slice(&s.as_bytes()[start..=i]);
        out.push(b'"');
        start = i + 1;
    }
    out.extend_from_slice(&s.as_bytes()[start..]);
    out.push(b'"');
}

/// One column of a report, typed once.
enum Cells<'a> {
    Int(&'a Int64Array),
    Bool(&'a arrow_array::BooleanArray),
    Text(&'a arrow_array::StringArray),
    Seconds(&'a arrow_array::Float64Array),
}

fn cells(batch: &RecordBatch) -> Result<Vec<(&str, Cells<'_>)>, ArrowError> {
    let schema = batch.schema_ref();
    schema
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(f, c)| {
            let cells = match c.data_type() {
                DataType::Int64 => Cells::Int(c.as_primitive::<Int64Type>()),
                DataType::Boolean => Cells::Bool(c.as_boolean()),
                DataType::Utf8 => Cells::Text(c.as_string::<i32>()),
                DataType::Float64 => Cells::Seconds(c.as_primitive::<Float64Type>()),
                other => {
                    return Err(ArrowError::InvalidArgumentError(format!(
                        "report column {} has type {other}",
                        f.name()
                    )))
                }
            };
            Ok((f.name().as_str(), cells))
        })
        .collect()
}

/// The rows of a report batch as JSON lines, as `orjson.dumps(dict(row))` writes each: the
/// column names as keys in order, null for a null, `true`/`false`, integers, and float64
/// seconds as an integer when they are one (else orjson's float).
pub fn report_jsonl(batch: &RecordBatch, out: &mut Vec<u8>) -> Result<(), ArrowError> {
    let columns = cells(batch)?;
    let keys: Vec<Vec<u8>> = columns
        .iter()
        .map(|(name, _)| {
            let mut k = Vec::new();
            write_json_str(&mut k, name);
            k.push(b':');
            k
        })
        .collect();
    for row in 0..batch.num_rows() {
        out.push(b'{');
        for (j, (_, cells)) in columns.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&keys[j]);
            let null = match cells {
                Cells::Int(a) => a.is_null(row),
                Cells::Bool(a) => a.is_null(row),
                Cells::Text(a) => a.is_null(row),
                Cells::Seconds(a) => a.is_null(row),
            };
            if null {
                out.extend_from_slice(b"null");
                continue;
            }
            match cells {
                Cells::Int(a) => {
                    out.extend_from_slice(itoa::Buffer::new().format(a.value(row)).as_bytes())
                }
                Cells::Bool(a) => {
                    out.extend_from_slice(if a.value(row) { b"true" } else { b"false" })
                }
                Cells::Text(a) => write_json_str(out, a.value(row)),
                Cells::Seconds(a) => write_seconds(out, a.value(row), FloatStyle::Json),
            }
        }
        out.extend_from_slice(b"}\n");
    }
    Ok(())
}

/// The rows of a report batch as CSV, as Python's `csv.writer(quoting=QUOTE_NONNUMERIC)`
/// writes the report's cells: text quoted and formula-guarded (see [`write_csv_text`]), a
/// null as `""`, booleans as `"true"`/`"false"`, numbers bare (seconds as an integer when
/// they are one, else Python's float repr), lines ending in CRLF.
pub fn report_csv(batch: &RecordBatch, out: &mut Vec<u8>) -> Result<(), ArrowError> {
    let columns = cells(batch)?;
    for row in 0..batch.num_rows() {
        for (j, (_, cells)) in columns.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            match cells {
                Cells::Int(a) if a.is_valid(row) => {
                    out.extend_from_slice(itoa::Buffer::new().format(a.value(row)).as_bytes())
                }
                Cells::Bool(a) if a.is_valid(row) => out.extend_from_slice(if a.value(row) {
                    b"\"true\""
                } else {
                    b"\"false\""
                }),
                Cells::Text(a) if a.is_valid(row) => write_csv_text(out, a.value(row)),
                Cells::Seconds(a) if a.is_valid(row) => {
                    write_seconds(out, a.value(row), FloatStyle::Python)
                }
                _ => out.extend_from_slice(b"\"\""),
            }
        }
        out.extend_from_slice(b"\r\n");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seconds(v: f64, style: FloatStyle) -> String {
        let mut out = Vec::new();
        write_seconds(&mut out, v, style);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn seconds_as_orjson_and_python_write_them() {
        for (v, json, python) in [
            (1_700_000_000.0, "1700000000", "1700000000"),
            (1_700_000_000.5, "1700000000.5", "1700000000.5"),
            (-5.0, "-5", "-5"),
            (1e16, "1e+16", "1e+16"),
            (9.5e15, "9500000000000000.0", "9500000000000000.0"),
            (
                1.2345678901234567e20,
                "1.2345678901234567e+20",
                "1.2345678901234567e+20",
            ),
            (1.5e-7, "1.5e-7", "1.5e-07"),
            (1e-5, "0.00001", "1e-05"),
            (1e-6, "1e-6", "1e-06"),
            (0.0001, "0.0001", "0.0001"),
            (-0.5, "-0.5", "-0.5"),
            (f64::INFINITY, "null", "inf"),
            (f64::NEG_INFINITY, "null", "-inf"),
            (
                1.7976931348623157e308,
                "1.7976931348623157e+308",
                "1.7976931348623157e+308",
            ),
        ] {
            assert_eq!(seconds(v, FloatStyle::Json), json, "{v}");
            assert_eq!(seconds(v, FloatStyle::Python), python, "{v}");
        }
    }

    #[test]
    fn json_strings_escaped_as_orjson_does() {
        let mut out = Vec::new();
        write_json_str(
            &mut out,
            "a\"b\\c\u{0}\u{8}\t\n\u{b}\u{c}\r\u{1b}\u{7f}\u{2028}é",
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a\\\"b\\\\c\\u0000\\b\\t\\n\\u000b\\f\\r\\u001b\u{7f}\u{2028}é\""
        );
    }

    #[test]
    fn csv_text_quoted_and_formula_guarded() {
        let mut out = Vec::new();
        for s in ["a\"b", "=cmd|x", "-", "@k", "\tx", "plain"] {
            write_csv_text(&mut out, s);
            out.push(b' ');
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a\"\"b\" \"'=cmd|x\" \"'-\" \"'@k\" \"'\tx\" \"plain\" "
        );
    }

    #[test]
    fn token_and_time_columns() {
        use arrow_array::{DictionaryArray, Float64Array, StringArray, TimestampMillisecondArray};
        let tokens = StringArray::from(vec![Some("a.b.c"), None, Some("x")]);
        let mut out = Vec::new();
        token_slices(&tokens, &mut out).unwrap();
        assert_eq!(out, [Some(&b"a.b.c"[..]), None, Some(&b"x"[..])]);
        let dict: DictionaryArray<Int32Type> =
            vec![Some("t"), None, Some("t")].into_iter().collect();
        let mut out = Vec::new();
        token_slices(&dict, &mut out).unwrap();
        assert_eq!(out, [Some(&b"t"[..]), None, Some(&b"t"[..])]);
        assert!(token_slices(&Float64Array::from(vec![1.0]), &mut Vec::new()).is_err());

        let mut t = Vec::new();
        times(
            &TimestampMillisecondArray::from(vec![Some(1_500), None]).with_timezone("+01:00"),
            &mut t,
        )
        .unwrap();
        times(
            &StringArray::from(vec!["1970-01-02T00:00:00Z", "soon", "12.5"]),
            &mut t,
        )
        .unwrap();
        assert_eq!(t[0], 1.5);
        assert!(t[1].is_nan() && t[2] == 86400.0 && t[3].is_nan() && t[4] == 12.5);
    }
}
