//! Where a reader following the product table stands: a position in commit order, not an id.
//!
//! Ids are drawn before a transaction commits, so rows become visible out of id order (two
//! import batches side by side, two replicas). A position is (writer, id): on PostgreSQL the
//! writing transaction's id, read only below the oldest transaction still running, so no row
//! can later appear behind a position already handed out; on SQLite one writer commits at a
//! time and ids follow commit order, so the writer part is always 0.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Position {
    pub writer: i64,
    pub id: i64,
}

impl Position {
    /// Before every row.
    pub const START: Position = Position { writer: 0, id: 0 };
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.writer, self.id)
    }
}

/// `0` (the start) or `WRITER.ID` as a page's `next` gave it.
impl FromStr for Position {
    type Err = String;

    fn from_str(s: &str) -> Result<Position, String> {
        const RULE: &str = "must be 0 (from the start) or the `next` of a previous page";
        let s = s.trim();
        if s == "0" {
            return Ok(Position::START);
        }
        let (w, i) = s.split_once('.').ok_or(RULE)?;
        let number = |t: &str| {
            (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
                .then(|| t.parse::<i64>().ok())
                .flatten()
        };
        match (number(w), number(i)) {
            (Some(writer), Some(id)) => Ok(Position { writer, id }),
            _ => Err(RULE.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Position;

    #[test]
    fn positions_round_trip_and_order_by_writer_first() {
        let p: Position = "812.77".parse().unwrap();
        assert_eq!(
            p,
            Position {
                writer: 812,
                id: 77
            }
        );
        assert_eq!(p.to_string().parse::<Position>().unwrap(), p);
        assert_eq!("0".parse::<Position>().unwrap(), Position::START);
        assert!(Position { writer: 1, id: 5 } > Position { writer: 0, id: 900 });
        for bad in [
            "",
            "1",
            "-1.2",
            "1.-2",
            "a.b",
            "1.2.3",
            "99999999999999999999.1",
        ] {
            assert!(bad.parse::<Position>().is_err(), "{bad}");
        }
    }
}
