//! Where to start reading the topic, as people type it: a relative time (`-15m`, `2h`), an
//! RFC 3339 instant, or `P:OFFSET`.

use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seek {
    /// The first message at or after this instant, in every partition.
    Time(DateTime<Utc>),
    /// This offset of this partition.
    Offset { partition: i32, offset: i64 },
}

/// `15m`, `-15m`, `2h`, `30s`, `1d` (ago; the sign is optional), or an RFC 3339 instant.
pub fn parse_since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let t = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(t) {
        return Ok(at.with_timezone(&Utc));
    }
    let rel = t.strip_prefix('-').unwrap_or(t);
    let split = rel.find(|c: char| !c.is_ascii_digit()).unwrap_or(rel.len());
    let (n, unit) = rel.split_at(split);
    let n: i64 = n.parse().map_err(|_| rule(text))?;
    let d = match unit {
        "s" => Duration::try_seconds(n),
        "m" => Duration::try_minutes(n),
        "h" => Duration::try_hours(n),
        "d" => Duration::try_days(n),
        _ => None,
    }
    .ok_or_else(|| rule(text))?;
    now.checked_sub_signed(d).ok_or_else(|| rule(text))
}

fn rule(text: &str) -> String {
    format!("'{text}' must be a duration ago (-15m, 2h, 30s, 1d) or an RFC 3339 instant")
}

/// A seek as the topic pane's `s` takes it: `P:OFFSET`, or what `parse_since` takes.
pub fn parse_seek(text: &str, now: DateTime<Utc>) -> Result<Seek, String> {
    let t = text.trim();
    if let Some((p, o)) = t.split_once(':')
        && let (Ok(partition), Ok(offset)) = (p.parse::<i32>(), o.parse::<i64>())
        && partition >= 0
        && offset >= 0
    {
        return Ok(Seek::Offset { partition, offset });
    }
    parse_since(t, now).map(Seek::Time).map_err(|_| {
        format!("'{text}' must be -15m / 2h (ago), an RFC 3339 instant, or PARTITION:OFFSET")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_absolute_and_offsets() {
        let now = DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = |s: &str| parse_since(s, now).unwrap().to_rfc3339();
        assert_eq!(at("-15m"), "2026-11-25T11:45:00+00:00");
        assert_eq!(at("2h"), "2026-11-25T10:00:00+00:00");
        assert_eq!(at("1d"), "2026-11-24T12:00:00+00:00");
        assert_eq!(at("2026-11-25T09:00:00-03:00"), "2026-11-25T12:00:00+00:00");
        assert!(parse_since("15x", now).is_err());
        assert!(parse_since("", now).is_err());
        assert_eq!(
            parse_seek("2:140", now),
            Ok(Seek::Offset {
                partition: 2,
                offset: 140
            })
        );
        assert!(matches!(parse_seek("-5m", now), Ok(Seek::Time(_))));
        assert!(parse_seek("a:b", now).is_err());
    }
}
