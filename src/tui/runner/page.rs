//! One page of the products table: the query for each way the table moves.

use super::super::table::{Fetch, PAGE};
use crate::service::{Order, ProductQuery, Service};

pub(super) async fn load_page(
    svc: &Service,
    fetch: &Fetch,
    filter: Option<String>,
) -> Result<(Vec<crate::domain::Product>, Option<i64>), String> {
    let q = |order, cursor| ProductQuery {
        order,
        cursor,
        limit: PAGE,
        filter: filter.clone(),
    };
    let err = |e: crate::service::ServiceError| e.to_string();
    match fetch {
        Fetch::Top => Ok((
            svc.products(&q(Order::Descending, None))
                .await
                .map_err(err)?,
            Some(0),
        )),
        Fetch::Older(c) => Ok((
            svc.products(&q(Order::Descending, Some(*c)))
                .await
                .map_err(err)?,
            None,
        )),
        Fetch::Newer(c) => {
            let mut rows = svc
                .products(&q(Order::Ascending, Some(*c)))
                .await
                .map_err(err)?;
            rows.reverse();
            Ok((rows, None))
        }
        Fetch::Bottom => {
            let mut rows = svc
                .products(&q(Order::Ascending, None))
                .await
                .map_err(err)?;
            rows.reverse();
            Ok((rows, None))
        }
        Fetch::At(id) => {
            let rows = svc
                .products(&q(Order::Descending, Some(id.saturating_add(1))))
                .await
                .map_err(err)?;
            let position = svc.count_newer(*id, filter.as_deref()).await.map_err(err)?;
            Ok((rows, Some(position)))
        }
    }
}
