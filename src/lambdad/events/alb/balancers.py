"""Application load balancers, their listeners and rules (``elbv2``).

A balancer is ``internet-facing`` or ``internal`` as asked (subnets and security
groups are kept as given: VPCs are not modelled) and is ``active`` at once; its
``DNSName`` is ``<name>-<id>.<region>.elb.localhost``. Listeners are ``HTTP`` on a port
unique in the balancer; their default actions and rules' actions ``forward`` to a
target group of the same account or answer a ``fixed-response``. Rules have a
priority unique in their listener (1 to 50000) and one to five conditions.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from lambdad.clock import Clock
from lambdad.events.alb import checks, names, redirects
from lambdad.events.alb.conditions import conditions_problem
from lambdad.events.alb.errors import ElbError, invalid, not_found
from lambdad.events.alb.store import LB, TG, ElbStore
from lambdad.events.alb.target_groups import target_group_arns
from lambdad.model.scope import Scope

Params = dict[str, Any]
# The actions that answer a request (ELB: exactly one per rule, performed last).
_TERMINAL: Final = frozenset({"forward", "fixed-response", "redirect"})


class Balancers:
    def __init__(
        self, store: ElbStore, clock: Clock, bind_error: Callable[[int], str | None]
    ) -> None:
        self.store = store
        self.clock = clock
        # Why a listener's port cannot be opened on loopback (None: it can).
        self.bind_error = bind_error

    def operations(self) -> dict[str, Callable[[Scope, Params], Params]]:
        return {
            "CreateLoadBalancer": self.create_load_balancer,
            "DescribeLoadBalancers": self.describe_load_balancers,
            "DeleteLoadBalancer": self.delete_load_balancer,
            "CreateListener": self.create_listener,
            "DescribeListeners": self.describe_listeners,
            "DeleteListener": self.delete_listener,
            "CreateRule": self.create_rule,
            "DescribeRules": self.describe_rules,
            "DeleteRule": self.delete_rule,
        }

    # -- balancers ------------------------------------------------------------------------

    def create_load_balancer(self, scope: Scope, params: Params) -> Params:
        name = params["Name"]
        problem = checks.balancer_name_problem(name)
        if problem is not None:
            raise invalid(problem)
        if params.get("Type", "application") != "application":
            raise invalid("lambdad serves application load balancers only")
        existing = [d for d in self.store.all(LB, scope) if d["Name"] == name]
        if existing:
            # Idempotent, as on AWS: the same settings answer the balancer there is.
            balancer = existing[0]["LoadBalancer"]
            if not _same_settings(balancer, params):
                raise ElbError(
                    "DuplicateLoadBalancerName",
                    f"A load balancer with the same name '{name}' exists, "
                    "but with different settings",
                )
            return {"LoadBalancers": [_loaded(balancer)]}
        lb_id, dns = names.hex_id(), names.dns_id()
        arn = names.arn(scope.region, scope.account, f"loadbalancer/app/{name}/{lb_id}")
        balancer = {
            "LoadBalancerArn": arn,
            "DNSName": names.dns_name(name, dns, scope.region),
            "CanonicalHostedZoneId": "Z35SXDOTRQ7X7K",
            "CreatedTime": self.clock.now(),
            "LoadBalancerName": name,
            "Scheme": params.get("Scheme", "internet-facing"),
            "VpcId": "vpc-lambdad",
            "State": {"Code": "active"},
            "Type": "application",
            "AvailabilityZones": [
                {"ZoneName": f"{scope.region}a", "SubnetId": s} for s in params.get("Subnets") or ()
            ],
            "SecurityGroups": list(params.get("SecurityGroups") or ()),
            "IpAddressType": params.get("IpAddressType", "ipv4"),
        }
        doc = {
            "Name": name,
            "Arn": arn,
            "DnsId": dns,
            "LbId": lb_id,
            "LoadBalancer": _stored(balancer),
            "Listeners": {},
            "Rules": {},
        }
        self.store.put(LB, scope, doc)
        return {"LoadBalancers": [_loaded(doc["LoadBalancer"])]}

    def describe_load_balancers(self, scope: Scope, params: Params) -> Params:
        docs = self.store.all(LB, scope)
        if params.get("LoadBalancerArns"):
            for arn in params["LoadBalancerArns"]:
                checks.check_arn(scope, "load balancer", arn)
            docs = [self.store.by_arn(LB, scope, arn) for arn in params["LoadBalancerArns"]]
        elif params.get("Names"):
            docs = [d for d in docs if d["Name"] in params["Names"]]
            found = {d["Name"] for d in docs}
            missing = [n for n in params["Names"] if n not in found]
            if missing:
                raise checks.names_not_found("LoadBalancerNotFound", missing)
        shown, marker = checks.page(docs, params)
        out: Params = {"LoadBalancers": [_loaded(d["LoadBalancer"]) for d in shown]}
        return out | ({"NextMarker": marker} if marker else {})

    def delete_load_balancer(self, scope: Scope, params: Params) -> Params:
        # An ARN of no balancer succeeds (AWS: "If the load balancer does not exist or
        # has already been deleted, the call succeeds"); one that is no ARN does not.
        checks.check_arn(scope, "load balancer", params["LoadBalancerArn"])
        with self.store.lock:
            for doc in self.store.all(LB, scope):
                if doc["Arn"] == params["LoadBalancerArn"]:
                    self.store.delete(LB, scope, doc["Name"])
        return {}

    # -- listeners ------------------------------------------------------------------------

    def create_listener(self, scope: Scope, params: Params) -> Params:
        if params.get("Protocol", "HTTP") != "HTTP":
            raise invalid("lambdad serves HTTP listeners only")
        port = params.get("Port")
        if not isinstance(port, int) or not 1 <= port <= 65535:
            raise invalid("A listener port between 1 and 65535 is required")
        checks.check_arn(scope, "load balancer", params["LoadBalancerArn"])
        actions = self._actions(scope, params["DefaultActions"])
        with self.store.edit(LB, scope, params["LoadBalancerArn"]) as doc:
            if any(li["Port"] == port for li in doc["Listeners"].values()):
                raise ElbError(
                    "DuplicateListener",
                    f"A listener already exists on this port for this load balancer '{doc['Arn']}'",
                )
            reason = self.bind_error(port)
            if reason is not None:
                raise ElbError("InvalidConfigurationRequest", f"Listener port {reason}")
            listener_id = names.hex_id()
            arn = names.arn(
                scope.region,
                scope.account,
                f"listener/app/{doc['Name']}/{doc['LbId']}/{listener_id}",
            )
            listener = {
                "ListenerArn": arn,
                "LoadBalancerArn": doc["Arn"],
                "Port": port,
                "Protocol": "HTTP",
                "DefaultActions": actions,
                "Id": listener_id,
            }
            doc["Listeners"][arn] = listener
            doc["Listening"] = "yes"
        return {"Listeners": [_public(listener)]}

    def describe_listeners(self, scope: Scope, params: Params) -> Params:
        # AWS: "You must specify either a load balancer or one or more listeners."
        if not params.get("LoadBalancerArn") and not params.get("ListenerArns"):
            raise invalid("You must specify either listener ARNs or a load balancer ARN")
        if params.get("LoadBalancerArn"):
            checks.check_arn(scope, "load balancer", params["LoadBalancerArn"])
        for arn in params.get("ListenerArns") or ():
            checks.check_arn(scope, "listener", arn)
        listeners = [
            li
            for doc in self.store.all(LB, scope)
            if params.get("LoadBalancerArn") in (None, doc["Arn"])
            for li in doc["Listeners"].values()
        ]
        if params.get("ListenerArns"):
            wanted = set(params["ListenerArns"])
            listeners = [li for li in listeners if li["ListenerArn"] in wanted]
            if len(listeners) != len(wanted):
                raise not_found("ListenerNotFound", "listener")
        elif params.get("LoadBalancerArn"):
            self.store.by_arn(LB, scope, params["LoadBalancerArn"])
        shown, marker = checks.page(listeners, params)
        out: Params = {"Listeners": [_public(li) for li in shown]}
        return out | ({"NextMarker": marker} if marker else {})

    def delete_listener(self, scope: Scope, params: Params) -> Params:
        arn = params["ListenerArn"]
        checks.check_arn(scope, "listener", arn)
        with self.store.edit(LB, scope, _owner_of(self.store, scope, arn)) as doc:
            del doc["Listeners"][arn]
            doc["Listening"] = "yes" if doc["Listeners"] else "no"
            doc["Rules"] = {k: r for k, r in doc["Rules"].items() if r["ListenerArn"] != arn}
        return {}

    # -- rules ------------------------------------------------------------------------------

    def create_rule(self, scope: Scope, params: Params) -> Params:
        priority = params["Priority"]
        if not 1 <= priority <= 50000:
            raise invalid("A rule priority between 1 and 50000 is required")
        conditions = params["Conditions"]
        if not 1 <= len(conditions) <= 5:
            raise invalid("Rules take one to five conditions")
        problem = conditions_problem(conditions)
        if problem is not None:
            raise invalid(problem)
        listener_arn = params["ListenerArn"]
        checks.check_arn(scope, "listener", listener_arn)
        actions = self._actions(scope, params["Actions"])
        with self.store.edit(LB, scope, _owner_of(self.store, scope, listener_arn)) as doc:
            mine = [r for r in doc["Rules"].values() if r["ListenerArn"] == listener_arn]
            if any(int(r["Priority"]) == priority for r in mine):
                raise ElbError("PriorityInUse", f"Priority '{priority}' is currently in use")
            listener = doc["Listeners"][listener_arn]
            arn = names.arn(
                scope.region,
                scope.account,
                f"listener-rule/app/{doc['Name']}/{doc['LbId']}/{listener['Id']}/{names.hex_id()}",
            )
            rule = {
                "RuleArn": arn,
                "Priority": str(priority),
                "Conditions": conditions,
                "Actions": actions,
                "IsDefault": False,
                "ListenerArn": listener_arn,
            }
            doc["Rules"][arn] = rule
        return {"Rules": [_public(rule)]}

    def describe_rules(self, scope: Scope, params: Params) -> Params:
        # AWS: "You must specify either a listener or one or more rules."
        if not params.get("ListenerArn") and not params.get("RuleArns"):
            raise invalid("You must specify either listener rule ARNs or a listener ARN")
        if params.get("ListenerArn") and params.get("RuleArns"):
            raise invalid(
                "Listener rule ARNs and a listener ARN cannot be specified at the same time"
            )
        if params.get("ListenerArn"):
            checks.check_arn(scope, "listener", params["ListenerArn"])
        rules: list[Params] = []
        for doc in self.store.all(LB, scope):
            for listener in doc["Listeners"].values():
                if params.get("ListenerArn") not in (None, listener["ListenerArn"]):
                    continue
                mine = [
                    r for r in doc["Rules"].values() if r["ListenerArn"] == listener["ListenerArn"]
                ]
                rules += sorted(mine, key=lambda r: int(r["Priority"]))
                default_arn = listener["ListenerArn"].replace("listener/", "listener-rule/")
                rules.append(
                    {
                        "RuleArn": f"{default_arn}/default",
                        "Priority": "default",
                        "Conditions": [],
                        "Actions": listener["DefaultActions"],
                        "IsDefault": True,
                    }
                )
        if params.get("RuleArns"):
            wanted = set(params["RuleArns"])
            rules = [r for r in rules if r["RuleArn"] in wanted]
            if len(rules) != len(wanted):
                raise not_found("RuleNotFound", "rule")
        elif params.get("ListenerArn") and not rules:
            raise not_found("ListenerNotFound", "listener")
        shown, marker = checks.page(rules, params)
        out: Params = {"Rules": [_public(r) for r in shown]}
        return out | ({"NextMarker": marker} if marker else {})

    def delete_rule(self, scope: Scope, params: Params) -> Params:
        arn = params["RuleArn"]
        for doc in self.store.all(LB, scope):
            if arn in doc["Rules"]:
                with self.store.edit(LB, scope, doc["Arn"]) as fresh:
                    fresh["Rules"].pop(arn, None)
                return {}
        raise not_found("RuleNotFound", "rule")

    def _actions(self, scope: Scope, actions: list[Params]) -> list[Params]:
        if not actions:
            raise invalid("At least one action is required")
        checked = []
        for action in actions:
            kind = action.get("Type")
            if kind == "redirect":
                action = {**action, "RedirectConfig": redirects.completed(
                    action.get("RedirectConfig"))}  # fmt: skip
            elif kind not in ("forward", "fixed-response"):
                raise invalid(
                    f"lambdad serves forward, fixed-response and redirect actions, not {kind}"
                )
            checked.append(action)
        if len([a for a in checked if a.get("Type") in _TERMINAL]) != 1:
            raise invalid(
                "An action list needs exactly one forward, fixed-response or redirect action"
            )
        for arn in target_group_arns(checked):
            self.store.by_arn(TG, scope, arn)
        return checked


def _owner_of(store: ElbStore, scope: Scope, listener_arn: str) -> str:
    for doc in store.all(LB, scope):
        if listener_arn in doc["Listeners"]:
            return str(doc["Arn"])
    raise not_found("ListenerNotFound", "listener")


def _same_settings(balancer: Params, params: Params) -> bool:
    """Whether a CreateLoadBalancer asks for the balancer there is (what it leaves out
    is not a difference)."""
    subnets = [zone["SubnetId"] for zone in balancer["AvailabilityZones"]]
    return (
        params.get("Scheme", "internet-facing") == balancer["Scheme"]
        and params.get("IpAddressType", "ipv4") == balancer["IpAddressType"]
        and sorted(params.get("Subnets") or subnets) == sorted(subnets)
        and sorted(params.get("SecurityGroups") or balancer["SecurityGroups"])
        == sorted(balancer["SecurityGroups"])
    )


def _public(item: Params) -> Params:
    """A listener or rule without what lambdad keeps beside AWS's fields."""
    hidden = ("Id",) if "RuleArn" not in item else ("ListenerArn",)
    return {k: v for k, v in item.items() if k not in hidden}


def _stored(balancer: Params) -> Params:
    return {**balancer, "CreatedTime": balancer["CreatedTime"].timestamp()}


def _loaded(balancer: Params) -> Params:
    return {**balancer, "CreatedTime": datetime.fromtimestamp(balancer["CreatedTime"], UTC)}
