"""API Gateway front doors: HTTP APIs (``apigatewayv2``) and REST APIs (``apigateway``).

- ``names``: ids, the ``ApiEndpoint`` and the two ways a request addresses an API.
- ``route_match``: which route (or REST method) a request matches, as AWS orders them.
- ``api_store``: where the APIs are kept, and the change generation the door reads.
- ``http_apis`` / ``http_parts`` / ``rest_apis`` / ``rest_parts``: the control operations.
- ``dispatch``: from a stored API and a request to the function to invoke (pure).
- ``door``: the front door on the API port; ``routing`` puts it before SigV4.
- ``service``: the bundle the platform builds and the API answers with.

The event and response formats are ``events.http``'s (payload 2.0 and 1.0).
"""
