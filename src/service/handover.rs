//! The embedded broker outlives its first owner: a process that joined another's broker
//! watches that owner and, once it has stopped (ownership released), died (its pid gone) or
//! stalled past its lease, takes ownership by the same lease, starts a broker of its own and
//! moves its relay and readers there. A joiner whose owner moved follows the new address.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::broker::{host_name, process_alive, start_embedded};
use super::{BROKER_FILE, Service, ServiceError};
use crate::kafka::Target;

/// How often a joiner looks at its broker's owner.
const CHECK: Duration = Duration::from_secs(1);

/// Lets `dataflow tail` in another terminal find this process's broker.
pub(super) fn record_address(data_dir: &std::path::Path, bootstrap: &str) {
    let file = data_dir.join(BROKER_FILE);
    let text = format!("{bootstrap}\n{}\n", std::process::id());
    if let Err(e) = std::fs::write(&file, text) {
        tracing::warn!(error = %e, file = %file.display(), "cannot record the broker's address");
    }
}

pub(super) fn spawn(svc: &Service) {
    let weak = Arc::downgrade(&svc.inner);
    let task = tokio::spawn(async move {
        loop {
            tokio::time::sleep(CHECK).await;
            let Some(inner) = weak.upgrade() else {
                return;
            };
            match step(&Service { inner }).await {
                Ok(true) => return, // the owner now: nothing more to watch
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "cannot check the embedded broker's owner"),
            }
        }
    });
    if let Ok(mut h) = svc.inner.handover.lock() {
        *h = Some(task);
    }
}

/// One look at the owner; true once this process has taken the broker over.
async fn step(svc: &Service) -> Result<bool, ServiceError> {
    let inner = &svc.inner;
    let (store, dest) = (&inner.store, inner.destination.as_str());
    let host = host_name();
    let owner = store.broker_owner(dest).await?;
    let (dead, why) = match &owner {
        None => (None, "stopped".to_string()),
        Some(o) if o.live == 0 => (None, format!("pid {} stopped renewing", o.pid.unwrap_or(0))),
        Some(o)
            if o.host.as_deref() == Some(host.as_str()) && !process_alive(o.pid.unwrap_or(0)) =>
        {
            (
                Some(o.owner.clone()),
                format!("pid {} ended", o.pid.unwrap_or(0)),
            )
        }
        Some(o) => {
            if let Some(addr) = o.addr.as_ref().filter(|a| **a != svc.kafka().bootstrap) {
                tracing::info!(%addr, pid = ?o.pid, "the embedded broker moved; following it");
                note(
                    svc,
                    format!(
                        "joined the embedded broker at {addr} (pid {})",
                        o.pid.unwrap_or(0)
                    ),
                );
                retarget(svc, addr.clone(), 0);
            }
            return Ok(false);
        }
    };
    let pid = i64::from(std::process::id());
    let lease = Duration::from_secs(30);
    if !store
        .take_broker(dest, &inner.relay_id, &host, pid, dead.as_deref(), lease)
        .await?
    {
        return Ok(false); // another joiner took it: the next look follows its address
    }
    let broker = match start_embedded(&inner.settings).await {
        Ok(b) => b,
        Err(e) => {
            let _ = store.release_broker(dest, &inner.relay_id).await;
            return Err(e);
        }
    };
    let addr = broker.bootstrap().to_string();
    store.set_broker_addr(dest, &inner.relay_id, &addr).await?;
    inner.broker_owner.store(true, Ordering::Relaxed);
    if let Ok(mut slot) = inner.embedded.lock() {
        *slot = Some(broker);
    }
    record_address(&inner.settings.paths.data_dir, &addr);
    tracing::warn!(%addr, why, "took over the embedded broker");
    note(
        svc,
        format!("took over the embedded broker ({why}); now at {addr}"),
    );
    retarget(svc, addr, inner.settings.replay_on_start);
    inner.health.set_up();
    Ok(true)
}

fn note(svc: &Service, text: String) {
    if let Ok(mut n) = svc.inner.broker_note.lock() {
        *n = Some(text);
    }
}

fn retarget(svc: &Service, bootstrap: String, replay: usize) {
    let mut cfg = svc.kafka();
    cfg.bootstrap = bootstrap;
    svc.inner.target.send_replace(Target { cfg, replay });
}
