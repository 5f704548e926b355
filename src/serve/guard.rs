//! Requests a web page could make on the user's behalf.
//!
//! A browser connects to loopback like any other program. A page may POST to
//! this server without asking first (a "simple" cross-site request), or
//! point a name it controls at 127.0.0.1 (DNS rebinding) and then read the
//! answers as its own. On a loopback server without tokens either would hand
//! the archive to any web page the user opens. So every request must name
//! this server in `Host`, and a request a page sent (it carries `Origin`)
//! must come from this server's own origin.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::{AppState, ServeError, error};

/// A `Host` (or origin) split into its name and port: the name lower-cased,
/// without a final dot, an IPv6 address in brackets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostPort {
    name: String,
    port: Option<u16>,
}

impl HostPort {
    /// `name`, `name:port`, `[v6]` or `[v6]:port`; nothing else (no user
    /// info, no path), so what is compared is what the client connected to.
    pub fn parse(value: &str) -> Option<HostPort> {
        if value.is_empty() || value.contains(['@', '/', '?', '#', ' ', '\\']) {
            return None;
        }
        let (name, port) = match value.strip_prefix('[') {
            Some(rest) => {
                let (inside, after) = rest.split_once(']')?;
                let port = match after {
                    "" => None,
                    p => Some(p.strip_prefix(':')?.parse::<u16>().ok()?),
                };
                (format!("[{inside}]"), port)
            }
            None => match value.split_once(':') {
                Some((name, port)) => (name.to_string(), Some(port.parse::<u16>().ok()?)),
                None => (value.to_string(), None),
            },
        };
        let name = name.strip_suffix('.').unwrap_or(&name).to_ascii_lowercase();
        if name.is_empty() || name == "[]" {
            return None;
        }
        Some(HostPort { name, port })
    }

    fn ip(&self) -> Option<IpAddr> {
        match self
            .name
            .strip_prefix('[')
            .and_then(|n| n.strip_suffix(']'))
        {
            Some(v6) => v6.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
            None => self.name.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
        }
    }
}

/// The names this server answers to.
pub(crate) struct Hosts {
    bound: SocketAddr,
    /// `--allow-host`: a name without a port matches on any port, since a
    /// proxy in front usually serves it on a port of its own.
    allowed: Vec<HostPort>,
}

impl Hosts {
    pub fn new(bound: SocketAddr, allowed: Vec<HostPort>) -> Hosts {
        Hosts { bound, allowed }
    }

    /// Parses `--allow-host` values before the server binds, so a typo stops
    /// it at start rather than refusing every request.
    pub fn parse_allowed(names: &[String]) -> Result<Vec<HostPort>, ServeError> {
        names
            .iter()
            .map(|n| HostPort::parse(n.trim()).ok_or_else(|| ServeError::BadHost(n.clone())))
            .collect()
    }

    pub fn accepts(&self, host: &HostPort) -> bool {
        if self
            .allowed
            .iter()
            .any(|a| a.name == host.name && a.port.is_none_or(|p| Some(p) == host.port))
        {
            return true;
        }
        // Without a port the client connected to 80, HTTP's default.
        if host.port.unwrap_or(80) != self.bound.port() {
            return false;
        }
        if host.name == "localhost" {
            return true;
        }
        // An address is never a rebinding: that needs a name the attacker
        // controls. Any loopback address reaches only this machine; on an
        // unspecified address (0.0.0.0, [::]) the server listens on all of
        // the machine's addresses.
        match host.ip() {
            Some(ip) => {
                ip.is_loopback() || ip == self.bound.ip() || self.bound.ip().is_unspecified()
            }
            None => false,
        }
    }
}

/// Whether `origin` (an `Origin` header) is this request's own origin: the
/// scheme's default port stands in for a missing one on either side.
fn same_origin(origin: &HeaderValue, host: &HostPort) -> bool {
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    // `null` (a sandboxed page, a file) has no "://" and is never ours.
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let default = match scheme.to_ascii_lowercase().as_str() {
        "http" => 80,
        "https" => 443,
        _ => return false,
    };
    let Some(origin) = HostPort::parse(authority) else {
        return false;
    };
    origin.name == host.name && origin.port.unwrap_or(default) == host.port.unwrap_or(default)
}

