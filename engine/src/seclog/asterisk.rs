//! Asterisk's messages (chan_sip, res_pjsip, chan_iax2, manager.c, FreePBX's dialplan, res_security_log),
//! function by function as `streams/intake/seclog.py` reads them.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use regex::Captures;

use super::common::*;
use super::py::{self, compile, full, matcher, Re};
use super::{Fail, Fields, Line, Parsed, Tail};

// ------------------------------------------------------------------------------------- Asterisk

pub(crate) fn asterisk(p: &Line) -> Parsed {
    if !matches!(p.level, "NOTICE" | "WARNING" | "ERROR" | "SECURITY") {
        return Ok(None);
    }
    let Some(src) = p.src else { return unknown_connection(p.msg, p.context) };
    match src {
        "chan_sip.c" => chan_sip(p.msg),
        "pjsip_distributor.c" => pjsip_request(p.msg),
        "res_pjsip_session.c" => pjsip_session(p.msg),
        "chan_iax2.c" => iax2(p.msg),
        "manager.c" => ami(p.msg),
        "res_security_log.c" => security_log(p.msg),
        _ => Ok(None),
    }
}

fn chan_sip(msg: &str) -> Parsed {
    if msg.starts_with("Registration from '") {
        return sip_registration(msg).map(Some);
    }
    if msg.starts_with("Call from '") {
        return sip_call(msg).map(Some);
    }
    if let Some(rest) = msg.strip_prefix("hacking attempt detected '") {
        let a = addr(py::rstrip(rest).trim_end_matches('\''))?;
        return Ok(Some(Fields { reason: Some("hacking attempt detected".into()), ..failure("sip", a) }));
    }
    if msg.starts_with("Failed to authenticate device ") {
        return err("no source address in chan_sip's 'Failed to authenticate device' line");
    }
    Ok(None)
}

static SIP_REG_END: LazyLock<Re> = LazyLock::new(|| full(r"(?P<hp>[^'\s]{1,64})' - (?P<reason>[^']{1,256})"));

fn sip_registration(msg: &str) -> Res<Fields> {
    let parts = rpartition(msg, "' failed for '");
    let end = parts.and_then(|(_, tail)| SIP_REG_END.captures(tail));
    let (Some((head, _)), Some(end)) = (parts, end) else {
        return err("no source address in chan_sip's registration failure");
    };
    let a = addr(text_of(&end, "hp").unwrap_or(""))?;
    Ok(Fields {
        action: Some("register".into()),
        account: uri_user(from(head, "Registration from '".len())),
        reason: Some(py::strip(text_of(&end, "reason").unwrap_or("")).to_string()),
        ..failure("sip", a)
    })
}

const NOT_FOUND: &str = "' rejected because extension not found in context '";
static CONTEXT: LazyLock<Re> = LazyLock::new(|| full(r"(?P<ctx>[^']{0,256})'\.?"));
static SIP_CALL_SEP: LazyLock<Re> = LazyLock::new(|| compile(r"' \((?P<hp>[^()\s']{1,64})\) to extension '"));
static PJ_CALL: LazyLock<Re> = LazyLock::new(|| {
    matcher(
        r"(?:Call from '(?P<endpoint>[^']{0,128})'|(?P<name>[^\s:']{1,128}): Call) \((?P<proto>[A-Za-z]{2,5})6?:(?P<hp>[^()\s']{1,64})\) to extension '",
    )
});

fn not_found(msg: &str) -> Option<(&str, String)> {
    let (head, tail) = rpartition(msg, NOT_FOUND)?;
    let m = CONTEXT.captures(tail)?;
    Some((head, text_of(&m, "ctx").unwrap_or("").to_string()))
}

