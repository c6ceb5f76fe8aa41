"""API Gateway WebSocket APIs (``apigatewayv2`` with ``ProtocolType: WEBSOCKET``).

- ``names``: ids, route keys, the limits as AWS sets them.
- ``selection``: which route a message takes (``RouteSelectionExpression``) (pure).
- ``ws_events``: the CONNECT, MESSAGE and DISCONNECT events AWS sends (pure).
- ``answers``: what a route's integration answer means for the client (pure).
- ``control``: the WebSocket side of the control operations (route keys, route
  responses); the APIs themselves are stored as HTTP APIs are (``events.apigw``).
- ``session``: one client connection (RFC 6455 framing by ``wsproto``), its bounds.
- ``registry``: the connections open on this server, by connection id.
- ``door``: the upgrade (``$connect``), the messages and ``$disconnect``.
- ``management``: the ``@connections`` API functions answer clients through.
"""
