//! Values an expression evaluates to, and Java's comparison rules for them
//! (`ComparisonExpression.__compare` with string conversion on, as the broker parses).
//!
//! Message properties are always strings; literals are Integer (when the decimal fits 32
//! bits), Long, Double, String, Boolean or NULL. Mixed comparisons widen numbers, parse a
//! string against a number or boolean, and a string that does not parse is an evaluation
//! error (Java throws), which makes the whole record not match.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::EvalError;

#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    Double(f64),
    Str(Cow<'a, str>),
}

impl Value<'_> {
    /// Java's `equals`: same class and same value (`Double.equals` compares bits, so NaN
    /// equals NaN and 0.0 differs from -0.0).
    pub fn java_equals(&self, other: &Value<'_>) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Long(a), Value::Long(b)) => a == b,
            (Value::Double(a), Value::Double(b)) => canonical_bits(*a) == canonical_bits(*b),
            (Value::Str(a), Value::Str(b)) => a == b,
            _ => false,
        }
    }
}

fn canonical_bits(value: f64) -> u64 {
    if value.is_nan() {
        f64::NAN.to_bits()
    } else {
        value.to_bits()
    }
}

/// `Double.compare`: NaN above everything (and equal to itself), -0.0 below 0.0.
pub fn java_double_cmp(a: f64, b: f64) -> Ordering {
    match a.partial_cmp(&b) {
        Some(Ordering::Equal) | None => {
            let (a, b) = (canonical_bits(a) as i64, canonical_bits(b) as i64);
            a.cmp(&b)
        }
        Some(order) => order,
    }
}

/// `__compare(lv, rv, true)`: both non-null.
pub fn java_compare(left: &Value<'_>, right: &Value<'_>) -> Result<Ordering, EvalError> {
    use Value::*;
    let less = Ok(Ordering::Less); // Java answers -1 for classes it cannot convert.
    match (left, right) {
        (Bool(a), Bool(b)) => Ok(a.cmp(b)),
        (Int(a), Int(b)) => Ok(a.cmp(b)),
        (Long(a), Long(b)) => Ok(a.cmp(b)),
        (Double(a), Double(b)) => Ok(java_double_cmp(*a, *b)),
        (Str(a), Str(b)) => Ok(java_string_cmp(a, b)),
        // Java casts the Boolean to String here and fails with ClassCastException.
        (Bool(_), Str(_)) => Err(EvalError::new("a boolean cannot be compared with a string")),
        (Bool(_), _) => less,
        (Int(a), Long(b)) => Ok(i64::from(*a).cmp(b)),
        (Int(a), Double(b)) => Ok(java_double_cmp(f64::from(*a), *b)),
        (Int(a), Str(b)) => Ok(a.cmp(&parse_int(b)?)),
        (Long(a), Int(b)) => Ok(a.cmp(&i64::from(*b))),
        (Long(a), Double(b)) => Ok(java_double_cmp(*a as f64, *b)),
        (Long(a), Str(b)) => Ok(a.cmp(&parse_long(b)?)),
        (Double(a), Int(b)) => Ok(java_double_cmp(*a, f64::from(*b))),
        (Double(a), Long(b)) => Ok(java_double_cmp(*a, *b as f64)),
        (Double(a), Str(b)) => Ok(java_double_cmp(*a, parse_double(b)?)),
        (Str(a), Bool(b)) => Ok(a.eq_ignore_ascii_case("true").cmp(b)),
        (Str(a), Int(b)) => Ok(parse_int(a)?.cmp(b)),
        (Str(a), Long(b)) => Ok(parse_long(a)?.cmp(b)),
        (Str(a), Double(b)) => Ok(java_double_cmp(parse_double(a)?, *b)),
        (Int(_) | Long(_) | Double(_), Bool(_)) => less,
        (Null, _) | (_, Null) => less, // Callers handle null first.
    }
}

