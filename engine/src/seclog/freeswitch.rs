//! FreeSWITCH's messages (sofia, mod_event_socket, mod_verto), as `streams/intake/seclog.py` reads them.

use std::sync::LazyLock;

use super::common::*;
use super::py::{full, matcher, Re};
use super::{Fail, Fields, Line, Parsed, Tail};

// ----------------------------------------------------------------------------------- FreeSWITCH

static FS_AUTH: LazyLock<Re> = LazyLock::new(|| {
    matcher(r"SIP auth (?P<what>failure|challenge) \((?P<method>[A-Z]{1,16})\) on sofia profile '(?P<profile>[^']{0,128})' for \[")
});
static FS_ACL: LazyLock<Re> = LazyLock::new(|| {
    matcher(&format!(
        r#"IP (?P<hp>{HOST}) Rejected by (?P<reg>register )?acl "(?P<acl>[^"]{{0,128}})"(?P<fallback>\. Falling back to Digest auth\.)? *$"#
    ))
});
static FS_USER_ACL: LazyLock<Re> = LazyLock::new(|| {
    full(&format!(
        r"IP (?P<hp>{HOST}) Rejected by user acl \[(?P<acl>[^\]]{{0,256}})\] (?P<then>and no proxy acl present|checking proxy ACLs now) *"
    ))
});
static FS_ACL_ONLY: LazyLock<Re> = LazyLock::new(|| {
    full(&format!(
        r"IP/Port (?P<hp>{HOST}) (?P<port>\d{{1,5}}) Rejected by acls and auth-calls-acl-only flag is set, rejecting call *"
    ))
});
static FS_INCOMPLETE: LazyLock<Re> = LazyLock::new(|| {
    full(&format!(r"Can not do authorization without a complete header in REGISTER request from (?P<hp>{HOST}) *"))
});
static VERTO_ACL: LazyLock<Re> = LazyLock::new(|| {
    full(&format!(r"(?P<name>{HOST}) Client Connect from (?P<hp>{HOST}) refused by ACL (?P<acl>\S{{1,128}}) *"))
});
const VERTO_LOGIN: &str = "Login incorrect for user: ";

pub(crate) fn freeswitch(p: &Line) -> Parsed {
    let msg = p.msg;
    match p.src {
        Some("mod_event_socket.c") => return fs_acl(msg, "esl"),
        Some("mod_verto.c") => return verto(msg),
        Some("sofia_reg.c" | "sofia.c") => {}
        _ => return Ok(None),
    }
    if msg.starts_with("SIP auth ") {
        return fs_auth(msg);
    }
    if let Some(rest) = msg.strip_prefix("Can't find user [") {
        return fs_no_user(rest).map(Some);
    }
    if msg.starts_with("IP/Port ") {
        return fs_acl_only(msg);
    }
    if msg.starts_with("IP ") {
        return if msg.contains(" Rejected by user acl ") { fs_user_acl(msg) } else { fs_acl(msg, "sip") };
    }
    if msg.starts_with("Can not do authorization without ") {
        return fs_incomplete(msg);
    }
    Ok(None)
}

fn fs_auth(msg: &str) -> Parsed {
    let Some(m) = FS_AUTH.captures(msg) else { return Ok(None) };
    let Some((target, place)) = rpartition(&msg[end_of(&m)..], "] from ip ") else {
        return err("no source address in FreeSWITCH's 'SIP auth' line");
    };
    let a = addr(place)?;
    let user = rpartition(target, "@").map(|(u, _)| u).filter(|u| !u.is_empty()).map(str::to_string);
    let what = text_of(&m, "what").unwrap_or("");
    let method = text_of(&m, "method").unwrap_or("");
    let invite = method == "INVITE";
    let (account, dialled) = if invite { (None, user) } else { (user, None) };
    Ok(Some(Fields {
        outcome: Some(if what == "failure" { "failure" } else { "request" }),
        action: Some(action(Some(method))),
        account,
        dialled,
        reason: Some(format!("auth {what}")),
        context: str_opt(text_of(&m, "profile")),
        ..failure("sip", a)
    }))
}

