//! Kamailio's messages (pike, the default cfg, secfilter, tollguard-sec/1), as `streams/intake/seclog.py` reads them.

use std::sync::LazyLock;

use regex::Captures;

use super::common::*;
use super::py::{self, full, matcher, Re};
use super::{Fail, Fields, Line, Parsed};

// ------------------------------------------------------------------------------------- Kamailio

static KAM_PIKE_ALERT: LazyLock<Re> =
    LazyLock::new(|| matcher(r"(?:ALERT: )?pike blocking (?P<method>[A-Za-z]{1,32}) from "));
static KAM_SECF: LazyLock<Re> =
    LazyLock::new(|| matcher(&format!(r"(?P<method>[A-Za-z]{{1,32}}) (?:from|to) (?P<hp>{HOST}) blocked because ")));
const KAM_ENC: &str = r"[A-Za-z0-9._~%-]{0,768}";
static KAM_TG: LazyLock<Re> = LazyLock::new(|| {
    full(&format!(
        r"tollguard-sec/1 event=(?P<event>[a-z-]{{1,16}}) reason=(?P<reason>[a-z-]{{1,32}}) src=(?P<ip>[0-9A-Fa-f.:]{{2,45}}) port=(?P<port>\d{{1,5}}) proto=(?P<proto>[a-z]{{2,5}}) time=(?P<sec>\d{{9,11}}) usec=(?P<usec>\d{{1,6}}) method=(?P<method>{KAM_ENC}) user=(?P<user>{KAM_ENC}) ua=(?P<ua>{KAM_ENC})"
    ))
});

pub(crate) fn kamailio(p: &Line) -> Parsed {
    let msg = p.msg;
    if p.src == Some("pike") {
        if let Some(rest) = msg.strip_prefix("PIKE - BLOCKing ip ") {
            let (ip, _) = addr(rest.split(',').next().unwrap_or(""))?;
            return Ok(Some(Fields { reason: Some("pike flood block".into()), ..failure("sip", (ip, None)) }));
        }
    }
    if p.src != Some("<script>") {
        return Ok(None);
    }
    if msg.starts_with("tollguard-sec/") {
        return kam_tollguard(msg).map(Some);
    }
    if let Some(rest) = msg.strip_prefix("Malformed SIP message from ") {
        let a = addr_port(rest.split(' ').next().unwrap_or(""))?;
        return Ok(Some(Fields { reason: Some("malformed SIP message".into()), ..failure("sip", a) }));
    }
    if let Some(m) = KAM_PIKE_ALERT.captures(msg) {
        return kam_pike_alert(msg, text_of(&m, "method").unwrap_or("")).map(Some);
    }
    match KAM_SECF.captures(msg) {
        Some(m) => kam_secfilter(msg, &m).map(Some),
        None => Ok(None),
    }
}

fn kam_pike_alert(msg: &str, method: &str) -> Res<Fields> {
    let place = rpartition(py::rstrip(msg), " (IP:").map(|(_, w)| w).filter(|w| w.ends_with(')'));
    let Some(place) = place else { return err("no source address in Kamailio's pike alert") };
    let a = addr_port(&place[..place.len() - 1])?;
    Ok(Fields { action: Some(action(Some(method))), reason: Some("pike flood block".into()), ..failure("sip", a) })
}

fn kam_secfilter(msg: &str, m: &Captures) -> Res<Fields> {
    let a = addr(text_of(m, "hp").unwrap_or(""))?;
    let mut why = py::rstrip(&msg[end_of(m)..]).to_string();
    let mut dialled = None;
    if why.starts_with("destination ") && why.ends_with(" is blacklisted") {
        dialled = Some(slice(&why, "destination ".len(), why.len() - " is blacklisted".len()).to_string());
        why = "destination is blacklisted".into();
    }
    Ok(Fields {
        action: Some(action(text_of(m, "method"))),
        reason: Some(format!("blocked: {why}")),
        dialled,
        ..failure("sip", a)
    })
}

fn kam_tollguard(msg: &str) -> Res<Fields> {
    let Some(m) = KAM_TG.captures(py::rstrip(msg)) else {
        return err("not a tollguard-sec/1 line as docs/kamailio/tollguard-security-log.cfg writes it (its fields in that order, the sender's percent-encoded): refused");
    };
    let g = |n| text_of(&m, n).unwrap_or("");
    let kind = match (g("event"), g("reason")) {
        ("auth-failed", "wrong-password") => Some(("failure", Some("wrong password"))),
        ("auth-failed", "unknown-user") => Some(("failure", Some("unknown user"))),
        ("auth-failed", "user-mismatch") => Some(("failure", Some("authenticated as another user than the To or From user"))),
        ("auth-ok", "ok") => Some(("success", None)),
        ("pike", "flood") => Some(("failure", Some("pike flood block"))),
        ("acl", "denied-source") => Some(("failure", Some("refused by ACL"))),
        _ => None,
    };
    let proto = g("proto");
    let known = ["udp", "tcp", "tls", "ws", "wss", "sctp"].contains(&proto);
    let Some((outcome, reason)) = kind.filter(|_| known) else {
        return err(format!("tollguard-sec/1: unknown event {}/{} or protocol {proto}: refused", g("event"), g("reason")));
    };
    let addr = ip(g("ip")).and_then(|ip| Ok((ip, port(g("port"))?)));
    let (ip, p) = match addr {
        Ok(a) => a,
        Err(Fail::Adapter(e)) => return err(format!("tollguard-sec/1: {e}")),
        Err(e) => return Err(e),
    };
    let auth = g("event").starts_with("auth-");
    let method = py::unquote(g("method"));
    Ok(Fields {
        ts: Some(format!("{}-{}", g("sec"), g("usec"))),
        service: Some("sip".into()),
        src_ip: Some(ip),
        port: Some(p),
        outcome: Some(outcome),
        protocol: if proto == "sctp" { None } else { Some(["udp", "tcp", "tls", "ws", "wss"].into_iter().find(|x| *x == proto).unwrap_or("udp")) },
        action: Some(action(Some(method.as_str()).filter(|m| !m.is_empty()))),
        account: auth.then(|| py::unquote(g("user"))),
        user_agent: Some(py::unquote(g("ua"))),
        reason: reason.map(str::to_string),
        round_trip: Some(auth || proto != "udp"),
        ..Fields::default()
    })
}
