# lambdad's launcher of a runtime with extensions, run as: sh extensions.sh WRAP RUNTIME ARGS...
# Starts the function's external extensions first (every executable file in
# /opt/extensions, in the runtime's sandbox, with its variables), each one's output
# marked so that the platform tells it from the function's (and its end reported: one
# that ends before SHUTDOWN has crashed), then the runtime: through
# the AWS_LAMBDA_EXEC_WRAPPER script when WRAP is "wrap" (AWS's managed runtimes do).
opt="${LAMBDAD_OPT_DIR:-/opt}"
mark=$(printf '\036lambdad-extension\036')
ended=$(printf '\036lambdad-extension-exit\036')
for extension in "$opt"/extensions/*; do
    if [ -f "$extension" ] && [ -x "$extension" ]; then
        ( "$extension" 2>&1 | sed -u "s/^/$mark/"; printf '%s%s\n' "$ended" "${extension##*/}" ) &
    fi
done
wrap="$1"
shift
if [ "$wrap" = wrap ] && [ -n "$AWS_LAMBDA_EXEC_WRAPPER" ]; then
    exec "$AWS_LAMBDA_EXEC_WRAPPER" "$@"
fi
exec "$@"
