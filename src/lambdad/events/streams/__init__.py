"""Kinesis and DynamoDB Streams event sources: a poller per shard that hands batches of
records to a function through the normal invoke path, as Lambda's event source
mappings do.

Pure cores, each a module of its own: ``records`` (the event records AWS sends),
``shards`` (lineage: children after their parents), ``positions`` (where a shard's
reading starts), ``batching`` (batch size, window, payload limit), ``lanes``
(``ParallelizationFactor`` keeping per-key order), ``retry`` (what follows an
invoke), ``windows`` (tumbling windows), ``failure_record`` (the on-failure
destination's document). Adapters: ``kinesis`` and ``dynamodb`` (boto3 clients of the
source), ``shard_worker`` (one shard's loop) and ``poller`` (the mapping's shards).
"""
