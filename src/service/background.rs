//! Writes that an answer need not wait for (a login's bookkeeping), run as tasks that
//! shutdown waits for, so none is cut off while the store closes.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

#[derive(Default)]
pub(super) struct Background {
    running: Arc<(AtomicUsize, Notify)>,
}

impl Background {
    pub(super) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let running = self.running.clone();
        running.0.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            task.await;
            if running.0.fetch_sub(1, Ordering::SeqCst) == 1 {
                running.1.notify_waiters();
            }
        });
    }

    /// Waits until every task has ended, at most `limit`.
    pub(super) async fn flush(&self, limit: Duration) {
        let wait = async {
            loop {
                let idle = self.running.1.notified();
                if self.running.0.load(Ordering::SeqCst) == 0 {
                    return;
                }
                idle.await;
            }
        };
        let _ = tokio::time::timeout(limit, wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn flush_waits_for_every_task() {
        let b = Background::default();
        let done = Arc::new(AtomicUsize::new(0));
        for _ in 0..10 {
            let done = done.clone();
            b.spawn(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
        b.flush(Duration::from_secs(5)).await;
        assert_eq!(done.load(Ordering::SeqCst), 10);
    }
}
