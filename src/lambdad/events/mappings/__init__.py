"""Event source mappings at run time: the supervisor that runs one poller per Enabled
mapping (``supervisor``), the contract pollers implement (``contract``), what a poller
is given (``context``, ``filtering``, ``destinations``, ``checkpoints``) and the
registry of pollers by kind of source (``registry``)."""
