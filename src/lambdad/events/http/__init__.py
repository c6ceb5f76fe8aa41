"""The pure payload core of the HTTP front doors (DESIGN.md §10).

What a function sees and what a client gets back, for the three HTTP doors AWS offers,
as functions over values with no I/O: the servers that listen on sockets parse the
wire into an ``HttpRequest`` (``request``), ask a module here for the event, invoke the
function through ``invoke/``, and hand the function's payload back here for the
``HttpResponse`` (``response``) to write.

- ``url_event`` / ``url_response``: function URLs and HTTP APIs with payload format 2.0.
- ``apigw_v1``: API Gateway payload format 1.0 (REST API proxy integrations and HTTP
  APIs with ``PayloadFormatVersion`` 1.0), event and response.
- ``alb``: Application Load Balancer Lambda targets, with and without multi-value
  headers, event and response.
- ``body``: which request bodies travel as text and which as base64.
"""