fn sip_call(msg: &str) -> Res<Fields> {
    let what = "chan_sip's 'extension not found' line";
    let Some((head, ctx)) = not_found(msg) else {
        return Err(Fail::Unended { what, tail: Tail::NotFound, event: None });
    };
    let (start, end, (ip, port)) = one_reading(&SIP_CALL_SEP, head, "Call from '".len(), what)?;
    Ok(Fields {
        action: Some("invite".into()),
        account: Some(slice(head, "Call from '".len(), start).to_string()),
        reason: Some("extension not found".into()),
        dialled: Some(from(head, end).to_string()),
        context: Some(ctx),
        ..failure("sip", (ip, Some(port)))
    })
}

fn pjsip_session(msg: &str) -> Parsed {
    let m = PJ_CALL.captures(msg);
    let found = not_found(msg);
    let Some(m) = m else {
        if found.is_some() || msg.starts_with("Call from '") {
            return err("no source address in res_pjsip_session's 'extension not found' line");
        }
        return Ok(None);
    };
    let (ip, port) = host_port(text_of(&m, "hp").unwrap_or(""))?;
    let event = Fields {
        action: Some("invite".into()),
        account: str_opt(text_of(&m, "endpoint").or(text_of(&m, "name"))),
        protocol: protocol(text_of(&m, "proto").unwrap_or("")),
        reason: Some("extension not found".into()),
        ..failure("sip", (ip, Some(port)))
    };
    let Some((head, ctx)) = found else {
        return Err(Fail::Unended {
            what: "res_pjsip_session's 'extension not found' line",
            tail: Tail::NotFound,
            event: Some(Box::new(event)),
        });
    };
    Ok(Some(Fields { dialled: Some(from(head, end_of(&m)).to_string()), context: Some(ctx), ..event }))
}

/// `_one_reading`: (separator start, separator end, address).
fn one_reading(pattern: &Re, text: &str, start: usize, what: &str) -> Res<(usize, usize, (String, i64))> {
    let mut first: Option<(usize, usize, (String, i64))> = None;
    let mut tried: HashSet<&str> = HashSet::new();
    let mut error: Option<Fail> = None;
    let mut pos = start.min(text.len());
    let pattern = pattern.pick(text);
    while let Some(m) = pattern.captures_at(text, pos) {
        let whole = m.get(0).map_or(pos..pos, |g| g.range());
        pos = whole.start + text[whole.start..].chars().next().map_or(1, char::len_utf8);
        let hp = text_of(&m, "hp").unwrap_or("");
        if !tried.insert(hp) {
            continue;
        }
        let address = match host_port(hp) {
            Ok(a) => a,
            Err(e) => {
                error = error.or(Some(e));
                continue;
            }
        };
        match &first {
            None => first = Some((whole.start, whole.end, address)),
            Some((_, _, f)) if *f != address => {
                return err(format!(
                    "ambiguous source address in {what}: the sender's text holds a second separator, so it may come from {} or {}; refused, not guessed",
                    show(f),
                    show(&address)
                ));
            }
            Some(_) => {}
        }
        if pos > text.len() {
            break;
        }
    }
    match first {
        Some(f) => Ok(f),
        None => Err(error.unwrap_or_else(|| Fail::Adapter(format!("no source address in {what}")))),
    }
}

fn show((ip, port): &(String, i64)) -> String {
    let host = if ip.contains(':') { format!("[{ip}]") } else { ip.clone() };
    format!("{host}:{port}")
}

static PJ_REQUEST: LazyLock<Re> = LazyLock::new(|| matcher(r"Request(?: '(?P<method>[A-Za-z]{1,32})')? from '"));
static PJ_SEP: LazyLock<Re> = LazyLock::new(|| compile(r"' failed for '(?P<hp>[^'\s]{1,64})' \(callid: "));
static PJ_END: LazyLock<Re> = LazyLock::new(|| {
    full(r"\) - (?P<reason>[A-Za-z][^'()]{0,160}?)(?: after \d{1,9} tries in [\d.]{1,16} ms)?")
});

