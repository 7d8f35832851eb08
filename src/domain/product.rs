//! A product as typed by a person or sent by a client, and the rules that make it valid.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Amount;

/// An ISO 4217 currency code from the real list, e.g. `BRL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    pub fn parse(code: &str) -> Result<Self, &'static str> {
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err("must be an ISO 4217 code of 3 upper-case letters, e.g. BRL");
        }
        iso_currency::Currency::from_code(code)
            .map(Currency)
            .ok_or("is not an ISO 4217 currency code")
    }

    pub fn code(&self) -> &'static str {
        self.0.code()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One failing field: its name in the contract's JSON and the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.field, self.message)
    }
}

/// Every failing field of a draft, in form order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct ValidationErrors(pub Vec<FieldError>);

/// The raw text of each field, as typed in the form or read from a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductDraft {
    pub name: String,
    pub description: String,
    pub category: String,
    pub amount: String,
    pub currency: String,
    pub quantity: String,
}

/// A product that passed every rule; the only input the store accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProduct {
    pub name: String,
    pub description: String,
    pub category: String,
    pub amount: Amount,
    pub currency: Currency,
    pub quantity: i32,
}

pub const NAME: &str = "name";
pub const DESCRIPTION: &str = "description";
pub const CATEGORY: &str = "category";
pub const AMOUNT: &str = "pricing.ammount";
pub const CURRENCY: &str = "pricing.currency";
pub const QUANTITY: &str = "availability.quantity";

/// Control characters corrupt terminals and logs, and NUL cannot be stored in PostgreSQL
/// text; multi-line fields may still hold line breaks and tabs.
fn text(value: &str, min: usize, max: usize, multi_line: bool) -> Result<(), String> {
    let allowed = |c: char| multi_line && matches!(c, '\n' | '\r' | '\t');
    if value.chars().any(|c| c.is_control() && !allowed(c)) {
        return Err(if multi_line {
            "must not contain control characters other than line breaks and tabs".into()
        } else {
            "must not contain control characters (tabs, line breaks, NUL...)".into()
        });
    }
    let len = value.chars().count();
    if len == 0 && min > 0 {
        return Err("is required".into());
    }
    if len < min || len > max {
        return Err(format!("must be {min}-{max} characters (got {len})"));
    }
    if !multi_line && value.trim().is_empty() {
        return Err("must not be blank".into());
    }
    Ok(())
}

pub fn check_name(v: &str) -> Result<(), String> {
    text(v, 1, 200, false)
}
pub fn check_description(v: &str) -> Result<(), String> {
    text(v, 0, 2000, true)
}
pub fn check_category(v: &str) -> Result<(), String> {
    text(v, 1, 100, false)
}
pub fn parse_amount(v: &str) -> Result<Amount, String> {
    v.parse::<Amount>().map_err(str::to_string)
}
pub fn parse_currency(v: &str) -> Result<Currency, String> {
    Currency::parse(v).map_err(str::to_string)
}

/// Whole numbers only, written as an amount may be (`50.0`, `1e3`): the original's schema
/// sent floats, and one number syntax serves both fields.
pub fn parse_quantity(v: &str) -> Result<i32, String> {
    const RULE: &str = "must be a whole number from 0 to 2147483647";
    let v = v.trim();
    if v.is_empty() {
        return Err("is required".into());
    }
    if v.contains(['e', 'E']) {
        let a: super::Amount = v.parse().map_err(|_| RULE.to_string())?;
        let cents = a.cents();
        return match (cents % 100, cents / 100) {
            (0, q) if (0..=i64::from(i32::MAX)).contains(&q) => Ok(q as i32),
            _ => Err(RULE.into()),
        };
    }
    let whole = match v.split_once('.') {
        Some((w, f)) if !w.is_empty() && f.bytes().all(|b| b == b'0') => w,
        Some(_) => return Err(RULE.into()),
        None => v,
    };
    if whole.is_empty()
        || !whole
            .trim_start_matches(['-', '+'])
            .bytes()
            .all(|b| b.is_ascii_digit())
    {
        return Err(RULE.into());
    }
    match whole.parse::<i64>() {
        Ok(q) if (0..=i64::from(i32::MAX)).contains(&q) => Ok(q as i32),
        _ => Err(RULE.into()),
    }
}

