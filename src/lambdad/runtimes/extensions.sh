# lambdad's launcher of a runtime with extensions, run as: sh extensions.sh WRAP RUNTIME ARGS...
# Starts the function's external extensions first (every executable file in
# /opt/extensions, in the runtime's sandbox, with its variables), each one's output
# marked so that the platform tells it from the function's (and its end reported: one
# that ends before SHUTDOWN has crashed), then the runtime: through
# the AWS_LAMBDA_EXEC_WRAPPER script when WRAP is "wrap" (AWS's managed runtimes do).
opt="${LAMBDAD_OPT_DIR:-/opt}"
mark=$(printf '\036lambdad-extension\036')
ended=$(printf '\036lambdad-extension-exit\036')
started=
for extension in "$opt"/extensions/*; do
    if [ -f "$extension" ] && [ -x "$extension" ]; then
        ( "$extension" 2>&1 | sed -u "s/^/$mark/"; printf '%s%s\n' "$ended" "${extension##*/}" ) &
        started=yes
    fi
done
# The runtime's init comes after the extensions' (they have registered, or one failed):
# lambdad answers this request then. (Through bash's /dev/tcp; without bash, at once.)
if [ -n "$started" ] && [ -x /bin/bash ]; then
    /bin/bash -c 'exec 3<>"/dev/tcp/${AWS_LAMBDA_RUNTIME_API%:*}/${AWS_LAMBDA_RUNTIME_API##*:}" &&
        printf "GET /_lambdad/extensions/registered HTTP/1.1\r\nHost: runtime\r\n\r\n" >&3 &&
        read -r _ <&3' 2>/dev/null
fi
wrap="$1"
shift
if [ "$wrap" = wrap ] && [ -n "$AWS_LAMBDA_EXEC_WRAPPER" ]; then
    exec "$AWS_LAMBDA_EXEC_WRAPPER" "$@"
fi
exec "$@"
