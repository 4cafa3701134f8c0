//! auto_defense — guide: Network Security, "Restrict Access to PBX by Dynamic Firewall Rules" (Auto Defense).
//! The port of `streams/rules/auto_defense.py` (its docstring says what it judges and why).

use super::{detection, flagged, fmt_g, int, order, proven_hits, proven_orders, s, Check, Result};
use crate::event::{Event, SecurityEvent};
use crate::ids::FOREVER;
use crate::policy::AutoDefense;
use crate::record::Ev;
use crate::state::{self, IpState};
use crate::window::TimeSet;

pub const RULE: &str = "auto_defense";
const SEVERITY: &str = "warning";

fn matches(r: &AutoDefense, ev: &SecurityEvent) -> bool {
    if r.service != ev.service {
        return false;
    }
    if r.protocol != "both" && ev.protocol.is_some_and(|p| p.as_str() != r.protocol) {
        return false;
    }
    r.port.is_none_or(|port| ev.port.map(i64::from) == Some(port))
}

/// A rule's name: its own, else `service/protocol`.
fn name_of(r: &AutoDefense) -> String {
    match r.name.as_deref() {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => format!("{}/{}", r.service, r.protocol),
    }
}

pub fn check(c: &mut Check<'_>, st: &mut IpState, event: &Event, ev: &SecurityEvent) -> Result<()> {
    let tenant = c.tenant;
    for r in tenant.settings.auto_defense.iter().filter(|r| r.service == ev.service) {
        if !matches(r, ev) {
            continue;
        }
        let name = name_of(r);
        let span = r.block_seconds.map_or(FOREVER, |b| b.max(1) as f64);
        let slot = st.auto_defense.0.iter().position(|(k, _)| *k == name);
        let mut window = match slot {
            Some(k) => st.auto_defense.0[k].1.take_window(),
            None => TimeSet::new(),
        };
        let hits = proven_hits(tenant, c.settled, &mut window, c.ts, r.seconds, r.packets, span, flagged(c.ident, event))?;
        let held = state::TimeSet::from_window(window);
        match slot {
            Some(k) => st.auto_defense.0[k].1 = held,
            None => st.auto_defense.0.push((name.clone(), held)),
        }
        for (at, n, ok) in hits {
            let mut evidence = vec![
                ("rule".to_string(), s(&name)),
                ("service".to_string(), s(&r.service)),
                ("protocol".to_string(), s(&r.protocol)),
                ("packets".to_string(), int(n)),
                ("limit".to_string(), int(r.packets)),
                ("seconds".to_string(), Ev::Float(r.seconds)),
            ];
            let (acts, unproven) = proven_orders(ok, vec![order("block_ip", &ev.src_ip, r.block_seconds, None)], &mut evidence);
            let summary = format!("{} sent more than {} {} packets in {} s (rule {name})", ev.src_ip, r.packets, r.service,
                                  fmt_g(r.seconds));
            let variant = if unproven.is_empty() { name.clone() } else { format!("{name}/{unproven}") };
            let mut d = detection(RULE, SEVERITY, &ev.src_ip, &summary, evidence, acts);
            (d.variant, d.at, d.span) = (&variant, Some(at), Some(span));
            c.emit_ip(st, d)?;
        }
    }
    Ok(())
}
