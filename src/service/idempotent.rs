//! Registrations with an Idempotency-Key (draft-ietf-httpapi-idempotency-key-header): the key
//! commits with the product, so a retry replays the first answer instead of registering
//! again, on any replica and after any restart. Keys are the user's own.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::{Edit, Registered, Service, ServiceError};
use crate::domain::{FieldError, NewProduct, Product, ValidationErrors};
use crate::store::{Creation, IdemKey, StoreError};

/// The header's name, the field its errors are reported under.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// Keys of this process's requests still running, so a retry during one answers 409.
#[derive(Debug, Default)]
pub(super) struct Running(Arc<Mutex<HashSet<(String, String)>>>);

/// One running request's key; gone from `Running` when dropped.
struct RunningKey {
    set: Arc<Mutex<HashSet<(String, String)>>>,
    key: (String, String),
}

impl Running {
    /// The key, unless a request with it is running here already.
    fn enter(&self, user: &str, key: &str) -> Option<RunningKey> {
        let key = (user.to_string(), key.to_string());
        let fresh = self.0.lock().map(|mut r| r.insert(key.clone())).ok()?;
        fresh.then(|| RunningKey {
            set: self.0.clone(),
            key,
        })
    }
}

impl Drop for RunningKey {
    fn drop(&mut self) {
        if let Ok(mut r) = self.set.lock() {
            r.remove(&self.key);
        }
    }
}

/// What a keyed request answered.
#[derive(Debug, Clone)]
pub enum Keyed<T = Registered> {
    /// The first request with this key: done now.
    First(T),
    /// A retry: the status the first got, the product's version it showed, and the product
    /// as it is now (None once deleted).
    Replayed {
        status: u16,
        product_id: i64,
        version: i64,
        product: Option<Box<Product>>,
    },
}

/// Parses the header: an RFC 8941 string (`"..."`, `\"` and `\\` escaped) or, as most
/// clients send it, the bare text; 1-255 printable ASCII characters.
pub fn parse_idempotency_key(raw: &[u8]) -> Result<String, String> {
    const RULE: &str = "must be 1-255 printable ASCII characters, quoted or bare";
    let text = std::str::from_utf8(raw)
        .map_err(|_| RULE.to_string())?
        .trim();
    let key = match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::new();
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some(e @ ('"' | '\\')) => out.push(e),
                        _ => return Err(RULE.into()),
                    },
                    '"' => return Err(RULE.into()),
                    c => out.push(c),
                }
            }
            out
        }
        None => text.to_string(),
    };
    let printable = key.chars().all(|c| (' '..='~').contains(&c));
    if key.is_empty() || key.len() > 255 || !printable {
        return Err(RULE.into());
    }
    Ok(key)
}

/// The request as validated: two bodies that make the same product are the same request.
fn request_hash(item: &NewProduct) -> String {
    let mut h = Sha256::new();
    for part in [
        item.name.as_str(),
        item.description.as_str(),
        item.category.as_str(),
        &item.amount.to_string(),
        item.currency.code(),
        &item.quantity.to_string(),
    ] {
        h.update(part.as_bytes());
        h.update([0u8]); // validated text holds no NUL
    }
    format!("{:x}", h.finalize())
}

/// The key a form's save is sent with: the same form content under the same `nonce` (a
/// retry after an error or a lost answer) gets the same key; a new nonce after each saved
/// product lets the same content be registered again on purpose.
pub fn form_key(nonce: u64, item: &NewProduct) -> String {
    format!("form-{nonce:016x}-{}", &request_hash(item)[..32])
}

fn key_reused() -> ServiceError {
    ServiceError::Invalid(ValidationErrors(vec![FieldError {
        field: IDEMPOTENCY_KEY,
        message: "was already used with a different request".into(),
    }]))
}

/// The request a change's key stands for: the method, the product and (for PUT) its fields.
fn change_hash(method: &str, id: i64, item: Option<&NewProduct>) -> String {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update([0u8]);
    h.update(id.to_string().as_bytes());
    h.update([0u8]);
    if let Some(item) = item {
        h.update(request_hash(item).as_bytes());
    }
    format!("{:x}", h.finalize())
}

fn in_progress() -> ServiceError {
    ServiceError::InProgress(format!(
        "a request with this {IDEMPOTENCY_KEY} is still being processed; retry later"
    ))
}

