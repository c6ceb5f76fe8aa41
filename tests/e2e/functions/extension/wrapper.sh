#!/bin/sh
# An AWS_LAMBDA_EXEC_WRAPPER script: sets a variable, then runs the runtime it is given.
export WRAPPED_BY="wrapper $(basename "$1")"
exec "$@"
