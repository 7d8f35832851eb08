//! Runs the app's effects: each becomes a task on the runtime (or the tail's own thread) that
//! reports back through the action channel. The event loop never waits on any of them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::app::{Action, Effect};
use crate::service::Settings;
use crate::service::{Edit, ServiceError};
use crate::service::{Principal, Service, Tail};
use crate::service::{TailMessage, TailOptions, TailStart};

mod page;
mod session;
use page::load_page;
use session::{change_error, check_session};

/// Capacity of the tail channel: a flood waits in the reader thread, not in memory.
pub const TAIL_CHANNEL: usize = 1024;
/// Readings the pipeline pane keeps for its graphs (one a second: five minutes).
const PIPELINE_READINGS: usize = 300;

pub struct Runner {
    actions: mpsc::UnboundedSender<Action>,
    service: watch::Receiver<Option<Service>>,
    pub tail: Option<Tail>,
    /// The tail's partition count the app was last told.
    told_partitions: Option<i32>,
    acks: Option<JoinHandle<()>>,
    status_busy: Arc<AtomicBool>,
    /// The pipeline pane's readings: one at a time, with their history.
    pipeline: Arc<tokio::sync::Mutex<crate::service::pipeline::Watch>>,
    /// Who logged in: the name written as created_by/updated_by, their role and the token
    /// generation their login holds.
    user: Arc<std::sync::Mutex<Option<Principal>>>,
    /// Part of every save's Idempotency-Key; changed after each saved product.
    save_nonce: Arc<AtomicU64>,
}

/// Saves the form under an Idempotency-Key, so a save retried after an error or a lost
/// answer never registers twice.
async fn save(
    svc: &Service,
    user: Option<String>,
    draft: &crate::domain::ProductDraft,
    nonce: &AtomicU64,
) -> Result<crate::domain::Product, String> {
    let Some(user) = user else {
        return svc
            .register(draft)
            .await
            .map(|r| r.product)
            .map_err(|e| e.to_string());
    };
    let item = draft.validate().map_err(|e| e.to_string())?;
    let key = crate::service::form_key(nonce.load(Ordering::Acquire), &item);
    // Each save starts a trace: its record carries it, and the message details show it.
    let trace = crate::domain::TraceParent::root();
    let started = std::time::SystemTime::now();
    let outcome = svc
        .register_keyed_traced(&user, &key, item, Some(trace.header()))
        .await;
    crate::telemetry::record(crate::telemetry::SpanRecord {
        name: "save product".into(),
        kind: crate::telemetry::Kind::Internal,
        id: trace,
        parent: None,
        start: started,
        end: std::time::SystemTime::now(),
        attributes: vec![crate::telemetry::Attr::new("enduser.id", user.clone())],
        error: outcome.as_ref().err().map(|e| e.to_string()),
    });
    let product = match outcome {
        Ok(crate::service::Keyed::First(r)) => r.product,
        Ok(crate::service::Keyed::Replayed {
            product: Some(p), ..
        }) => *p,
        Ok(crate::service::Keyed::Replayed { product_id, .. }) => {
            return Err(format!(
                "saved earlier as product {product_id}, deleted since"
            ));
        }
        Err(e) => return Err(e.to_string()),
    };
    nonce.store(rand::random(), Ordering::Release);
    Ok(product)
}

impl Runner {
    /// Starts the service in the background; the login screen is usable meanwhile.
    pub fn start(settings: Settings, actions: mpsc::UnboundedSender<Action>) -> Runner {
        let (tx, rx) = watch::channel(None);
        let report = actions.clone();
        tokio::spawn(async move {
            match Service::start(settings).await {
                Ok(svc) => {
                    let _ = report.send(Action::Ready {
                        database: svc.store().backend().to_string(),
                        bootstrap: svc.kafka().bootstrap.clone(),
                        embedded: svc.kafka().embedded,
                        first_run: svc.default_login().map(str::to_string),
                    });
                    let _ = tx.send(Some(svc));
                }
                // Refused by the configuration (another host's broker, a database tied to
                // a cluster): nothing to wait for, the TUI exits 2 as `serve` does.
                Err(e @ crate::service::ServiceError::Refused(_)) => {
                    let _ = report.send(Action::StartRefused(e.to_string()));
                }
                Err(e) => {
                    let _ = report.send(Action::StartFailed(e.to_string()));
                }
            }
        });
        Runner {
            actions,
            service: rx,
            tail: None,
            told_partitions: None,
            acks: None,
            status_busy: Arc::new(AtomicBool::new(false)),
            pipeline: Arc::new(tokio::sync::Mutex::new(
                crate::service::pipeline::Watch::new(PIPELINE_READINGS),
            )),
            user: Arc::default(),
            save_nonce: Arc::new(AtomicU64::new(rand::random())),
        }
    }