/// Refuses a request that does not name this server, or that a page of
/// another origin sent. Runs before the token check: the answer must not
/// depend on whether the page guessed a token.
pub(crate) async fn check(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let from_header = match request.headers().get(header::HOST) {
        Some(value) => match value.to_str().ok().and_then(HostPort::parse) {
            Some(h) => Some(h),
            None => return error(StatusCode::BAD_REQUEST, "malformed Host header"),
        },
        None => None,
    };
    // An absolute request target names the host too; both must be ours.
    let from_target = match request.uri().authority() {
        Some(a) => match HostPort::parse(a.as_str()) {
            Some(h) => Some(h),
            None => return error(StatusCode::BAD_REQUEST, "malformed request target"),
        },
        None => None,
    };
    let Some(host) = from_header.clone().or_else(|| from_target.clone()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "a request must name its host (Host header)",
        );
    };
    // Rule 36: a request must name this server and carry no foreign `Origin`,
    // so no web page can rebind a name to it or post to it.
    for named in [&from_header, &from_target].into_iter().flatten() {
        if !state.hosts.accepts(named) {
            tracing::warn!(host = %named.name, "refused a request naming another host");
            return error(
                StatusCode::FORBIDDEN,
                format!(
                    "this server does not answer to `{}` (see `pond serve --allow-host`)",
                    named.name
                ),
            );
        }
    }
    if let Some(origin) = request.headers().get(header::ORIGIN)
        && !same_origin(origin, &host)
    {
        tracing::warn!("refused a request sent by a page of another origin");
        return error(
            StatusCode::FORBIDDEN,
            "requests from web pages of another origin are refused",
        );
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(s: &str) -> HostPort {
        HostPort::parse(s).unwrap_or_else(|| panic!("{s:?} does not parse"))
    }

    #[test]
    fn rule36_host_names_are_parsed_strictly() {
        assert_eq!(
            hp("LocalHost.:7474"),
            HostPort {
                name: "localhost".into(),
                port: Some(7474)
            }
        );
        assert_eq!(hp("[::1]:80").ip(), Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert_eq!(hp("127.0.0.1").port, None);
        for bad in [
            "", "a@b:1", "a:b", "a:1:2", "::1", "[::1", "[::1]x", "h/p", "h:", "[]", ":80",
        ] {
            assert_eq!(HostPort::parse(bad), None, "{bad:?}");
        }
    }

    /// Asserts `hosts` accepts every name of `ok` and refuses every one of
    /// `refused`, naming the one that fails.
    fn answers_to(hosts: &Hosts, ok: &[&str], refused: &[&str]) {
        for name in ok {
            assert!(hosts.accepts(&hp(name)), "{name}");
        }
        for name in refused {
            assert!(!hosts.accepts(&hp(name)), "{name}");
        }
    }

    #[test]
    fn rule36_a_server_answers_to_its_own_names_only() {
        let loopback = Hosts::new("127.0.0.1:7474".parse().unwrap(), Vec::new());
        answers_to(
            &loopback,
            &[
                "127.0.0.1:7474",
                "localhost:7474",
                "[::1]:7474",
                "127.0.0.2:7474",
            ],
            &[
                "evil.example:7474",
                "localhost.evil.example:7474",
                "127.0.0.1:7475",
                "localhost",
                "10.0.0.5:7474",
            ],
        );
        let everywhere = Hosts::new(
            "0.0.0.0:7474".parse().unwrap(),
            Hosts::parse_allowed(&["Pond.Internal".into(), "proxy:8443".into()]).unwrap(),
        );
        answers_to(
            &everywhere,
            &[
                "10.0.0.5:7474",
                "pond.internal",
                "pond.internal:9999",
                "proxy:8443",
            ],
            &["proxy:8444", "other.internal:7474", "10.0.0.5:80"],
        );
        assert!(Hosts::parse_allowed(&["a b".into()]).is_err());
    }

    #[test]
    fn rule36_only_the_requests_own_origin_passes() {
        let host = hp("127.0.0.1:7474");
        let origin = |s: &'static str| HeaderValue::from_static(s);
        assert!(same_origin(&origin("http://127.0.0.1:7474"), &host));
        for other in [
            "http://evil.example",
            "http://localhost:7474",
            "http://127.0.0.1",
            "null",
            "file://",
        ] {
            assert!(!same_origin(&origin(other), &host), "{other}");
        }
        let proxied = hp("pond.example.com");
        assert!(same_origin(&origin("https://pond.example.com"), &proxied));
        assert!(same_origin(&origin("http://pond.example.com"), &proxied));
    }
}
