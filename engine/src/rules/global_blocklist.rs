//! global_blocklist — guide: Network Security, "Restrict Access to PBX by Yeastar-Shared IP Blocklist".
//! The port of `streams/rules/global_blocklist.py` (its docstring says what it judges and why).

use super::{detection, order, s, Check, Result};
use crate::event::Event;
use crate::ids::{FOREVER, HORIZON};
use crate::record::Ev;
use crate::state::IpState;
use crate::window::{bisect_left, bisect_right};

pub const RULE: &str = "global_blocklist";
const SEVERITY: &str = "warning";
const MAX_SEEN: usize = 128;

pub fn check(c: &mut Check<'_>, st: &mut IpState, event: &Event) -> Result<()> {
    let (src, service) = match event {
        Event::Security(e) => (e.src_ip.as_str(), e.service.as_str()),
        Event::Cdr(e) => (e.src_ip.as_deref().unwrap_or_default(), "call"),
        Event::Unblock(_) => return Ok(()),
    };
    if src.is_empty() {
        return Ok(());
    }
    let name = c.tenant.name.clone();
    let before = c.settled - HORIZON;
    let alone = st.blocks.0.len() < 2 && (st.blocks.0.is_empty() || st.blocks.0.iter().any(|(t, _)| *t == name));
    remember(st, &name, c.ts, before);
    if alone && !c.blocks_changed {
        return Ok(());
    }
    let pairs: Vec<(String, f64)> = if c.blocks_changed {
        st.seen.0.iter().flat_map(|(t, times)| times.iter().map(move |&s| (t.clone(), s))).collect()
    } else {
        vec![(name, c.ts)]
    };
    let span = c.tenant.settings.incident_seconds as f64;
    for (who, at) in pairs {
        let mut others: Vec<(String, f64)> = Vec::new();  // {tenant: until}: a later span of one tenant overwrites
        for (t, spans) in &st.blocks.0 {
            if *t == who {
                continue;
            }
            for sp in spans {
                let (s0, u) = (sp.first().copied().unwrap_or(f64::NAN), sp.get(1).copied().unwrap_or(f64::NAN));
                if s0 <= at && at < u {
                    match others.iter_mut().find(|(k, _)| k == t) {
                        Some(slot) => slot.1 = u,
                        None => others.push((t.clone(), u)),
                    }
                }
            }
        }
        if others.is_empty() {
            continue;
        }
        let until = others.iter().map(|&(_, u)| u).fold(f64::NEG_INFINITY, f64::max);
        let duration = if until >= FOREVER { None } else { Some((until - at) as i64 + 1) };
        let mut names: Vec<&str> = others.iter().map(|(t, _)| t.as_str()).collect();
        names.sort_unstable();
        let evidence = vec![
            ("blocked_by".to_string(), Ev::List(names.iter().map(|t| s(t)).collect())),
            ("service".to_string(), s(service)),
        ];
        let summary = format!("{src} is on the global blocklist (blocked by {} other tenant(s)) and reached tenant {who}",
                              others.len());
        let tenant = c.tenant_named(&who)?;
        let mut d = detection(RULE, SEVERITY, src, &summary, evidence, vec![order("block_ip", src, duration, None)]);
        (d.at, d.span, d.tenant) = (Some(at), Some(span), Some(tenant));
        c.emit_ip(st, d)?;
    }
    Ok(())
}

/// `_remember`: note that `tenant` was seen at `ts`; forget times before `before`, and past a flood's worth.
fn remember(st: &mut IpState, tenant: &str, ts: f64, before: f64) {
    let seen = &mut st.seen.0;
    let Some((_, times)) = seen.iter_mut().find(|(t, _)| t == tenant) else {
        seen.push((tenant.to_string(), vec![ts]));
        return;
    };
    if times.last().is_none_or(|&last| ts > last) {
        times.push(ts);
    } else if !times.contains(&ts) {
        let at = bisect_right(times, ts, 0, times.len());
        times.insert(at, ts);
    }
    let mut k = if times[0] < before { bisect_left(times, before, 0) } else { 0 };
    if times.len() - k > MAX_SEEN + MAX_SEEN / 4 {
        k = times.len() - MAX_SEEN;
    }
    if k > 0 {
        times.drain(..k);
    }
}