    pub fn service(&self) -> Option<Service> {
        self.service.borrow().clone()
    }

    pub fn execute(&mut self, effect: Effect) {
        let out = self.actions.clone();
        let who = self.user.lock().ok().and_then(|u| u.clone());
        let user = who.as_ref().map(|p| p.username.clone());
        // The keys are gated by role already; this holds even if a key slipped through.
        let writes = matches!(
            effect,
            Effect::Register(_)
                | Effect::Update { .. }
                | Effect::Delete { .. }
                | Effect::Import { .. }
        );
        if let (true, Some(p)) = (writes, &who)
            && let Err(e) = p.require(crate::domain::Role::Editor, "Changing products")
        {
            let _ = out.send(Action::Wrote(Err(e.to_string())));
            return;
        }
        match effect {
            Effect::Update {
                id,
                expected,
                draft,
            } => self.with_service(move |svc| async move {
                let tui = crate::domain::Origin::tui();
                let edit = Edit {
                    id,
                    expected,
                    by: user.as_deref(),
                    origin: Some(&tui),
                };
                let r = svc.update(edit, &draft).await.map_err(change_error);
                let _ = out.send(Action::Updated(r));
            }),
            Effect::Delete { id, expected } => self.with_service(move |svc| async move {
                let tui = crate::domain::Origin::tui();
                let edit = Edit {
                    id,
                    expected: Some(expected),
                    by: user.as_deref(),
                    origin: Some(&tui),
                };
                let result = svc.delete(edit).await.map_err(change_error);
                let _ = out.send(Action::Deleted { id, result });
            }),
            Effect::LoadForEdit(id) => self.with_service(move |svc| async move {
                let r = svc.product(id).await.map_err(|e| e.to_string());
                let _ = out.send(Action::ForEdit(r));
            }),
            Effect::ReloadRow(id) => self.with_service(move |svc| async move {
                let result = svc.product(id).await.map_err(|e| e.to_string());
                let _ = out.send(Action::Row { id, result });
            }),
            Effect::Login { username, password } => {
                let mut ready = self.service.clone();
                let user = self.user.clone();
                tokio::spawn(async move {
                    let svc = match ready.wait_for(Option::is_some).await {
                        Ok(s) => s.clone(),
                        Err(_) => return,
                    };
                    let Some(svc) = svc else { return };
                    let origin = crate::domain::Origin::tui();
                    let rules = crate::service::LoginRules::from_settings(svc.settings());
                    let action = match svc.log_in(&username, &password, &origin, &rules).await {
                        Ok(Some(who)) => {
                            if let Ok(mut u) = user.lock() {
                                *u = Some(who.clone());
                            }
                            Action::LoggedIn(who)
                        }
                        Ok(None) => Action::LoginFailed("Incorrect username or password".into()),
                        Err(ServiceError::Forbidden(why)) => Action::LoginFailed(why),
                        Err(e @ ServiceError::Locked(_)) => Action::LoginFailed(e.to_string()),
                        Err(e) => Action::LoginFailed(format!("Cannot check the login now: {e}")),
                    };
                    let _ = out.send(action);
                });
            }
            Effect::Register(draft) => {
                let nonce = self.save_nonce.clone();
                self.with_service(move |svc| async move {
                    let r = save(&svc, user, &draft, &nonce).await;
                    let _ = out.send(Action::Registered(r));
                })
            }
            Effect::LoadProducts(request) => self.with_service(move |svc| async move {
                let result = load_page(&svc, &request.fetch, request.filter.clone()).await;
                let _ = out.send(Action::Page { request, result });
            }),
            Effect::CountProducts(filter) => self.with_service(move |svc| async move {
                let result = svc
                    .count_products(filter.as_deref())
                    .await
                    .map_err(|e| e.to_string());
                let _ = out.send(Action::Count { filter, result });
            }),
            Effect::ReadPipeline => {
                // A reading still running (a slow broker) is not joined by another.
                let Ok(mut watch) = self.pipeline.clone().try_lock_owned() else {
                    return;
                };
                self.with_service(move |svc| async move {
                    svc.read_pipeline(&mut watch).await;
                    if let Some(v) = super::pipeline::PipelineView::of(&watch.history) {
                        let _ = out.send(Action::Pipeline(Box::new(v)));
                    }
                })
            }
            Effect::RefreshStatus => {
                if self.status_busy.swap(true, Ordering::AcqRel) {
                    return; // the previous check is still running (database slow or gone)
                }
                let busy = self.status_busy.clone();
                let session = self.user.clone();
                self.with_service(move |svc| async move {
                    let s = svc.status().await;
                    let check = check_session(&svc, &session).await;
                    busy.store(false, Ordering::Release);
                    let _ = out.send(Action::Status(s));
                    if let Some(action) = check {
                        let _ = out.send(action);
                    }
                });
            }
            Effect::StartTail(start) => self.start_tail(start, None),
            Effect::Seek { start, partition } => self.start_tail(start, partition),
            Effect::Import { path, rejects, by } => self.with_service(move |svc| async move {
                super::jobs::import(svc, path, rejects, by, out).await;
            }),
            Effect::ExportProducts {
                path,
                format,
                filter,
            } => self.with_service(move |svc| async move {
                let r = super::jobs::export(svc, user, path, format, filter).await;
                let _ = out.send(Action::Wrote(r));
            }),
            Effect::LoadAudit => self.with_service(move |svc| async move {
                let q = crate::service::AuditQuery {
                    limit: super::audit::AUDIT_ENTRIES,
                    ..Default::default()
                };
                let r = match &who {
                    Some(p) => svc.audit_entries_as(p, &q).await.map_err(|e| e.to_string()),
                    None => Err("not logged in".to_string()),
                };
                let _ = out.send(Action::Audit(r));
            }),
            Effect::SaveMessages { path, messages } => self.with_service(move |svc| async move {
                let tz = svc.settings().timezone;
                let r = tokio::task::spawn_blocking(move || {
                    super::jobs::save_messages(&path, &messages, tz)
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
                let _ = out.send(Action::Wrote(r));
            }),
            Effect::EndSession => self.end_session(),
        }
    }

    fn start_tail(&mut self, start: TailStart, partition: Option<i32>) {
        let out = self.actions.clone();
        let Some(svc) = self.service() else { return };
        self.tail = None;
        match svc.tail(
            TailOptions {
                start,
                follow: true,
                partition,
            },
            TAIL_CHANNEL,
        ) {
            Ok(t) => self.tail = Some(t),
            Err(e) => tracing::warn!(error = %e, "cannot start the tail"),
        }
        if self.acks.is_none() {
            let mut rx = svc.subscribe_published();
            self.acks = Some(tokio::spawn(async move {
                loop {
                    match rx.recv().await {
                        Ok(ack) => {
                            if out.send(Action::Published(ack)).is_err() {
                                break;
                            }
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(_) => break,
                    }
                }
            }));
        }
    }

    fn with_service<F, Fut>(&self, work: F)
    where
        F: FnOnce(Service) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        if let Some(svc) = self.service() {
            tokio::spawn(work(svc));
        }
    }

    pub fn end_session(&mut self) {
        if let Ok(mut u) = self.user.lock() {
            *u = None;
        }
        self.tail = None;
        if let Some(a) = self.acks.take() {
            a.abort();
        }
    }

    /// Up to `max` tail messages, oldest first; waits for the first one. Pending forever
    /// when no tail runs, so the event loop's select can always include it.
    pub async fn next_tail_batch(&mut self, max: usize) -> Vec<TailMessage> {
        let Some(tail) = self.tail.as_mut() else {
            return std::future::pending().await;
        };
        let Some(first) = tail.rx.recv().await else {
            if let Some(why) = tail.failure() {
                let _ = self.actions.send(Action::TailStopped(why));
            }
            self.tail = None;
            return Vec::new();
        };
        if let Some(n) = tail.partitions()
            && self.told_partitions != Some(n)
        {
            self.told_partitions = Some(n);
            let _ = self.actions.send(Action::TopicPartitions(n));
        }
        let mut batch = vec![first];
        while batch.len() < max {
            match tail.rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        batch
    }
}
