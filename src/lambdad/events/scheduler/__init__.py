"""EventBridge Scheduler (``scheduler``): schedule groups and schedules whose Lambda
targets the shared timer service fires, each fire an asynchronous invoke."""
