//! Who is calling, for the audit trail and the lock-out: the peer's address, or behind a
//! configured reverse proxy (TRUSTED_PROXIES) the address its X-Forwarded-For names, and the
//! user agent.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;

use super::AppState;
use super::envelope::ApiError;
use crate::domain::Origin;

/// The caller's origin; never rejects a request.
pub struct Caller(pub Origin);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let trusted = &state.service.settings().trusted_proxies;
        let address = client_address(peer, &parts.headers, trusted);
        let agent = parts.headers.get(USER_AGENT).and_then(|v| v.to_str().ok());
        Ok(Caller(Origin::http(address, agent)))
    }
}

/// The peer, unless it is a trusted proxy: then, reading X-Forwarded-For from the right
/// (what our proxies appended), the first address that is not one of ours. Entries left of
/// it were written by the client and are never read, so junk there changes nothing; an
/// entry with a port (`IP:port`, `[v6]:port`) counts as its address. With nothing usable the
/// answer is the proxy itself (the lock-out then leaves the address out).
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let values: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    for hop in values.iter().rev().flat_map(|v| v.rsplit(',')) {
        match parse_hop(hop.trim()) {
            Some(ip) if trusted.contains(&ip) => continue,
            Some(ip) => return ip,
            None => break,
        }
    }
    peer
}

fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Ok(sa) = hop.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    hop.rsplit_once(':').and_then(|(h, _)| h.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        let h = headers(&["198.51.100.1, 203.0.113.7"]);
        assert_eq!(client_address(client, &h, &[proxy]), client, "not a proxy");
        assert_eq!(client_address(proxy, &h, &[]), proxy, "no proxy trusted");
        assert_eq!(
            client_address(proxy, &h, &[proxy]),
            client,
            "right-most untrusted"
        );
        let h = headers(&["203.0.113.7", "10.0.0.3"]);
        let both = ["10.0.0.2".parse().unwrap(), "10.0.0.3".parse().unwrap()];
        assert_eq!(client_address(proxy, &h, &both), client, "two proxies");
        assert_eq!(client_address(proxy, &headers(&["junk"]), &[proxy]), proxy);
        // Junk the client wrote left of what our proxy appended changes nothing.
        let h = headers(&["junk, 203.0.113.7"]);
        assert_eq!(client_address(proxy, &h, &[proxy]), client);
        let h = headers(&["203.0.113.7:5123"]);
        assert_eq!(client_address(proxy, &h, &[proxy]), client, "IP:port");
        let h = headers(&["[2001:db8::1]:443"]);
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(client_address(proxy, &h, &[proxy]), v6);
    }
}
