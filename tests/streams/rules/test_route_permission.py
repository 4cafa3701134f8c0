"""route_permission: boundaries and behaviour."""
from tests.builders import alerts, cdr, policy, run


ROUTES = """
routes:
  international: {extensions: ['2000', '2001'], pin: true}
extensions:
  '3000': {outbound: false}
"""


def test_route_permission():
    pol = policy(ROUTES)
    assert not alerts(run([cdr(src="2000", route="international", pin="ok")], pol), "route_permission")
    out = run([cdr(src="1001", route="international", pin="ok")], pol)
    assert alerts(out, "route_permission")
    assert alerts(run([cdr(src="3000")], pol), "route_permission")
