//! One page of the products table: the query for each way the table moves.

use super::super::table::{Fetch, Loaded, PAGE};
use crate::service::{Order, ProductQuery, Service};

pub(super) async fn load_page(
    svc: &Service,
    fetch: &Fetch,
    filter: Option<String>,
) -> Result<Loaded, String> {
    let q = |order, cursor| ProductQuery {
        order,
        cursor,
        limit: PAGE,
        filter: filter.clone(),
    };
    let err = |e: crate::service::ServiceError| e.to_string();
    match fetch {
        Fetch::Top => {
            // Taken before the page: a product committing meanwhile comes with the next look.
            let follow = svc.follow_start().await.map_err(err)?;
            let rows = svc
                .products(&q(Order::Descending, None))
                .await
                .map_err(err)?;
            Ok(Loaded {
                rows,
                position: Some(0),
                follow: Some(follow),
            })
        }
        Fetch::Older(c) => Ok(Loaded::page(
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
            Ok(Loaded::page(rows, None))
        }
        Fetch::Bottom => {
            let mut rows = svc
                .products(&q(Order::Ascending, None))
                .await
                .map_err(err)?;
            rows.reverse();
            Ok(Loaded::page(rows, None))
        }
        Fetch::At(id) => {
            let rows = svc
                .products(&q(Order::Descending, Some(id.saturating_add(1))))
                .await
                .map_err(err)?;
            let position = svc.count_newer(*id, filter.as_deref()).await.map_err(err)?;
            Ok(Loaded::page(rows, Some(position)))
        }
        Fetch::Since(at) => {
            let found = svc
                .follow(*at, PAGE, filter.as_deref())
                .await
                .map_err(err)?;
            let follow = found.last().map(|(_, at)| *at);
            Ok(Loaded {
                rows: found.into_iter().map(|(p, _)| p).collect(),
                position: None,
                follow,
            })
        }
    }
}