impl ProductDraft {
    /// The rule a single field breaks, if any: used by the form to validate as you type.
    pub fn check_field(&self, field: &str) -> Option<String> {
        let r = match field {
            NAME => check_name(&self.name),
            DESCRIPTION => check_description(&self.description),
            CATEGORY => check_category(&self.category),
            AMOUNT => parse_amount(&self.amount).map(drop),
            CURRENCY => parse_currency(&self.currency).map(drop),
            QUANTITY => parse_quantity(&self.quantity).map(drop),
            _ => Ok(()),
        };
        r.err()
    }

    pub fn validate(&self) -> Result<NewProduct, ValidationErrors> {
        let mut errors = Vec::new();
        let mut note = |field: &'static str, r: Result<(), String>| {
            if let Err(message) = r {
                errors.push(FieldError { field, message });
            }
        };
        note(NAME, check_name(&self.name));
        note(DESCRIPTION, check_description(&self.description));
        note(CATEGORY, check_category(&self.category));
        let amount = parse_amount(&self.amount);
        note(AMOUNT, amount.as_ref().map(drop).map_err(Clone::clone));
        let currency = parse_currency(&self.currency);
        note(CURRENCY, currency.as_ref().map(drop).map_err(Clone::clone));
        let quantity = parse_quantity(&self.quantity);
        note(QUANTITY, quantity.as_ref().map(drop).map_err(Clone::clone));
        match (amount, currency, quantity) {
            (Ok(amount), Ok(currency), Ok(quantity)) if errors.is_empty() => Ok(NewProduct {
                name: self.name.clone(),
                description: self.description.clone(),
                category: self.category.clone(),
                amount,
                currency,
                quantity,
            }),
            _ => Err(ValidationErrors(errors)),
        }
    }
}

/// Where a product's event stands on its way to Kafka.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum PublishState {
    /// Committed in the outbox, not yet acknowledged by the broker.
    Pending,
    Published {
        partition: i32,
        offset: i64,
    },
}

/// A stored product with its pricing and availability rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub category: String,
    pub pricing_id: i64,
    pub amount: Amount,
    pub currency: String,
    pub availability_id: i64,
    pub quantity: i32,
    /// When it was registered; changes keep it.
    pub timestamp: DateTime<Utc>,
    pub publish: PublishState,
    pub revision: super::Revision,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> ProductDraft {
        ProductDraft {
            name: "Blusa".into(),
            description: "Blusa com touca".into(),
            category: "Vestuário".into(),
            amount: "59.99".into(),
            currency: "BRL".into(),
            quantity: "50".into(),
        }
    }

    #[test]
    fn valid_draft_becomes_new_product() {
        let p = good().validate().unwrap();
        assert_eq!(p.amount.cents(), 5999);
        assert_eq!(p.currency.code(), "BRL");
        assert_eq!(p.quantity, 50);
    }

    #[test]
    fn each_broken_field_is_named() {
        let d = ProductDraft {
            name: "   ".into(),
            description: "x".repeat(2001),
            category: String::new(),
            amount: "-1".into(),
            currency: "brl".into(),
            quantity: "2147483648".into(),
        };
        let errs = d.validate().unwrap_err().0;
        let fields: Vec<_> = errs.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [NAME, DESCRIPTION, CATEGORY, AMOUNT, CURRENCY, QUANTITY]
        );
        assert_eq!(errs[0].message, "must not be blank");
    }

    #[test]
    fn quantity_edges() {
        assert_eq!(parse_quantity("0"), Ok(0));
        assert_eq!(parse_quantity("2147483647"), Ok(i32::MAX));
        assert_eq!(parse_quantity("50.0"), Ok(50));
        assert!(parse_quantity("-1").is_err());
        assert!(parse_quantity("1.5").is_err());
        assert_eq!(parse_quantity(""), Err("is required".into()));
        assert_eq!(parse_quantity("1e3"), Ok(1000), "the syntax amounts take");
        assert!(parse_quantity("1.5e0").is_err());
        assert!(parse_quantity("-1e3").is_err());
    }

    #[test]
    fn currency_is_from_the_real_list() {
        assert!(Currency::parse("BRL").is_ok());
        assert!(Currency::parse("XYZ").is_err());
        assert!(Currency::parse("BR").is_err());
    }

    #[test]
    fn control_characters_are_refused() {
        assert!(check_name("a\u{0}b").is_err());
        assert!(check_name("a\tb").is_err());
        assert!(check_category("\u{1b}[31m").is_err());
        assert!(check_description("line 1\nline 2\twith tab").is_ok());
        assert!(check_description("nul \u{0}").is_err());
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        assert!(check_name(&"é".repeat(200)).is_ok());
        assert!(check_name(&"é".repeat(201)).is_err());
    }
}