fn fs_no_user(rest: &str) -> Res<Fields> {
    let Some((target, place)) = rpartition(rest, "] from ") else {
        return err("no source address in FreeSWITCH's 'Can't find user' line");
    };
    let a = addr(place)?;
    Ok(Fields {
        action: Some("register".into()),
        account: rpartition(target, "@").map(|(u, _)| u).filter(|u| !u.is_empty()).map(str::to_string),
        reason: Some("user not found".into()),
        ..failure("sip", a)
    })
}

fn fs_acl(msg: &str, service: &str) -> Parsed {
    let Some(m) = FS_ACL.captures(msg) else { return Ok(None) };
    if m.name("fallback").is_some() {
        return Ok(None);
    }
    let a = addr(text_of(&m, "hp").unwrap_or(""))?;
    let reg = m.name("reg").is_some();
    let act = if service == "esl" { "login" } else if reg { "register" } else { "invite" };
    Ok(Some(Fields {
        action: Some(act.into()),
        reason: Some(format!("rejected by {}acl {}", if reg { "register " } else { "" }, text_of(&m, "acl").unwrap_or(""))),
        ..failure(service, a)
    }))
}

fn fs_user_acl(msg: &str) -> Parsed {
    let Some(m) = FS_USER_ACL.captures(msg) else {
        return err("FreeSWITCH's 'Rejected by user acl' behind a proxy names the X-AUTH-IP header, not the request's source: refused");
    };
    if text_of(&m, "then") != Some("and no proxy acl present") {
        return Ok(None);
    }
    let a = addr(text_of(&m, "hp").unwrap_or(""))?;
    Ok(Some(Fields {
        reason: Some(format!("rejected by user acl {}", text_of(&m, "acl").unwrap_or(""))),
        ..failure("sip", a)
    }))
}

fn fs_acl_only(msg: &str) -> Parsed {
    let Some(m) = FS_ACL_ONLY.captures(msg) else { return Ok(None) };
    let ip = ip(text_of(&m, "hp").unwrap_or(""))?;
    let p = port(text_of(&m, "port").unwrap_or(""))?;
    Ok(Some(Fields {
        action: Some("invite".into()),
        reason: Some("rejected by acls (auth-calls-acl-only)".into()),
        ..failure("sip", (ip, Some(p)))
    }))
}

fn fs_incomplete(msg: &str) -> Parsed {
    let Some(m) = FS_INCOMPLETE.captures(msg) else { return Ok(None) };
    let (ip, port) = host_port(text_of(&m, "hp").unwrap_or(""))?;
    Ok(Some(Fields {
        action: Some("register".into()),
        reason: Some("malformed REGISTER (incomplete To/From header)".into()),
        ..failure("sip", (ip, Some(port)))
    }))
}

fn verto(msg: &str) -> Parsed {
    if msg.starts_with(VERTO_LOGIN) {
        if !Tail::VertoLogin.ends(msg) {
            return Err(Fail::Unended { what: "mod_verto's 'Login incorrect' line", tail: Tail::VertoLogin, event: None });
        }
        return err("no source address in mod_verto's 'Login incorrect' line (FreeSWITCH does not log where a verto login came from)");
    }
    let Some(m) = VERTO_ACL.captures(msg) else { return Ok(None) };
    let (ip, port) = host_port(text_of(&m, "name").unwrap_or(""))?;
    if host_port(text_of(&m, "hp").unwrap_or(""))? != (ip.clone(), port) {
        return err("mod_verto's connection refusal names two different peers: not FreeSWITCH's line");
    }
    Ok(Some(Fields {
        action: Some("login".into()),
        reason: Some(format!("connection refused by acl {}", text_of(&m, "acl").unwrap_or(""))),
        round_trip: Some(true),
        ..failure("verto", (ip, Some(port)))
    }))
}

