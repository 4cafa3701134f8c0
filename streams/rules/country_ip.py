"""country_ip — guide: Network Security, "Restrict Access to PBX by Country/Region" (Allowed Country IPs).

Off until ``allowed_country_ips`` is set; then traffic from a public IP whose country
(offline RIR data, iptocc) is not listed is reported and the IP blocked. LAN, static-accept
and addresses without a known country are allowed.
"""

from streams.rules.contract import Order

from streams.reference.countries import country_of

RULE = "country_ip"
SCOPE = "ip"
EVENTS = ("security", "cdr")
SEVERITY = "warning"


def check(ctx, ev) -> None:
    allowed = ctx.tenant.allowed_country_ips
    if allowed is None or not ev.src_ip:
        return
    from streams.domain.events import parse_ip
    if ctx.tenant.exempt(parse_ip(ev.src_ip)):
        return
    cc = country_of(ev.src_ip)
    if cc is None or cc in allowed:
        return
    ctx.emit(RULE, SEVERITY, "ip", ev.src_ip,
             f"Connection from {ev.src_ip} in {cc}, a country not allowed to reach the PBX",
             {"country": cc, "allowed": sorted(allowed), "service": getattr(ev, "service", "call")},
             [Order("block_ip", ev.src_ip, ctx.tenant.settings.block_seconds)])