impl Service {
    /// Registers `item` as `user`'s under `key`, or replays what the key's first request got.
    pub async fn register_keyed(
        &self,
        user: &str,
        key: &str,
        item: NewProduct,
    ) -> Result<Keyed, ServiceError> {
        self.register_keyed_traced(user, key, item, None).await
    }

    /// `register_keyed`, publishing the event with `trace` (a W3C `traceparent`).
    pub async fn register_keyed_traced(
        &self,
        user: &str,
        key: &str,
        item: NewProduct,
        trace: Option<String>,
    ) -> Result<Keyed, ServiceError> {
        let idem = IdemKey {
            key: key.to_string(),
            request_hash: request_hash(&item),
        };
        self.keyed(user, idem.clone(), async {
            self.register_new(Creation {
                item,
                by: Some(user.to_string()),
                key: None,
                idem: Some(idem),
                trace,
                id: None,
            })
            .await
        })
        .await
    }

    /// Updates under `key` (`edit.by` is the user), or replays the key's first answer.
    pub async fn update_keyed(
        &self,
        edit: Edit<'_>,
        key: &str,
        item: &NewProduct,
    ) -> Result<Keyed<Product>, ServiceError> {
        let idem = IdemKey {
            key: key.to_string(),
            request_hash: change_hash("PUT", edit.id, Some(item)),
        };
        let user = edit.by.unwrap_or_default();
        self.keyed(user, idem.clone(), self.update_recorded(edit, item, &idem))
            .await
    }

    /// Deletes under `key` (`edit.by` is the user), or replays the key's first answer.
    pub async fn delete_keyed(
        &self,
        edit: Edit<'_>,
        key: &str,
    ) -> Result<Keyed<Product>, ServiceError> {
        let idem = IdemKey {
            key: key.to_string(),
            request_hash: change_hash("DELETE", edit.id, None),
        };
        let user = edit.by.unwrap_or_default();
        self.keyed(user, idem.clone(), self.delete_recorded(edit, &idem))
            .await
    }

    /// Runs `first` unless the key was used already (replayed, or 422 for another request);
    /// one request per key at a time in this process (409); a key another replica (or an
    /// earlier attempt here) committed meanwhile makes `first` fail on it or on the version
    /// it wrote, and is replayed.
    async fn keyed<T>(
        &self,
        user: &str,
        idem: IdemKey,
        first: impl Future<Output = Result<T, ServiceError>>,
    ) -> Result<Keyed<T>, ServiceError> {
        if let Some(replay) = self.replay(user, &idem).await? {
            return Ok(replay);
        }
        // Held until `first` ends, or is dropped with its request (a client gone mid-way):
        // the key is then free for the retry.
        let Some(_running) = self.inner.running.enter(user, &idem.key) else {
            return Err(in_progress());
        };
        let result = first.await;
        match result {
            Ok(done) => Ok(Keyed::First(done)),
            Err(ServiceError::Conflict(StoreError::Conflict { constraint, .. }))
                if constraint.contains("idempotency_key") =>
            {
                self.replay(user, &idem).await?.ok_or_else(in_progress)
            }
            // A retry that waited on the row while its first attempt committed finds the
            // version (or the deletion) that attempt made: it replays it, not 412 or 404.
            Err(e @ (ServiceError::Stale { .. } | ServiceError::NotFound(_))) => {
                match self.replay(user, &idem).await? {
                    Some(done) => Ok(done),
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn replay<T>(
        &self,
        user: &str,
        idem: &IdemKey,
    ) -> Result<Option<Keyed<T>>, ServiceError> {
        let since = chrono::Utc::now()
            - chrono::Duration::from_std(self.inner.settings.idempotency_ttl)
                .unwrap_or(chrono::Duration::hours(24));
        let store = &self.inner.store;
        let Some(rec) = store.idem_record(user, &idem.key, since).await? else {
            // An expired record would refuse the new one: it goes first.
            store.forget_idem_key(user, &idem.key, since).await?;
            return Ok(None);
        };
        if rec.request_hash != idem.request_hash {
            return Err(key_reused());
        }
        Ok(Some(Keyed::Replayed {
            status: rec.status,
            product_id: rec.product_id,
            version: rec.version,
            product: self.product(rec.product_id).await?.map(Box::new),
        }))
    }
}
