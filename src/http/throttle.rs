//! Login throttling: too many failures for one username or one client address locks that key
//! for a while, doubling with each lock-out. Memory is bounded by pruning idle keys.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct ThrottleRules {
    pub per_user: u32,
    pub per_address: u32,
    pub first_lock: Duration,
    pub max_lock: Duration,
}

impl Default for ThrottleRules {
    fn default() -> Self {
        ThrottleRules {
            per_user: 5,
            per_address: 20,
            first_lock: Duration::from_secs(60),
            max_lock: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Debug, Default)]
struct Entry {
    failures: u32,
    lockouts: u32,
    locked_until: Option<Instant>,
    last_seen: Option<Instant>,
}

#[derive(Debug, Default)]
pub struct Throttle {
    rules: ThrottleRules,
    keys: Mutex<HashMap<String, Entry>>,
}

const IDLE: Duration = Duration::from_secs(3600);

impl Throttle {
    pub fn new(rules: ThrottleRules) -> Throttle {
        Throttle {
            rules,
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds to wait when any of `keys` is locked.
    pub fn check(&self, keys: &[String], now: Instant) -> Option<u64> {
        let map = self.keys.lock().ok()?;
        keys.iter()
            .filter_map(|k| map.get(k)?.locked_until)
            .filter(|until| *until > now)
            .map(|until| (until - now).as_secs().max(1))
            .max()
    }

    pub fn failure(&self, user_key: &str, addr_key: &str, now: Instant) {
        let Ok(mut map) = self.keys.lock() else {
            return;
        };
        if map.len() > 100_000 {
            map.retain(|_, e| e.last_seen.is_some_and(|t| now.duration_since(t) < IDLE));
        }
        for (key, limit) in [
            (user_key, self.rules.per_user),
            (addr_key, self.rules.per_address),
        ] {
            let e = map.entry(key.to_string()).or_default();
            e.last_seen = Some(now);
            e.failures += 1;
            if e.failures >= limit {
                let lock = self
                    .rules
                    .first_lock
                    .saturating_mul(1 << e.lockouts.min(16))
                    .min(self.rules.max_lock);
                e.locked_until = Some(now + lock);
                e.lockouts += 1;
                e.failures = 0;
            }
        }
    }

    pub fn success(&self, user_key: &str) {
        if let Ok(mut map) = self.keys.lock() {
            map.remove(user_key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_the_limit_and_doubles() {
        let t = Throttle::new(ThrottleRules {
            per_user: 3,
            per_address: 100,
            ..Default::default()
        });
        let now = Instant::now();
        let keys = ["u:a".to_string(), "ip:1".to_string()];
        for _ in 0..2 {
            t.failure("u:a", "ip:1", now);
        }
        assert_eq!(t.check(&keys, now), None);
        t.failure("u:a", "ip:1", now);
        assert_eq!(t.check(&keys, now), Some(60));
        let later = now + Duration::from_secs(61);
        assert_eq!(t.check(&keys, later), None);
        for _ in 0..3 {
            t.failure("u:a", "ip:1", later);
        }
        assert_eq!(t.check(&keys, later), Some(120));
        t.success("u:a");
        assert_eq!(t.check(&keys, later), None);
    }
}
