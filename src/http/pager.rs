//! `product/all` as a stream: page by page, by key, however big the table.

use axum::body::Bytes;

use super::json::ProductOut;
use crate::domain::{Position, Product};
use crate::service::{Order, ProductQuery, Service, ServiceError};

/// Rows read from the database per page of the stream.
pub(super) const PAGE: i64 = 500;

/// How the client pages: by id (`after`, the original's order), or by commit position
/// (`cursor`, which the answer's `next` carries forward).
#[derive(Debug, Clone, Copy)]
pub(super) enum Cursor {
    Id(Option<i64>),
    Position(Position),
}

/// Streams product/all page by page, by key, so memory does not grow with the table.
pub(super) struct Pager {
    pub svc: Service,
    pub cursor: Cursor,
    pub remaining: Option<i64>,
    pub first: Option<Vec<(Product, Option<Position>)>>,
    pub wrote_any: bool,
    pub done: bool,
    pub closed: bool,
}

impl Pager {
    pub fn new(svc: Service, cursor: Cursor, limit: Option<i64>) -> Pager {
        Pager {
            svc,
            cursor,
            remaining: limit,
            first: None,
            wrote_any: false,
            done: false,
            closed: false,
        }
    }

    fn want(&self) -> i64 {
        self.remaining.map_or(PAGE, |r| r.min(PAGE))
    }

    pub async fn fetch(&self) -> Result<Vec<(Product, Option<Position>)>, ServiceError> {
        if self.want() == 0 {
            return Ok(Vec::new());
        }
        Ok(match self.cursor {
            Cursor::Id(cursor) => {
                let q = ProductQuery {
                    order: Order::Ascending,
                    cursor,
                    limit: self.want(),
                    filter: None,
                };
                self.svc
                    .products(&q)
                    .await?
                    .into_iter()
                    .map(|p| (p, None))
                    .collect()
            }
            Cursor::Position(at) => self
                .svc
                .follow(at, self.want(), None)
                .await?
                .into_iter()
                .map(|(p, at)| (p, Some(at)))
                .collect(),
        })
    }

    /// The end of the envelope: the result's closing bracket, and `next` when paging by
    /// position (the same position when nothing new was found).
    fn tail(&self) -> Bytes {
        match self.cursor {
            Cursor::Id(_) => Bytes::from_static(b"]}"),
            Cursor::Position(at) => Bytes::from(format!(r#"],"next":"{at}"}}"#)),
        }
    }

    pub async fn next_chunk(&mut self) -> Option<std::io::Result<Bytes>> {
        if self.closed {
            return None;
        }
        if self.done {
            self.closed = true;
            return Some(Ok(self.tail()));
        }
        let want = self.want();
        let batch = match self.first.take() {
            Some(b) => b,
            None => match self.fetch().await {
                Ok(b) => b,
                // Headers are sent: all we can do is end the body early, and log why.
                Err(e) => {
                    tracing::error!(error = %e, "product/all stream cut short");
                    self.closed = true;
                    return Some(Err(std::io::Error::other("database error")));
                }
            },
        };
        if (batch.len() as i64) < want || batch.is_empty() {
            self.done = true;
        }
        let Some((last, at)) = batch.last() else {
            self.closed = true;
            return Some(Ok(self.tail()));
        };
        self.cursor = match (self.cursor, at) {
            (Cursor::Position(_), Some(at)) => Cursor::Position(*at),
            _ => Cursor::Id(Some(last.id)),
        };
        self.remaining = self.remaining.map(|r| r - batch.len() as i64);
        let mut chunk = Vec::with_capacity(batch.len() * 256);
        for (p, _) in &batch {
            if self.wrote_any {
                chunk.push(b',');
            }
            self.wrote_any = true;
            if let Err(e) = serde_json::to_writer(&mut chunk, &ProductOut::of(p, &self.svc, false))
            {
                self.closed = true;
                return Some(Err(std::io::Error::other(e)));
            }
        }
        Some(Ok(Bytes::from(chunk)))
    }
}
