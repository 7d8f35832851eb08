//! `product/all` as a stream: page by page, by key, however big the table.

use axum::body::Bytes;

use super::json::ProductOut;
use super::routes::PAGE;
use crate::service::{Order, ProductQuery};

/// Streams product/all page by page, by key, so memory does not grow with the table.
pub(super) struct Pager {
    pub svc: crate::service::Service,
    pub cursor: Option<i64>,
    pub remaining: Option<i64>,
    pub first: Option<Vec<crate::domain::Product>>,
    pub wrote_any: bool,
    pub done: bool,
}

impl Pager {
    fn want(&self) -> i64 {
        self.remaining.map_or(PAGE, |r| r.min(PAGE))
    }

    pub async fn fetch(&self) -> Result<Vec<crate::domain::Product>, crate::service::ServiceError> {
        if self.want() == 0 {
            return Ok(Vec::new());
        }
        let q = ProductQuery {
            order: Order::Ascending,
            cursor: self.cursor,
            limit: self.want(),
            filter: None,
        };
        self.svc.products(&q).await
    }

    pub async fn next_chunk(&mut self) -> Option<std::io::Result<Bytes>> {
        if self.done {
            return None;
        }
        let want = self.want();
        let batch = match self.first.take() {
            Some(b) => b,
            None => match self.fetch().await {
                Ok(b) => b,
                // Headers are sent: all we can do is end the body early, and log why.
                Err(e) => {
                    tracing::error!(error = %e, "product/all stream cut short");
                    self.done = true;
                    return Some(Err(std::io::Error::other("database error")));
                }
            },
        };
        if (batch.len() as i64) < want || batch.is_empty() {
            self.done = true;
        }
        if batch.is_empty() {
            return None;
        }
        self.cursor = batch.last().map(|p| p.id);
        self.remaining = self.remaining.map(|r| r - batch.len() as i64);
        let mut chunk = Vec::with_capacity(batch.len() * 256);
        for p in &batch {
            if self.wrote_any {
                chunk.push(b',');
            }
            self.wrote_any = true;
            if let Err(e) = serde_json::to_writer(&mut chunk, &ProductOut::of(p, &self.svc, false))
            {
                return Some(Err(std::io::Error::other(e)));
            }
        }
        Some(Ok(Bytes::from(chunk)))
    }
}