/// `String.compareTo` orders by UTF-16 code units.
fn java_string_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// `Integer.valueOf(String)`: an optional sign and ASCII digits, nothing else.
pub fn parse_int(text: &str) -> Result<i32, EvalError> {
    check_integer_syntax(text)?;
    text.parse()
        .map_err(|_| EvalError::new(format!("For input string: \"{text}\"")))
}

/// `Long.valueOf(String)`.
pub fn parse_long(text: &str) -> Result<i64, EvalError> {
    check_integer_syntax(text)?;
    text.parse()
        .map_err(|_| EvalError::new(format!("For input string: \"{text}\"")))
}

fn check_integer_syntax(text: &str) -> Result<(), EvalError> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EvalError::new(format!("For input string: \"{text}\"")));
    }
    Ok(())
}

/// `Double.valueOf(String)`: surrounding control characters and spaces trimmed, an
/// optional sign, `NaN`, `Infinity`, or a decimal with optional exponent and an optional
/// `f`/`d` suffix. (Java's hexadecimal floats are not accepted.)
pub fn parse_double(text: &str) -> Result<f64, EvalError> {
    let bad = || EvalError::new(format!("For input string: \"{text}\""));
    let trimmed = text.trim_matches(|c: char| c <= ' ');
    let (negative, unsigned) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let magnitude = match unsigned {
        "NaN" => f64::NAN,
        "Infinity" => f64::INFINITY,
        _ => {
            let number = unsigned
                .strip_suffix(['f', 'F', 'd', 'D'])
                .unwrap_or(unsigned);
            // Only digits, one '.', and an exponent: Rust's parser also takes "inf"/"nan".
            let mantissa_end = number.find(['e', 'E']).unwrap_or(number.len());
            let (mantissa, exponent) = number.split_at(mantissa_end);
            let digits = mantissa.bytes().filter(u8::is_ascii_digit).count();
            let dots = mantissa.bytes().filter(|b| *b == b'.').count();
            if digits == 0 || digits + dots != mantissa.len() || dots > 1 {
                return Err(bad());
            }
            if !exponent.is_empty() {
                let e = exponent[1..]
                    .strip_prefix(['+', '-'])
                    .unwrap_or(&exponent[1..]);
                if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad());
                }
            }
            number.parse::<f64>().map_err(|_| bad())?
        }
    };
    Ok(if negative { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_number_parsing() {
        assert_eq!(parse_int("+12").unwrap(), 12);
        assert!(parse_int("1.0").is_err());
        assert!(parse_int(" 1").is_err());
        assert!(parse_int("2147483648").is_err());
        assert_eq!(parse_long("2147483648").unwrap(), 2147483648);
        assert_eq!(parse_double(" 1.5d ").unwrap(), 1.5);
        assert_eq!(parse_double("-Infinity").unwrap(), f64::NEG_INFINITY);
        assert!(parse_double("NaN").unwrap().is_nan());
        assert!(parse_double("inf").is_err());
        assert!(parse_double("1e").is_err());
        assert!(parse_double(".").is_err());
        assert_eq!(parse_double("5.").unwrap(), 5.0);
    }

    #[test]
    fn mixed_comparisons_follow_java() {
        let s = |t: &'static str| Value::Str(Cow::Borrowed(t));
        assert_eq!(
            java_compare(&s("3"), &Value::Int(3)).unwrap(),
            Ordering::Equal
        );
        assert!(java_compare(&s("3.5"), &Value::Int(3)).is_err());
        assert_eq!(
            java_compare(&s("3.5"), &Value::Double(3.0)).unwrap(),
            Ordering::Greater
        );
        assert_eq!(
            java_compare(&s("TRUE"), &Value::Bool(true)).unwrap(),
            Ordering::Equal
        );
        assert!(java_compare(&Value::Bool(true), &s("true")).is_err());
        assert_eq!(
            java_compare(&Value::Int(1), &Value::Bool(true)).unwrap(),
            Ordering::Less
        );
        assert_eq!(java_double_cmp(-0.0, 0.0), Ordering::Less);
        assert_eq!(java_double_cmp(f64::NAN, f64::INFINITY), Ordering::Greater);
    }
}
