//! The tail's time column: local time (TIMEZONE), UTC, or the message's age.

use chrono_tz::Tz;

/// How the time column reads; `t` cycles through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeMode {
    Local,
    Utc,
    Relative,
}

impl TimeMode {
    pub(super) fn next(self) -> TimeMode {
        match self {
            TimeMode::Local => TimeMode::Utc,
            TimeMode::Utc => TimeMode::Relative,
            TimeMode::Relative => TimeMode::Local,
        }
    }

    pub(super) fn header(self) -> &'static str {
        match self {
            TimeMode::Local => "time",
            TimeMode::Utc => "time (UTC)",
            TimeMode::Relative => "age",
        }
    }

    pub fn format(self, ms: Option<i64>, tz: Tz, now_ms: i64) -> String {
        let Some(t) = ms.and_then(chrono::DateTime::from_timestamp_millis) else {
            return String::new();
        };
        match self {
            TimeMode::Local => t.with_timezone(&tz).format("%H:%M:%S%.3f").to_string(),
            TimeMode::Utc => t.format("%H:%M:%S%.3fZ").to_string(),
            TimeMode::Relative => age(now_ms - t.timestamp_millis()),
        }
    }
}

/// "12 s ago", "3 min ago", "5 h ago", "2 d ago"; a clock ahead of ours reads "now".
fn age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s} s ago"),
        60..3600 => format!("{} min ago", s / 60),
        3600..86400 => format!("{} h ago", s / 3600),
        _ => format!("{} d ago", s / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_in_the_largest_unit() {
        assert_eq!(age(12_400), "12 s ago");
        assert_eq!(age(-5_000), "0 s ago");
        assert_eq!(age(3 * 60_000 + 1), "3 min ago");
        assert_eq!(age(5 * 3_600_000), "5 h ago");
        assert_eq!(age(2 * 86_400_000), "2 d ago");
    }
}
