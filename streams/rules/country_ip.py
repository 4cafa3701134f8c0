"""country_ip — guide: Network Security, "Restrict Access to PBX by Country/Region" (Allowed Country IPs).

Off until ``allowed_country_ips`` is set; then traffic from a public IP whose country
(offline RIR data, iptocc) is not listed is reported and the IP blocked. LAN, static-accept
and addresses without a known country are allowed.

With ``country_ip_block: set`` the firewall's country set (``tollguard enforce``, docs/enforce.md)
does the blocking, as the guide's filter does, so an IPv4 source orders no ``block_ip`` of its own.
Then a source that only knocked (a security event that did not succeed: a failed or challenged
sign-in, a refused call or request, of any service) is no incident of its own either: the tenant
scope raises **one alert per tenant and incident epoch** for every such knock, and the campaign it
folds into counts and samples the sources, countries and accounts. A botnet of 30,000 addresses is
one set, one alert and one incident, not 30,000 of each. A source that got in (a successful sign-in)
or placed a call keeps its own alert and incident, judged in the IP scope as with ``address``; so do
IPv6 sources, which the set does not hold, and every source when campaigns are off
(``campaign_seconds: 0``), where only the per-source alerts would name them.
"""

from streams.rules.contract import Order

from streams.domain.events import SecurityEvent, parse_ip
from streams.reference.countries import country_of
from streams.rules._common import address

RULE = "country_ip"
SCOPE = ("ip", "tenant")
EVENTS = ("security", "cdr")
SEVERITY = "warning"
STATE = ()  # the slots of its key's state it keeps (streams/state/schema.py)
KNOCKS = ("failure", "request")  # outcomes of a source that did not get in


def routes(ev, tenant) -> bool:
    """A knock the tenant's firewall country set drops: judged once for the tenant (``_sweep``)."""
    allowed = tenant.allowed_country_ips
    if allowed is None or not ev.src_ip or not knock_in_set(tenant, ev):
        return False
    ip = address(ev.src_ip)
    return not tenant.exempt(ip) and country_of(ev.src_ip) not in (None, *allowed)


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
    if knock_in_set(ctx.tenant, ev, ip):
        if ctx.scope == "tenant":
            _sweep(ctx, allowed)
        return
    if ctx.scope != "ip":
        return
    evidence = {"country": cc, "allowed": sorted(allowed), "service": getattr(ev, "service", "call")}
    orders = [Order("block_ip", ev.src_ip, ctx.tenant.settings.block_seconds)]
    if ip.version == 4 and ctx.tenant.settings.country_ip_block == "set":
        evidence["blocked_by"] = "country set"  # enforce's nftables set drops the whole country
        orders = []
    ctx.emit(RULE, SEVERITY, "ip", ev.src_ip,
             f"Connection from {ev.src_ip} in {cc}, a country not allowed to reach the PBX", evidence, orders)


def knock_in_set(tenant, ev, ip=None) -> bool:
    """A knock (a security event that did not succeed) from an IPv4 source that the tenant's firewall country
    set holds, with campaigns on to name its sources: judged once for the tenant, not per source (``routes``
    sends it to the tenant key)."""
    if tenant.settings.country_ip_block != "set" or not tenant.settings.campaign_seconds:
        return False
    if not isinstance(ev, SecurityEvent) or ev.outcome not in KNOCKS:
        return False
    return (ip or parse_ip(ev.src_ip)).version == 4


def _sweep(ctx, allowed) -> None:
    """One alert per tenant and epoch; its evidence holds nothing that depends on which knock came first (the
    incident's campaign lists the sources, countries and accounts)."""
    t = ctx.tenant.name
    ctx.emit(RULE, SEVERITY, "tenant", t,
             f"Connections to tenant {t} from countries not allowed to reach the PBX, dropped by the firewall's "
             f"country set (the incident's campaign lists the sources and countries)",
             {"allowed": sorted(allowed), "blocked_by": "country set"}, [], variant="set")
