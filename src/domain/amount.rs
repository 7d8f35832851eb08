//! Exact money: an amount is a whole number of cents, never a binary float.

use std::fmt;
use std::str::FromStr;

/// Upper bound (exclusive) of an amount, in cents: 10^12 currency units.
const MAX_CENTS: i64 = 1_000_000_000_000 * 100;

/// Largest exponent magnitude accepted in `1e3` notation.
const MAX_EXPONENT: i32 = 20;

/// A non-negative money amount with at most two decimals, stored as cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(i64);

impl Amount {
    pub fn from_cents(cents: i64) -> Result<Self, &'static str> {
        if cents < 0 {
            return Err("must be >= 0");
        }
        if cents >= MAX_CENTS {
            return Err("must be below 10^12");
        }
        Ok(Amount(cents))
    }

    pub fn cents(self) -> i64 {
        self.0
    }

    /// Reads a JSON number exactly as written (`59.99`, `1e2`), without going through f64.
    pub fn from_json_number(n: &serde_json::Number) -> Result<Self, &'static str> {
        n.to_string().parse()
    }

    /// The value as a JSON number, for output only (the contract's JSON has numbers there).
    /// Below 10^12 with two decimals it has at most 15 significant digits, so the shortest
    /// f64 representation prints back exactly as the decimal (`59.99`, `10.0`).
    pub fn to_json_number(self) -> serde_json::Number {
        let f: f64 = self.to_string().parse().unwrap_or(0.0);
        serde_json::Number::from_f64(f).unwrap_or_else(|| serde_json::Number::from(0))
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl FromStr for Amount {
    type Err = &'static str;

    /// Accepts plain decimals and exponent notation, as a JSON number may be written.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err("is required");
        }
        // `12,50` in a country that writes decimals with a comma (BRL is the default).
        if s.contains(',') {
            return Err("must be a number with a dot for decimals (12.50), not a comma");
        }
        let lower = s.to_ascii_lowercase();
        if matches!(
            lower.trim_start_matches(['+', '-']),
            "nan" | "inf" | "infinity"
        ) {
            return Err("must be a finite number");
        }
        let (mantissa, exp) = match lower.split_once('e') {
            Some((m, e)) => (m, e.parse::<i32>().map_err(|_| "must be a number")?),
            None => (lower.as_str(), 0),
        };
        // Bounded before any digits are shifted: `1e-999999999` would otherwise ask for a
        // string of a billion zeros.
        if !(-MAX_EXPONENT..=MAX_EXPONENT).contains(&exp) {
            return Err("must have an exponent from -20 to 20");
        }
        let (negative, digits) = match mantissa.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, mantissa.strip_prefix('+').unwrap_or(mantissa)),
        };
        let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if (int_part.is_empty() && frac_part.is_empty())
            || !all_digits(int_part)
            || !all_digits(frac_part)
        {
            return Err("must be a number");
        }
        // Shift the decimal point by the exponent, working on the digit string.
        let mut all: String = format!("{int_part}{frac_part}");
        let mut point = int_part.len() as i64 + i64::from(exp);
        if point < 0 {
            all.insert_str(0, &"0".repeat((-point) as usize));
            point = 0;
        }
        let point = point as usize;
        if point > all.len() {
            if point > 64 {
                return Err("must be below 10^12");
            }
            all.push_str(&"0".repeat(point - all.len()));
        }
        let (whole, frac) = all.split_at(point);
        let frac_trimmed = frac.trim_end_matches('0');
        if frac_trimmed.len() > 2 {
            return Err("must have at most 2 decimals");
        }
        let whole = whole.trim_start_matches('0');
        if whole.len() > 13 {
            return Err("must be below 10^12");
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| "must be a number")?
        };
        let frac: i64 = format!("{frac_trimmed:0<2}")
            .parse()
            .map_err(|_| "must be a number")?;
        let cents = whole
            .checked_mul(100)
            .and_then(|c| c.checked_add(frac))
            .ok_or("must be below 10^12")?;
        if negative && cents != 0 {
            return Err("must be >= 0");
        }
        Amount::from_cents(cents)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_decimals() {
        assert_eq!("59.99".parse::<Amount>().unwrap().cents(), 5999);
        assert_eq!("0.1".parse::<Amount>().unwrap().cents(), 10);
        assert_eq!("1e2".parse::<Amount>().unwrap().cents(), 10000);
        assert_eq!("1.5E-1".parse::<Amount>().unwrap().cents(), 15);
        assert_eq!("0".parse::<Amount>().unwrap().cents(), 0);
        assert_eq!("-0".parse::<Amount>().unwrap().cents(), 0);
        assert_eq!("10.100".parse::<Amount>().unwrap().cents(), 1010);
        assert_eq!(
            "999999999999.99".parse::<Amount>().unwrap().cents(),
            99_999_999_999_999
        );
    }

    #[test]
    fn rejects_with_reason() {
        assert_eq!(
            "1.001".parse::<Amount>(),
            Err("must have at most 2 decimals")
        );
        assert_eq!("-0.01".parse::<Amount>(), Err("must be >= 0"));
        assert_eq!(
            "1000000000000".parse::<Amount>(),
            Err("must be below 10^12")
        );
        assert_eq!(
            "1e300".parse::<Amount>(),
            Err("must have an exponent from -20 to 20")
        );
        assert_eq!(
            "1e-999999999".parse::<Amount>(),
            Err("must have an exponent from -20 to 20"),
            "refused before any work proportional to the exponent"
        );
        assert_eq!("1e20".parse::<Amount>(), Err("must be below 10^12"));
        assert_eq!("1e3".parse::<Amount>().unwrap().cents(), 100_000);
        assert_eq!("NaN".parse::<Amount>(), Err("must be a finite number"));
        assert_eq!("abc".parse::<Amount>(), Err("must be a number"));
        assert_eq!("".parse::<Amount>(), Err("is required"));
        assert!(
            "12,50"
                .parse::<Amount>()
                .unwrap_err()
                .contains("dot for decimals")
        );
        assert_eq!(".".parse::<Amount>(), Err("must be a number"));
    }

    #[test]
    fn sums_stay_exact() {
        let a: Amount = "0.1".parse().unwrap();
        let b: Amount = "0.2".parse().unwrap();
        assert_eq!(
            Amount::from_cents(a.cents() + b.cents())
                .unwrap()
                .to_string(),
            "0.30"
        );
    }

    #[test]
    fn json_number_round_trips() {
        let n: serde_json::Number = serde_json::from_str("59.99").unwrap();
        let a = Amount::from_json_number(&n).unwrap();
        assert_eq!(a.to_json_number().to_string(), "59.99");
    }

    #[test]
    fn json_numbers_are_read_as_written_not_through_f64() {
        let v: serde_json::Value = serde_json::from_str(r#"{"a": 1.0000000000000001}"#).unwrap();
        let serde_json::Value::Number(n) = &v["a"] else {
            panic!("a number")
        };
        assert_eq!(
            Amount::from_json_number(n),
            Err("must have at most 2 decimals")
        );
    }
}
