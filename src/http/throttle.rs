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
    /// Attempts being verified now: each holds a failure slot until it resolves.
    in_flight: u32,
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
/// Keys kept at most; past it, idle then unlocked then oldest keys go first.
const MAX_KEYS: usize = 50_000;
/// Characters of a username that make its key.
const KEY_CHARS: usize = 64;

/// The throttle keys of a login attempt: its username (bounded) and its client address.
pub fn keys_for(username: &str, addr: std::net::IpAddr) -> (String, String) {
    let name: String = username.chars().take(KEY_CHARS).collect();
    (format!("user:{name}"), format!("addr:{addr}"))
}

/// One login attempt holding a failure slot on its keys. Resolve it with `succeeded` or
/// `failed`; dropped unresolved (the client went away mid-check) it counts as a failure.
pub struct Attempt<'a> {
    throttle: &'a Throttle,
    user_key: String,
    addr_key: String,
    /// When the attempt began; its outcome is dated then (a check takes milliseconds).
    at: Instant,
    resolved: bool,
}

impl Attempt<'_> {
    pub fn succeeded(mut self) {
        self.resolved = true;
        if let Ok(mut map) = self.throttle.keys.lock() {
            map.remove(&self.user_key);
            if let Some(e) = map.get_mut(&self.addr_key) {
                e.in_flight = e.in_flight.saturating_sub(1);
            }
        }
    }

    /// The password was not checked (busy, database down): the slot is given back uncounted.
    pub fn abandon(mut self) {
        self.resolved = true;
        if let Ok(mut map) = self.throttle.keys.lock() {
            for key in [&self.user_key, &self.addr_key] {
                if let Some(e) = map.get_mut(key) {
                    e.in_flight = e.in_flight.saturating_sub(1);
                }
            }
        }
    }

    pub fn failed(mut self) {
        self.resolved = true;
        self.throttle.fail(&self.user_key, &self.addr_key, self.at);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.resolved {
            self.throttle.fail(&self.user_key, &self.addr_key, self.at);
        }
    }
}

impl Throttle {
    pub fn new(rules: ThrottleRules) -> Throttle {
        Throttle {
            rules,
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// Reserves a failure slot on both keys before the password is checked, so concurrent
    /// guesses cannot get past the limit. Err holds the seconds to wait.
    pub fn begin(&self, user_key: &str, addr_key: &str, now: Instant) -> Result<Attempt<'_>, u64> {
        let mut map = self.keys.lock().map_err(|_| 1u64)?;
        if map.len() >= MAX_KEYS {
            evict(&mut map, now);
        }
        let limits = [
            (user_key, self.rules.per_user),
            (addr_key, self.rules.per_address),
        ];
        for (key, limit) in limits {
            if let Some(e) = map.get(key) {
                if let Some(until) = e.locked_until.filter(|u| *u > now) {
                    return Err((until - now).as_secs().max(1));
                }
                if e.failures + e.in_flight >= limit {
                    return Err(1); // the checks in flight decide within a second
                }
            }
        }
        for (key, _) in limits {
            let e = map.entry(key.to_string()).or_default();
            e.in_flight += 1;
            e.last_seen = Some(now);
        }
        Ok(Attempt {
            throttle: self,
            user_key: user_key.to_string(),
            addr_key: addr_key.to_string(),
            at: now,
            resolved: false,
        })
    }

    fn fail(&self, user_key: &str, addr_key: &str, now: Instant) {
        let Ok(mut map) = self.keys.lock() else {
            return;
        };
        for (key, limit) in [
            (user_key, self.rules.per_user),
            (addr_key, self.rules.per_address),
        ] {
            let e = map.entry(key.to_string()).or_default();
            e.in_flight = e.in_flight.saturating_sub(1);
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

    #[cfg(test)]
    fn keys_kept(&self) -> usize {
        self.keys.lock().map(|m| m.len()).unwrap_or(0)
    }
}

/// Makes room: drops idle keys, then unlocked keys with nothing in flight, oldest first,
/// down to 90 % of the bound. Locked keys go last, so a flood of new names cannot unlock one.
fn evict(map: &mut HashMap<String, Entry>, now: Instant) {
    map.retain(|_, e| e.in_flight > 0 || e.last_seen.is_some_and(|t| now.duration_since(t) < IDLE));
    let target = MAX_KEYS * 9 / 10;
    if map.len() <= target {
        return;
    }
    let mut candidates: Vec<(bool, Instant, String)> = map
        .iter()
        .filter(|(_, e)| e.in_flight == 0)
        .map(|(k, e)| {
            let locked = e.locked_until.is_some_and(|u| u > now);
            (locked, e.last_seen.unwrap_or(now), k.clone())
        })
        .collect();
    candidates.sort();
    let excess = map.len() - target;
    for (_, _, k) in candidates.into_iter().take(excess) {
        map.remove(&k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail_n(t: &Throttle, n: usize, now: Instant) {
        for _ in 0..n {
            t.begin("u:a", "ip:1", now).unwrap().failed();
        }
    }

    #[test]
    fn locks_after_the_limit_and_doubles() {
        let t = Throttle::new(ThrottleRules {
            per_user: 3,
            per_address: 100,
            ..Default::default()
        });
        let now = Instant::now();
        fail_n(&t, 2, now);
        t.begin("u:a", "ip:1", now).unwrap().succeeded();
        fail_n(&t, 3, now);
        assert_eq!(t.begin("u:a", "ip:1", now).err(), Some(60));
        let later = now + Duration::from_secs(61);
        fail_n(&t, 3, later);
        assert_eq!(t.begin("u:a", "ip:1", later).err(), Some(120));
    }

    #[test]
    fn concurrent_attempts_hold_their_slots() {
        let t = Throttle::new(ThrottleRules {
            per_user: 5,
            per_address: 1000,
            ..Default::default()
        });
        let now = Instant::now();
        let held: Vec<_> = (0..5)
            .map(|_| t.begin("u:a", "ip:1", now).unwrap())
            .collect();
        assert!(t.begin("u:a", "ip:1", now).is_err(), "a sixth waits");
        drop(held); // dropped unresolved: counted as failures, and the user is locked
        assert_eq!(t.begin("u:a", "ip:1", now).err(), Some(60));
    }

    #[test]
    fn keys_are_bounded_in_size_and_count() {
        let (u, _) = keys_for(&"x".repeat(10_000), "127.0.0.1".parse().unwrap());
        assert_eq!(u.len(), "user:".len() + KEY_CHARS);
        let t = Throttle::new(ThrottleRules::default());
        let now = Instant::now();
        for i in 0..(MAX_KEYS + 10) {
            let _ = t
                .begin(&format!("user:{i}"), "addr:1", now)
                .map(Attempt::failed);
        }
        assert!(t.keys_kept() <= MAX_KEYS, "{}", t.keys_kept());
    }
}
