//! Which client a request comes from, for rate limiting.

use axum::extract::ConnectInfo;
use axum::http::Request;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use tower_governor::GovernorError;
use tower_governor::key_extractor::KeyExtractor;

/// Keys requests by client IP: the TCP peer, or the address the nearest trusted proxy
/// appended to `X-Forwarded-For`. The address is only held in memory by the limiter.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp {
    /// Whether `X-Forwarded-For` is trusted.
    pub trust_forwarded_for: bool,
}

impl ClientIp {
    /// The client address of a request.
    pub fn of<T>(&self, request: &Request<T>) -> IpAddr {
        if self.trust_forwarded_for {
            let forwarded = request
                .headers()
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|value| value.to_str().ok())
                .flat_map(|value| value.split(','))
                .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
                .next_back();
            if let Some(ip) = forwarded {
                return ip;
            }
        }
        request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }
}

/// The rate limit's key of a client address: IPv4 addresses as they are, IPv6 ones by
/// their /64 network, since one subscriber commonly gets a whole /64 and could otherwise
/// spread a flood over 2^64 keys. IPv4-mapped IPv6 addresses count as their IPv4 address.
pub fn rate_limit_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(
                u128::from(v6) & 0xffff_ffff_ffff_ffff_0000_0000_0000_0000,
            )),
        },
    }
}

impl KeyExtractor for ClientIp {
    type Key = IpAddr;

    fn extract<T>(&self, request: &Request<T>) -> Result<IpAddr, GovernorError> {
        Ok(rate_limit_key(self.of(request)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(xff: &[&str]) -> Request<()> {
        let mut builder = Request::builder();
        for value in xff {
            builder = builder.header("x-forwarded-for", *value);
        }
        let mut request = builder.body(()).unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 9], 4000))));
        request
    }

    #[test]
    fn forwarded_for_is_used_only_when_trusted() {
        let trusted = ClientIp {
            trust_forwarded_for: true,
        };
        let untrusted = ClientIp {
            trust_forwarded_for: false,
        };
        let r = request(&["1.2.3.4, 5.6.7.8"]);
        assert_eq!(trusted.of(&r), "5.6.7.8".parse::<IpAddr>().unwrap());
        assert_eq!(untrusted.of(&r), "10.0.0.9".parse::<IpAddr>().unwrap());
        assert_eq!(
            trusted.of(&request(&["garbage"])),
            "10.0.0.9".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn ipv6_clients_are_limited_by_their_64_network() {
        let key = |ip: &str| rate_limit_key(ip.parse().unwrap()).to_string();
        assert_eq!(key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::");
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(key("192.0.2.7"), "192.0.2.7");
    }
}
