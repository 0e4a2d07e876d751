//! Who the client is when Tollgate runs behind reverse proxies. Forwarded headers are believed
//! only from configured proxies: the client is the rightmost address in `X-Forwarded-For` that
//! is not itself a trusted proxy.

use std::net::IpAddr;
use std::str::FromStr;

/// An address range such as `10.0.0.0/8`, `::1/128` or a single address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

/// Why a range could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an address range: write an IP address or CIDR such as 10.0.0.0/8 or ::1")]
pub struct RangeError(pub String);

impl FromStr for IpRange {
    type Err = RangeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = || RangeError(text.to_string());
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text.trim(), None),
        };
        let network: IpAddr = addr.parse().map_err(|_| err())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(err)?,
            None => max,
        };
        Ok(Self { network, prefix })
    }
}

impl IpRange {
    /// Whether `ip` lies in the range (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The client's address: `peer` itself unless `peer` is a trusted proxy, in which case the
/// rightmost untrusted hop of `forwarded_for` (all `X-Forwarded-For` values, in order).
pub fn client_ip(peer: IpAddr, forwarded_for: &[&str], trusted: &[IpRange]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|r| r.contains(ip));
    if !is_trusted(peer) {
        return canonical(peer);
    }
    let hops = forwarded_for
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    let mut client = canonical(peer);
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                client = canonical(ip);
                if !is_trusted(client) {
                    return client;
                }
            }
            // A malformed hop ends what can be believed; the last good hop stands.
            Err(_) => return client,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ranges(list: &[&str]) -> Vec<IpRange> {
        list.iter().map(|r| r.parse().unwrap()).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_ranges_and_rejects_nonsense() {
        assert!("10.0.0.0/8"
            .parse::<IpRange>()
            .unwrap()
            .contains(ip("10.20.30.40")));
        assert!(!"10.0.0.0/8"
            .parse::<IpRange>()
            .unwrap()
            .contains(ip("11.0.0.1")));
        assert!("::1".parse::<IpRange>().unwrap().contains(ip("::1")));
        assert!("0.0.0.0/0"
            .parse::<IpRange>()
            .unwrap()
            .contains(ip("8.8.8.8")));
        for bad in ["", "10.0.0.0/33", "proxy.internal", "10.0.0/8", "::1/129"] {
            assert!(bad.parse::<IpRange>().is_err(), "{bad}");
        }
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_it_claims() {
        let trusted = ranges(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(ip("203.0.113.9"), &["1.2.3.4"], &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_ip(ip("203.0.113.9"), &["1.2.3.4"], &[]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn trusted_proxy_chain_yields_rightmost_untrusted_hop() {
        let trusted = ranges(&["10.0.0.0/8", "192.168.1.1"]);
        let got = client_ip(
            ip("10.0.0.2"),
            &["6.6.6.6, 198.51.100.7", "192.168.1.1"],
            &trusted,
        );
        assert_eq!(
            got,
            ip("198.51.100.7"),
            "the spoofed leftmost value is ignored"
        );
        assert_eq!(client_ip(ip("10.0.0.2"), &[], &trusted), ip("10.0.0.2"));
        assert_eq!(
            client_ip(ip("10.0.0.2"), &["garbage"], &trusted),
            ip("10.0.0.2")
        );
        assert_eq!(
            client_ip(ip("::ffff:10.0.0.2"), &["198.51.100.7"], &trusted),
            ip("198.51.100.7")
        );
    }

    proptest! {
        #[test]
        fn never_returns_a_trusted_hop_when_an_untrusted_one_exists(
            client in any::<[u8; 4]>(), proxies in 0usize..4
        ) {
            let client = IpAddr::from(client);
            prop_assume!(!ranges(&["10.0.0.0/8"])[0].contains(client));
            let chain: Vec<String> = std::iter::once(client.to_string())
                .chain((0..proxies).map(|i| format!("10.0.0.{i}")))
                .collect();
            let header = chain.join(", ");
            prop_assert_eq!(client_ip(ip("10.9.9.9"), &[header.as_str()], &ranges(&["10.0.0.0/8"])), client);
        }
    }
}
