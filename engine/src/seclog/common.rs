//! What the parsers of each PBX share (`asterisk.rs`, `freeswitch.rs`, `kamailio.rs`, function by function
//! as `streams/intake/seclog.py` reads them): addresses, ports, SIP URIs, methods, `round_trip`.

use std::sync::LazyLock;

use regex::Captures;

use super::py::{self, compile, repr, Re};
use super::{Fail, Fields};

pub(super) type Res<T> = Result<T, Fail>;

pub(super) fn err<T>(reason: impl Into<String>) -> Res<T> {
    Err(Fail::Adapter(reason.into()))
}

pub(super) fn text_of<'a>(c: &Captures<'a>, name: &str) -> Option<&'a str> {
    c.name(name).map(|m| m.as_str())
}

pub(super) fn end_of(c: &Captures) -> usize {
    c.get(0).map_or(0, |m| m.end())
}

/// `s[n:]` where `n` is a byte offset that may lie past the end (then "").
pub(super) fn from(s: &str, n: usize) -> &str {
    s.get(n..).unwrap_or("")
}

/// `s[a:b]` with Python's clamping (an empty slice when a >= b).
pub(super) fn slice(s: &str, a: usize, b: usize) -> &str {
    if a >= b {
        return "";
    }
    s.get(a..b.min(s.len())).unwrap_or("")
}

pub(super) fn rpartition<'a>(s: &'a str, sep: &str) -> Option<(&'a str, &'a str)> {
    s.rfind(sep).map(|i| (&s[..i], &s[i + sep.len()..]))
}

pub(super) fn str_opt(s: Option<&str>) -> Option<String> {
    s.map(str::to_string)
}

// -------------------------------------------------------------------------------------- helpers

pub(super) fn no_scope(text: &str) -> Res<()> {
    if text.contains('%') {
        return err(format!(
            "an IPv6 scope id (%…) in {}: refused, an interface name is not an address",
            repr(py::head(text, 64))
        ));
    }
    Ok(())
}

pub(super) fn ip(text: &str) -> Res<String> {
    if py::char_len(text) > 64 {
        return err(format!("not an IP address: {}…", repr(py::head(text, 64))));
    }
    no_scope(text)?;
    match py::canonical_ip(text) {
        Some(ip) => Ok(ip),
        None => err(format!("not an IP address: {}", repr(py::head(text, 64)))),
    }
}

pub(super) fn port(text: &str) -> Res<i64> {
    if !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit()) {
        let v: i64 = text.parse().unwrap_or(i64::MAX);
        if v <= 65535 {
            return Ok(v);
        }
    }
    err(format!("not a port: {}", repr(py::head(text, 16))))
}

pub(super) type Address = (String, Option<i64>);

pub(super) fn addr(text: &str) -> Res<Address> {
    let text = py::strip(text);
    if py::char_len(text) > 72 {
        return err(format!("not an address: {}…", repr(py::head(text, 64))));
    }
    no_scope(text)?;
    if let Some(inner) = text.strip_prefix('[') {
        let (host, rest) = inner.split_once(']').unwrap_or((inner, ""));
        if !rest.is_empty() && !rest.starts_with(':') {
            return err(format!("not an address: {}", repr(text)));
        }
        let host = ip(host)?;
        let port = if rest.is_empty() { None } else { Some(port(&rest[1..])?) };
        return Ok((host, port));
    }
    if let Some(v) = py::canonical_ip(text) {
        return Ok((v, None));
    }
    match rpartition(text, ":") {
        None => err(format!("not an address: {}", repr(text))),
        Some((host, p)) => {
            let host = ip(host)?;
            Ok((host, Some(port(p)?)))
        }
    }
}

pub(super) fn addr_port(text: &str) -> Res<Address> {
    let text = py::strip(text);
    if text.starts_with('[') {
        return addr(text);
    }
    match rpartition(text, ":") {
        Some((host, p)) => {
            let host = ip(host)?;
            Ok((host, Some(port(p)?)))
        }
        None => addr(text),
    }
}

pub(super) fn host_port(text: &str) -> Res<(String, i64)> {
    match addr_port(text)? {
        (ip, Some(port)) => Ok((ip, port)),
        (_, None) => err(format!("not an address with a port: {}", repr(py::head(text, 64)))),
    }
}

pub(super) static URI: LazyLock<Re> = LazyLock::new(|| compile("<[sSſ][iIıİ][pP][sSſ]?:"));
pub(super) static BARE_URI: LazyLock<Re> = LazyLock::new(|| compile("[sSſ][iIıİ][pP][sSſ]?:"));

/// `_uri_user`: the user part of the SIP URI in a From/To value.
pub(super) fn uri_user(text: &str) -> Option<String> {
    let found = URI.find_last(text).or_else(|| BARE_URI.find(text))?;
    let rest = &text[found.end()..];
    let user = match rest.find('@') {
        Some(at) => rest[..at].split(';').next().unwrap_or(""),
        None => "",
    };
    (!user.is_empty() && !user.contains('>')).then(|| user.to_string())
}

pub(super) fn action(method: Option<&str>) -> String {
    let m = py::upper(method.unwrap_or("REGISTER"));
    match m.as_str() {
        "REGISTER" => "register".into(),
        "INVITE" => "invite".into(),
        _ => py::lower(&m),
    }
}

pub(super) fn protocol(name: &str) -> Option<&'static str> {
    match py::upper(name).as_str() {
        "UDP" => Some("udp"),
        "TCP" => Some("tcp"),
        "TLS" => Some("tls"),
        "WS" => Some("ws"),
        "WSS" => Some("wss"),
        _ => None,
    }
}

pub(super) const UNPROVEN: [&str; 19] = [
    "no matching peer", "no matching endpoint", "not match endpoint", "no such peer", "user not found",
    "nonexistent user", "invalidaccountid", "failedacl", "unexpectedaddress", "acl", "not a local domain",
    "auth name mismatch", "peer is not supposed to register", "extension not found", "unknown sip connection",
    "pike", "malformed", "blocked:", "hacking attempt",
];
pub(super) const PROVEN: [&str; 6] = ["wrong password", "failed to authenticate", "challengeresponsefailed", "invalidpassword",
    "failed md5 authentication", "auth failure"];

/// `streams.intake.proof.round_trip`.
pub(crate) fn round_trip(service: Option<&str>, reason: Option<&str>) -> Option<bool> {
    if matches!(service, Some("ami" | "esl")) {
        return Some(true);
    }
    let why = py::lower(reason.unwrap_or(""));
    if service == Some("iax2") && why == "failed to authenticate" {
        return Some(false);
    }
    if UNPROVEN.iter().any(|w| why.contains(w)) {
        return Some(false);
    }
    if PROVEN.iter().any(|w| why.contains(w)) {
        return Some(true);
    }
    None
}

pub(super) fn failure(service: &str, (ip, port): Address) -> Fields {
    Fields {
        service: Some(service.into()),
        src_ip: Some(ip),
        port,
        outcome: Some("failure"),
        ..Fields::default()
    }
}

/// An address where it comes first: IPv4, IPv6, bracketed, with a port, or with a scope id (so that
/// one is refused by name rather than the line skipped); `addr` reads it.
pub(super) const HOST: &str = r"[\w.:\[\]%-]{2,80}";