fn pjsip_request(msg: &str) -> Parsed {
    let Some(m) = PJ_REQUEST.captures(msg) else { return Ok(None) };
    let parts = msg.rfind(") - ").map(|i| (&msg[..i], &msg[i..]));
    let end = parts.and_then(|(_, tail)| PJ_END.captures(tail));
    let (Some((head, _)), Some(end)) = (parts, end) else {
        return Err(Fail::Unended { what: "res_pjsip's request failure", tail: Tail::PjsipRequest, event: None });
    };
    let (sep_start, _, (ip, port)) = one_reading(&PJ_SEP, head, end_of(&m), "res_pjsip's request failure")?;
    Ok(Some(Fields {
        action: Some(action(text_of(&m, "method"))),
        account: uri_user(slice(msg, end_of(&m), sep_start)),
        reason: str_opt(text_of(&end, "reason")),
        ..failure("sip", (ip, Some(port)))
    }))
}

static IAX_HOST: LazyLock<Re> = LazyLock::new(|| {
    matcher(r"Host (?P<hp>[^\s']{1,64}) failed (?:to authenticate as|(?P<how>\w{1,16}) authentication for) '")
});
static IAX_FROM: LazyLock<Re> = LazyLock::new(|| full(r"' \(from (?P<hp>[^\s()']{1,64})\)"));
const IAX_PEER: &str = "No registration for peer '";

fn iax2(msg: &str) -> Parsed {
    if let Some(m) = IAX_HOST.captures(msg) {
        return iax_host(msg, &m).map(Some);
    }
    if let Some(rest) = msg.strip_prefix(IAX_PEER) {
        let parts = rpartition(rest, "' (from ");
        let end = parts.and_then(|(_, tail)| IAX_FROM.captures(&format!("' (from {tail}")).map(|c| {
            text_of(&c, "hp").unwrap_or("").to_string()
        }));
        let (Some((account, _)), Some(hp)) = (parts, end) else {
            return Err(Fail::Unended { what: "chan_iax2's 'No registration for peer' line", tail: Tail::Iax2Peer, event: None });
        };
        return iax_event(&hp, Some(account.to_string()), "no such peer".into()).map(Some);
    }
    Ok(None)
}

fn iax_host(msg: &str, m: &Captures) -> Res<Fields> {
    let rest = &msg[end_of(m)..];
    let hp = text_of(m, "hp").unwrap_or("");
    let how = text_of(m, "how");
    let (ended, event) = match how {
        Some(how) => {
            let account = rest.split_once("' (").map_or(rest, |(a, _)| a);
            (rest.ends_with(')'), iax_event(hp, Some(account.to_string()), format!("failed {how} authentication"))?)
        }
        None => {
            let ended = rest.ends_with('\'');
            let account = ended.then(|| rest[..rest.len() - 1].to_string());
            (ended, iax_event(hp, account, "failed to authenticate".into())?)
        }
    };
    if !ended {
        let tail = if how.is_some() { Tail::Paren } else { Tail::Quote };
        return Err(Fail::Unended { what: "chan_iax2's authentication failure", tail, event: Some(Box::new(event)) });
    }
    Ok(event)
}

fn iax_event(place: &str, account: Option<String>, reason: String) -> Res<Fields> {
    let a = addr(place)?;
    Ok(Fields { action: Some("register".into()), account, reason: Some(reason), ..failure("iax2", a) })
}


static AMI: LazyLock<Re> = LazyLock::new(|| {
    matcher(&format!(
        r"(?P<hp>{HOST}) (?P<what>failed to authenticate as|tried to authenticate with nonexistent user|failed to pass IP ACL as) '"
    ))
});

