"""Application Load Balancers with Lambda targets (``elbv2``).

- ``names``: ARNs, ``DNSName`` and the ``Host`` that addresses a balancer.
- ``store``: balancers (with their listeners and rules) and target groups, as stored.
- ``balancers`` / ``target_groups``: the control operations.
- ``rules``: which rule's actions a request gets (pure).
- ``door``: the front door by ``Host`` on the API port; ``routing`` puts it before SigV4.

The event and response formats are ``events.http.alb``'s.
"""
