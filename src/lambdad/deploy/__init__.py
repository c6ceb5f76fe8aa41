"""Stacks: CloudFormation templates (and SAM ones, translated) planned and applied.

``template`` reads a template into frozen values, ``intrinsics`` and ``conditions``
evaluate its functions, ``plan`` turns it and the previous deployment into an ordered
list of steps (pure: no I/O), ``executor`` applies a plan through lambdad's own APIs
(boto3 clients, as a user's tools would), ``stacks`` keeps the durable records, and
``cfn_api`` answers the CloudFormation query API over all of it.
"""
