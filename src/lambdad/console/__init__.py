"""The web console at ``/console`` on the API port (DESIGN.md §8).

Server-rendered pages with a little script of their own (``assets/``), signed in with
an access key of the server (``signin``, ``sessions``), calling the platform's
operations in-process as that key's account in the region picked (``aws``). The door
(``door``) is wrapped around the port's responder in ``server.build_server``, before
SigV4, as ``/metrics`` is.
"""
