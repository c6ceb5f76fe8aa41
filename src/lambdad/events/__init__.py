"""Triggers: everything that makes a function run without a direct ``Invoke`` (DESIGN.md §10).

HTTP front doors, event source mapping pollers, pushed events (EventBridge rules and
Scheduler, SNS, S3 notifications) and the one event-pattern matcher they share
(``lambdad.events.patterns``). Modules here drive ``invoke/`` through the same interface
``api/`` uses and never import ``api/``.
"""