fn ami(msg: &str) -> Parsed {
    let Some(m) = AMI.captures(msg) else { return Ok(None) };
    let a = addr(text_of(&m, "hp").unwrap_or(""))?;
    let reason = match text_of(&m, "what") {
        Some("failed to authenticate as") => "wrong password",
        Some("failed to pass IP ACL as") => "failed IP ACL",
        _ => "nonexistent user",
    };
    let rest = &msg[end_of(&m)..];
    let ended = rest.ends_with('\'');
    let event = Fields {
        action: Some("login".into()),
        account: ended.then(|| rest[..rest.len() - 1].to_string()),
        reason: Some(reason.into()),
        ..failure("ami", a)
    };
    if !ended {
        return Err(Fail::Unended { what: "manager.c's authentication failure", tail: Tail::Quote, event: Some(Box::new(event)) });
    }
    Ok(Some(event))
}

// the reference's backreference `(?P<q>"?)…(?P=q)` as its two readings, quoted first
static UNKNOWN: LazyLock<Re> = LazyLock::new(|| {
    full(r#""Rejecting unknown SIP connection from (?P<hq>[^\s"]{1,72})"|Rejecting unknown SIP connection from (?P<hp>[^\s"]{1,72})"#)
});

fn unknown_connection(msg: &str, context: Option<&str>) -> Parsed {
    let Some(m) = UNKNOWN.captures(py::rstrip(msg)) else { return Ok(None) };
    let a = addr(text_of(&m, "hq").or(text_of(&m, "hp")).unwrap_or(""))?;
    Ok(Some(Fields { reason: Some("unknown SIP connection".into()), context: str_opt(context), ..failure("sip", a) }))
}

// ------------------------------------------------------------------------ Asterisk res_security_log

static SEC_REMOTE: LazyLock<Re> = LazyLock::new(|| {
    compile(r#"",RemoteAddress="(?P<fam>IPV[46])/(?P<proto>[A-Za-z]{2,5})/(?P<ip>[0-9A-Fa-f.:]{2,45}(?:%[^/"\s]{1,32})?)/(?P<port>\d{1,5})""#)
});
static SEC_HEAD: LazyLock<Re> = LazyLock::new(|| matcher(r#"(?P<k>[A-Za-z]{1,32})="(?P<v>[^"]{0,128})"(?:,|$)"#));

fn sec_outcome(name: &str) -> Option<&'static str> {
    match name {
        "SuccessfulAuth" => Some("success"),
        "ChallengeSent" => Some("request"),
        "FailedACL" | "InvalidAccountID" | "SessionLimit" | "MemoryLimit" | "LoadAverageLimit"
        | "RequestNotSupported" | "RequestNotAllowed" | "AuthMethodNotAllowed" | "RequestBadFormat"
        | "UnexpectedAddress" | "ChallengeResponseFailed" | "InvalidPassword" | "InvalidTransport" => Some("failure"),
        _ => None,
    }
}

/// The last `",RemoteAddress="…"` whose quote is not escaped (the reference's `(?<!\\)`, finditer).
fn last_remote(msg: &str) -> Option<Captures<'_>> {
    let mut last = None;
    let mut pos = 0;
    let remote = SEC_REMOTE.pick(msg);
    while pos <= msg.len() {
        let Some(m) = remote.captures_at(msg, pos) else { break };
        let whole = m.get(0).map_or(pos..pos, |g| g.range());
        if msg[..whole.start].ends_with('\\') {
            pos = whole.start + 1; // '"' is one byte
            continue;
        }
        pos = whole.end.max(whole.start + 1);
        last = Some(m);
    }
    last
}

fn security_log(msg: &str) -> Parsed {
    if !msg.starts_with("SecurityEvent=\"") {
        return Ok(None);
    }
    let Some(remote) = last_remote(msg) else {
        return err("no source address (RemoteAddress) in res_security_log line");
    };
    let whole = remote.get(0).map_or(0..0, |g| g.range());
    let (head, pos) = sec_head(msg, whole.start);
    let name = head.get("SecurityEvent").copied().unwrap_or("");
    let Some(outcome) = sec_outcome(name) else { return Ok(None) };
    let request_type = sec_tail_request_type(msg, whole.end);
    let account = sec_account(msg, pos, whole.start);
    let raw_service = head.get("Service").copied().unwrap_or("");
    let service = match py::upper(raw_service).as_str() {
        "SIP" | "PJSIP" => "sip".to_string(),
        "AMI" => "ami".to_string(),
        "IAX2" => "iax2".to_string(),
        _ => {
            let low = py::lower(raw_service);
            if low.is_empty() { "unknown".to_string() } else { low }
        }
    };
    let act = if service == "ami" {
        Some("login".to_string())
    } else if name == "SuccessfulAuth" {
        Some("auth".to_string())
    } else if service == "sip" {
        Some(action(request_type))
    } else if service == "iax2" {
        Some(action(None))
    } else {
        None
    };
    let src_ip = ip(text_of(&remote, "ip").unwrap_or(""))?;
    let p = port(text_of(&remote, "port").unwrap_or(""))?;
    Ok(Some(Fields {
        service: Some(service),
        src_ip: Some(src_ip),
        outcome: Some(outcome),
        action: act,
        account,
        protocol: protocol(text_of(&remote, "proto").unwrap_or("")),
        port: Some(p),
        reason: Some(name.to_string()),
        ts: head.get("EventTV").filter(|v| !v.is_empty()).map(|v| v.to_string()),
        ..Fields::default()
    }))
}

fn sec_head(msg: &str, end: usize) -> (HashMap<&str, &str>, usize) {
    let mut head = HashMap::new();
    let mut pos = 0;
    while pos < end && !msg[pos..].starts_with("AccountID=") && !msg[pos..].starts_with("SessionID=") {
        let Some(m) = SEC_HEAD.captures(&msg[pos..end]) else { break };
        head.insert(text_of(&m, "k").unwrap_or(""), text_of(&m, "v").unwrap_or(""));
        pos += end_of(&m);
    }
    (head, pos)
}

fn sec_account(msg: &str, pos: usize, end: usize) -> Option<String> {
    if !msg[pos..].starts_with("AccountID=\"") {
        return None;
    }
    let start = pos + "AccountID=\"".len();
    let window = slice(msg, start, end);
    let account = match window.find("\",SessionID=\"") {
        Some(stop) => &window[..stop],
        None => window,
    };
    (!account.is_empty() && account != "<unknown>").then(|| account.to_string())
}

/// `_sec_tail`'s RequestType: `,KEY="VALUE"` fields read while well formed (at most 32 keys), the
/// first of each key kept. The value is runs of at most 4096 characters other than `"` and `\`,
/// with at most 64 backslash escapes between them.
fn sec_tail_request_type(msg: &str, mut pos: usize) -> Option<&str> {
    let mut keys: Vec<&str> = Vec::new();
    let mut found = None;
    while pos < msg.len() && keys.len() < 32 {
        let Some((k, v, end)) = sec_tail_field(msg, pos) else { break };
        if !keys.contains(&k) {
            keys.push(k);
            if k == "RequestType" {
                found = Some(v);
            }
        }
        pos = end;
    }
    found
}

fn sec_tail_field(msg: &str, pos: usize) -> Option<(&str, &str, usize)> {
    let rest = msg[pos..].strip_prefix(',')?;
    let klen = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
    if !(1..=32).contains(&klen) {
        return None;
    }
    let after = rest[klen..].strip_prefix("=\"")?;
    let vstart = pos + 1 + klen + 2;
    let mut chars = after.char_indices();
    let mut run = 0usize;
    let mut escapes = 0usize;
    loop {
        let (i, c) = chars.next()?;
        match c {
            '"' => return Some((&rest[..klen], &after[..i], vstart + i + 1)),
            '\\' => {
                escapes += 1;
                if escapes > 64 {
                    return None;
                }
                let (_, e) = chars.next()?;
                if e == '\n' {
                    return None;
                }
                run = 0;
            }
            _ => {
                run += 1;
                if run > 4096 {
                    return None;
                }
            }
        }
    }
}

