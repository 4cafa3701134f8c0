"""country_ip — guide: Network Security, "Restrict Access to PBX by Country/Region" (Allowed Country IPs).

Off until ``allowed_country_ips`` is set; then traffic from a public IP whose country
(offline RIR data, iptocc) is not listed is reported and the IP blocked. LAN, static-accept
and addresses without a known country are allowed. With ``country_ip_block: set`` the firewall's
country set (``tollguard enforce``, docs/enforce.md) does the blocking, so an IPv4 source gets the
alert and no ``block_ip`` of its own: a botnet of 30,000 addresses is one set, not 30,000 records.
"""

from streams.rules.contract import Order

from streams.reference.countries import country_of
from streams.rules._common import address

RULE = "country_ip"
SCOPE = "ip"
EVENTS = ("security", "cdr")
SEVERITY = "warning"


def check(ctx, ev) -> None:
    allowed = ctx.tenant.allowed_country_ips
    if allowed is None or not ev.src_ip:
        return
    ip = address(ev.src_ip)
    if ctx.tenant.exempt(ip):
        return
    cc = country_of(ev.src_ip)
    if cc is None or cc in allowed:
        return
    evidence = {"country": cc, "allowed": sorted(allowed), "service": getattr(ev, "service", "call")}
    orders = [Order("block_ip", ev.src_ip, ctx.tenant.settings.block_seconds)]
    if ip.version == 4 and ctx.tenant.settings.country_ip_block == "set":
        evidence["blocked_by"] = "country set"  # enforce's nftables set drops the whole country
        orders = []
    ctx.emit(RULE, SEVERITY, "ip", ev.src_ip,
             f"Connection from {ev.src_ip} in {cc}, a country not allowed to reach the PBX", evidence, orders)
