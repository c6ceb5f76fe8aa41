"""lambdad's Python zygote: a template process that forks execution environments.

The platform starts one zygote per interpreter and tenant. It imports the runtime
bootstrap once, freezes the heap (``gc.freeze()``), and then forks a new environment for
each request instead of exec'ing a fresh interpreter. What a child does before the
function's code runs is all in this file:

- ``process`` mode (no sandbox): a new session, the output pipe as stdout and stderr,
  the function's variables, its code directory as cwd, then ``bootstrap.main()``.
- ``sandbox`` mode (the zygote runs as root): the zygote forks the child into a new PID
  namespace, where it is pid 1 (the "keeper"). The keeper joins the environment's
  cgroups, takes new mount, UTS, IPC and (unless the network mode is ``host``) network
  namespaces, builds the root file system the platform planned (a tmpfs root,
  read-only binds, its own ``/proc``, ``/dev`` and ``/tmp``; then ``pivot_root``) and
  brings ``lo`` up; the platform then makes the Runtime API socket inside its network
  namespace, as it does for bwrap's sandboxes. The keeper forks the runtime (pid 2),
  which takes a cgroup namespace and drops to the environment's uid with no
  capabilities, ``no_new_privs`` and the platform's seccomp filter; the keeper reaps
  orphans and exits with the runtime's status (128 + signal when it was killed, as
  bwrap's init does).

Protocol: ``SOCK_SEQPACKET`` unix sockets, one JSON document per message, descriptors
by ``SCM_RIGHTS``. The zygote's stdin is its control socket: the platform first sends
its configuration, then ``{"op": "spawn", ...}`` with [request socket, output pipe];
the zygote answers ``{"id", "pid"}`` with a pidfd of the child, and later ``{"exit": id,
"status": wait status}``. On the request socket the keeper sends ``{"netns": true}``
once its network namespace exists, then ``{"ok": true}`` (or ``{"error": ...}``); the
platform sends the runtime ``{"env": {...}, "argv": [...]}``
and, when the environment may start, ``{"go": true}``. The function's variables
(secrets) go to the child only: they never pass through the zygote, whose memory every
later child inherits.

A child leaves the zygote's loop by returning the bootstrap's ``main`` up to this
file's ``main()``: from there on it is an ordinary interpreter running the bootstrap as
its script (exit status, ``atexit``, thread joins, flushed streams as after an exec).

Stdlib only, CPython 3.9+, like bootstrap.py (it runs on the function's interpreter).
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import errno
import fcntl
import gc
import json
import os
import re
import resource
import select
import signal
import socket
import struct
import sys
import time
import types

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MS_RELATIME = 0x200000
MNT_DETACH = 0x2
# statvfs f_flag bits that mean the same as the MS_* flag of the same value.
_ST_SAME_AS_MS = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x40 | 0x400 | 0x800
_ST_RELATIME = 0x1000

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

_CAP_VERSION_3 = 0x20080522
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}

# move_mount(2): one number on every architecture (added after the tables merged).
_SYS_MOVE_MOUNT = 429
_MOVE_MOUNT_F_EMPTY_PATH = 0x4
_AT_FDCWD = -100

_MAX_MESSAGE = 256 * 1024

_libc = ctypes.CDLL(None, use_errno=True)


class SetupError(Exception):
    """A step of building an environment failed; the message names the step."""


# ----------------------------------------------------------------------------- syscalls


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise SetupError(f"{what}: {os.strerror(err)}")


def _b(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def setns(fd: int, nstype: int) -> None:
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


def mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None
) -> None:
    result = _libc.mount(_b(source), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data))
    _check(result, f"mount {target}")


def umount2(target: str, flags: int) -> None:
    _check(_libc.umount2(_b(target), ctypes.c_int(flags)), f"umount {target}")


def move_mount(fd: int, target: str) -> None:
    """The detached mount ``fd`` (the platform's ``open_tree`` copy) onto ``target``."""
    result = _libc.syscall(
        ctypes.c_long(_SYS_MOVE_MOUNT),
        ctypes.c_int(fd),
        ctypes.c_char_p(b""),
        ctypes.c_int(_AT_FDCWD),
        ctypes.c_char_p(target.encode()),
        ctypes.c_uint(_MOVE_MOUNT_F_EMPTY_PATH),
    )
    _check(result, f"move_mount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    fn = getattr(_libc, "pivot_root", None)
    if fn is not None:
        result = fn(_b(new_root), _b(put_old))
    else:
        number = _SYS_PIVOT_ROOT.get(os.uname().machine)
        if number is None:
            raise SetupError(f"pivot_root: unknown syscall number on {os.uname().machine}")
        result = _libc.syscall(ctypes.c_long(number), _b(new_root), _b(put_old))
    _check(result, "pivot_root")


def prctl(option: int, arg2: int = 0, arg3: int = 0) -> None:
    result = _libc.prctl(
        ctypes.c_int(option),
        ctypes.c_ulong(arg2),
        ctypes.c_ulong(arg3),
        ctypes.c_ulong(0),
        ctypes.c_ulong(0),
    )
    _check(result, f"prctl {option}")


def clear_capabilities() -> None:
    """Empty the effective, permitted and inheritable sets of this thread."""
    header = struct.pack("Ii", _CAP_VERSION_3, 0)
    data = ctypes.create_string_buffer(24)  # two zeroed __user_cap_data_struct
    _check(_libc.capset(ctypes.c_char_p(header), data), "capset")


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_libc.sethostname(raw, ctypes.c_size_t(len(raw))), "sethostname")


def _proc_stat_fields() -> list[str]:
    with open("/proc/self/stat", "rb") as f:
        raw = f.read().decode()
    # Field 2 (comm) may hold spaces; everything after its closing parenthesis splits.
    return raw[raw.rindex(")") + 2 :].split()


def disguise_cmdline(argv: list[str]) -> bool:
    """Overwrite this process's command line in place, if ``argv`` fits exactly."""
    fields = _proc_stat_fields()
    # Fields 48 and 49 of /proc/<pid>/stat (arg_start, arg_end); the list starts at 3.
    start, end = int(fields[45]), int(fields[46])
    raw = b"".join(os.fsencode(a) + b"\0" for a in argv)
    if len(raw) != end - start:
        return False
    ctypes.memmove(start, raw, len(raw))
    return True


# ------------------------------------------------------------------------------ helpers


def send(sock: socket.socket, doc: dict[str, Any], fds: list[int] | None = None) -> None:
    data = json.dumps(doc, separators=(",", ":")).encode()
    if fds:
        socket.send_fds(sock, [data], fds)
    else:
        sock.send(data)


def receive(sock: socket.socket, maxfds: int = 0) -> tuple[dict[str, Any] | None, list[int]]:
    """One message (None at end of stream) and the descriptors that came with it."""
    if maxfds:
        data, fds, _, _ = socket.recv_fds(sock, _MAX_MESSAGE, maxfds)
    else:
        data, fds = sock.recv(_MAX_MESSAGE), []
    if not data:
        for fd in fds:
            os.close(fd)
        return None, []
    doc: dict[str, Any] = json.loads(data)
    return doc, list(fds)


def close_fds(keep: tuple[int, ...]) -> None:
    """Close every descriptor from 3 up except ``keep``."""
    low = 3
    for fd in sorted(set(keep)):
        if fd > low:
            _close_range(low, fd - 1)
        low = max(low, fd + 1)
    _close_range(low, 0xFFFFFFFF)


def _close_range(low: int, high: int) -> None:
    fn = getattr(_libc, "close_range", None)
    if fn is not None and fn(ctypes.c_uint(low), ctypes.c_uint(high), ctypes.c_uint(0)) == 0:
        return
    # Kernels before 5.9: walk the open descriptors instead of the whole range.
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if low <= fd <= high:
            with contextlib.suppress(OSError):
                os.close(fd)


def load_bootstrap(path: str, shown_as: str) -> types.ModuleType:
    """bootstrap.py as a module whose code says it lives where the runtime sees it."""
    with open(path, "rb") as f:
        source = f.read()
    module = types.ModuleType("bootstrap")
    module.__file__ = shown_as
    code = compile(source, shown_as, "exec", dont_inherit=True)
    exec(code, module.__dict__)
    # Started as a script, its classes and functions would belong to "__main__".
    for value in list(module.__dict__.values()):
        if getattr(value, "__module__", None) == "bootstrap":
            with contextlib.suppress(AttributeError, TypeError):
                value.__module__ = "__main__"
    return module


def load_snapstart(path: str) -> types.ModuleType:
    """snapstart.py (SnapStart templates), bound to this module's helpers."""
    with open(path, "rb") as f:
        source = f.read()
    module = types.ModuleType("lambdad_snapstart")
    module.__file__ = path
    exec(compile(source, path, "exec", dont_inherit=True), module.__dict__)
    module.__dict__["z"] = sys.modules[__name__]
    return module


# ------------------------------------------------------------------------ the zygote


class Zygote:
    def __init__(
        self, control: socket.socket, bootstrap: types.ModuleType, added_env: dict[str, str]
    ) -> None:
        self.control = control
        self.bootstrap = bootstrap
        # Variables the interpreter added to its own environment at start-up (PEP 538's
        # LC_CTYPE coercion): an exec'd runtime would have them too.
        self.added_env = added_env
        self.children: dict[int, str] = {}  # pid -> request id
        self.snapstart: types.ModuleType | None = None
        self.wake_r, self.wake_w = os.pipe()
        self.own_pidns = -1
        self.last_cap = 0
        if os.geteuid() == 0:
            self.own_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
            with open("/proc/sys/kernel/cap_last_cap") as f:
                self.last_cap = int(f.read())

    def serve(self) -> Callable[[], Any] | None:
        """Fork environments until the platform hangs up (then None). In a new
        environment's runtime process this returns the runtime's entry point."""
        os.set_blocking(self.wake_w, False)
        os.set_blocking(self.wake_r, False)
        signal.signal(signal.SIGCHLD, _ignore)
        signal.set_wakeup_fd(self.wake_w)
        poller = select.poll()
        poller.register(self.control.fileno(), select.POLLIN)
        poller.register(self.wake_r, select.POLLIN)
        send(
            self.control, {"ready": True, "pid": os.getpid(), "python": list(sys.version_info[:3])}
        )
        while True:
            for fd, _ in poller.poll():
                if fd == self.wake_r:
                    self._reap()
                    continue
                try:
                    request, fds = receive(self.control, maxfds=8)
                except (ConnectionResetError, BrokenPipeError):
                    request, fds = None, []
                if request is None:
                    return None
                entry = self._handle(request, fds)
                if entry is not None:
                    return entry

    def _reap(self) -> None:
        try:
            while os.read(self.wake_r, 4096):
                pass
        except BlockingIOError:
            pass
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            request_id = self.children.pop(pid, None)
            if request_id is not None:
                send(self.control, {"exit": request_id, "status": status})

    def _handle(self, request: dict[str, Any], fds: list[int]) -> Callable[[], Any] | None:
        request_id = request.get("id", "")
        sandboxed = request.get("mode") in ("sandbox", "spare")
        pid = -1
        try:
            # [request socket, output pipe] and the mounts its plan moves (its /tmp disk).
            if request.get("op") != "spawn" or len(fds) != 2 + int(request.get("mounts", 0)):
                raise SetupError(f"bad request {request.get('op')!r} with {len(fds)} fds")
            if sandboxed:
                # The next child is pid 1 of a new PID namespace; this process stays in
                # its own (setns back below).
                unshare(CLONE_NEWPID)
            try:
                pid = os.fork()
            finally:
                if sandboxed and pid != 0:
                    setns(self.own_pidns, CLONE_NEWPID)
        except Exception as exc:
            for fd in fds:
                os.close(fd)
            send(self.control, {"id": request_id, "error": f"{type(exc).__name__}: {exc}"})
            return None
        if pid == 0:
            return self._child(request, fds[0], fds[1], sandboxed, fds[2:])
        for fd in fds:
            os.close(fd)
        pidfd = os.pidfd_open(pid)
        try:
            send(self.control, {"id": request_id, "pid": pid}, [pidfd])
        finally:
            os.close(pidfd)
        self.children[pid] = request_id
        return None

    def _child(
        self,
        request: dict[str, Any],
        req_fd: int,
        out_fd: int,
        sandboxed: bool,
        mounts: list[int],
    ) -> Callable[[], Any]:
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            self.control.detach()
            close_fds((req_fd, out_fd, *mounts))
            null = os.open("/dev/null", os.O_RDONLY)
            os.dup2(null, 0)  # the zygote's stdin was its control socket
            os.close(null)
            # Children die with the zygote: it alone can report their exit status.
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            sock = socket.socket(fileno=req_fd)
            mode = request.get("mode")
            if mode == "sandbox":
                keep_sandbox(self, request, sock, out_fd, mounts)  # returns in the runtime only
            elif mode == "spare":
                park_spare(self, request, sock, out_fd)  # likewise
            else:
                os.setsid()
                redirect_output(out_fd)
                take_over(self, sock)
        except BaseException as exc:
            report_failure(req_fd, exc)
            os._exit(71)
        main: Callable[[], Any] = self.bootstrap.main
        return main


def _ignore(signum: int, frame: Any) -> None:
    return None


def report_failure(req_fd: int, exc: BaseException) -> None:
    """Tell the platform why an environment could not be built (its request socket)."""
    message = str(exc) if isinstance(exc, SetupError) else f"{type(exc).__name__}: {exc}"
    try:
        send(socket.socket(fileno=req_fd), {"error": message})
    except Exception as send_exc:
        os.write(2, f"lambdad zygote: {message} (not reported: {send_exc})\n".encode())


def redirect_output(out_fd: int) -> None:
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.close(out_fd)


def take_over(
    zygote: Zygote, sock: socket.socket, confinement: dict[str, Any] | None = None
) -> None:
    """Confine this process, take the function's variables, wait for the go; the
    caller then runs main(). The confinement comes with the variables when this process
    was parked in a spare sandbox before anyone knew whose it would be."""
    if confinement is not None:
        confine(zygote, confinement, [])
    message, fds = receive(sock, maxfds=8)
    if message is None:
        os._exit(0)  # the platform gave up on this environment before it started
    if "confine" in message:
        confine(zygote, message["confine"], fds)
    elif message.get("snapshot") is not None and fds:
        # A SnapStart template: the bootstrap calls snapshot() after init. Sandboxed, it
        # forks its namespace factory and takes the full filter here, before any of the
        # function's code runs.
        snapstart = zygote.snapstart
        assert snapstart is not None
        snapstart.arm(zygote, fds, message["snapshot"])
    env = dict(message["env"])
    for key, value in zygote.added_env.items():
        env.setdefault(key, value)
    bootstrap = zygote.bootstrap
    os.environ.clear()
    os.environ.update(env)
    sys.argv[:] = list(message.get("argv") or [bootstrap.__file__])
    time.tzset()
    # What the interpreter would have made of these variables at start-up.
    sys.path[0:0] = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if env.get("PYTHONDONTWRITEBYTECODE"):
        sys.dont_write_bytecode = True
    if env.get("PYTHONUNBUFFERED"):
        for stream in (sys.stdout, sys.stderr):
            reconfigure = getattr(stream, "reconfigure", None)
            if reconfigure is not None:
                reconfigure(write_through=True)
    # Run as a script, the bootstrap would be __main__.
    sys.modules["__main__"] = bootstrap
    bootstrap.__name__ = "__main__"
    random = sys.modules.get("random")
    if random is not None:
        random.seed()
    go, _ = receive(sock)
    sock.close()
    if go is None or not go.get("go"):
        os._exit(0)
    # Only now: the code may have been mounted at its cwd after the variables came.
    os.chdir(message["cwd"])


def confine(zygote: Zygote, confinement: dict[str, Any], cgroup_fds: list[int]) -> None:
    """The runtime's cage: its cgroups (through descriptors the platform opened, when
    any), its own cgroup namespace, its uid with no capabilities, the seccomp filter."""
    join_cgroups([], cgroup_fds)
    # Its cgroup (joined by now) is the root of what it sees of cgroups.
    unshare(CLONE_NEWCGROUP)
    drop_privileges(int(confinement["uid"]), int(confinement["gid"]), zygote.last_cap)
    seccomp = confinement.get("seccomp")
    if seccomp:
        install_seccomp(base64.b64decode(seccomp))


def join_cgroups(paths: list[str], fds: list[int]) -> None:
    """Move this (single-threaded) process into cgroups: "0" written to each file. On
    cgroup v1 the platform names each hierarchy's ``tasks``: a thread moving itself there
    skips the global lock a whole-process move takes (an RCU grace period, ~10 ms)."""
    for path in paths:
        with open(path, "w") as f:
            f.write("0")
    for fd in fds:
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)


# ------------------------------------------------------------------ sandbox mode keeper


def keep_sandbox(
    zygote: Zygote, request: dict[str, Any], sock: socket.socket, out_fd: int, mounts: list[int]
) -> None:
    """pid 1 of the new PID namespace: build the sandbox, start the runtime (pid 2), and
    reap until it exits. Returns only in the runtime process."""
    join_cgroups(request.get("cgroup_join", []), [])
    network = request.get("network", "isolated")
    enter_namespaces(sock, network)
    enter_root(request.get("root_size", "1m"))
    apply_plan(request["plan"], mounts)
    seal_root()
    sethostname(request.get("hostname", "localhost"))
    send(sock, {"ok": True})
    # The runtime sets itself up (uid, filter) while the platform makes its Runtime API
    # socket and NAT; then it waits for its variables. (Forking it before the build
    # instead puts the fork on this critical path: measured slower.)
    runtime = os.fork()
    if runtime == 0:
        os.setsid()
        redirect_output(out_fd)
        take_over(zygote, sock, request)
        return
    os.close(out_fd)
    sock.close()
    reap_until(runtime)


def park_spare(zygote: Zygote, request: dict[str, Any], sock: socket.socket, out_fd: int) -> None:
    """pid 1 of a spare sandbox, built before anyone needs it: namespaces, the shared
    part of the root, and a runtime process parked in it. When the platform assigns it
    to an environment, it joins that environment's cgroups, finishes the root with the
    environment's own part (code, /tmp, /etc files) and seals it; the runtime, told
    separately, joins the cgroups too and confines itself. Returns only in the runtime."""
    network = request.get("network", "isolated")
    enter_namespaces(sock, network)
    enter_root(request.get("root_size", "1m"))
    apply_plan(request["plan"])
    sethostname(request.get("hostname", "localhost"))
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    runtime = os.fork()
    if runtime == 0:
        sock.close()
        ours.close()
        os.setsid()
        redirect_output(out_fd)
        take_over(zygote, theirs)
        return
    theirs.close()
    os.close(out_fd)
    send(sock, {"parked": True}, [ours.fileno()])
    ours.close()
    assignment, fds = receive(sock, maxfds=8)
    if assignment is None:
        os._exit(0)  # never used
    # The cgroups to join, then the mounts the plan moves (its /tmp disk).
    split = len(fds) - int(assignment.get("mounts", 0))
    join_cgroups([], fds[:split])
    apply_plan(assignment["plan"], fds[split:])
    seal_root()
    send(sock, {"ok": True})
    sock.close()
    reap_until(runtime)


def enter_namespaces(sock: socket.socket, network: str) -> None:
    flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC
    if network != "host":
        flags |= CLONE_NEWNET
    unshare(flags)
    if network != "host":
        # The platform makes the Runtime API socket in this namespace itself, as it does
        # for bwrap's sandboxes (it needs the loopback up), and attaches the NAT: told
        # now, it does so while the root is built.
        loopback_up()
        send(sock, {"netns": True})


def reap_until(runtime: int) -> NoReturn:
    """The init's job: reap every orphan; exit with the runtime's status (128 + signal
    when it was killed, as bwrap's init does)."""
    clear_capabilities()  # reaping needs no privilege
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(0)
        if pid == runtime:
            if os.WIFSIGNALED(status):
                os._exit(128 + os.WTERMSIG(status))
            os._exit(os.WEXITSTATUS(status))


def enter_root(root_size: str) -> None:
    """A tmpfs root, pivoted into; the host's root stays reachable at /oldroot (for the
    plan's binds) until ``seal_root``."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    # A tmpfs over /tmp becomes the new root; pivot_root moves the host's root aside
    # (its /tmp is whole again beneath /oldroot).
    mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"mode=0755,size={root_size}")
    os.mkdir("/tmp/oldroot")
    pivot_root("/tmp", "/tmp/oldroot")
    os.chdir("/")


def apply_plan(plan: list[list[Any]], mounts: list[int] | None = None) -> None:
    """The platform's steps (``sandbox/rootfs.py``); sources are host paths, ``mounts``
    the mount descriptors its ``mount_fd`` steps move (closed here)."""
    empty = -1
    try:
        for step in plan:
            if step[0] == "overlay":
                if empty < 0:
                    empty = _empty_layer()
                overlay("/oldroot" + step[1], step[2], empty)
            elif step[0] == "mount_fd":
                _, index, path = step
                if not os.path.isdir(path):
                    os.mkdir(path, 0o755)
                move_mount((mounts or [])[index], path)
            else:
                _apply(step)
    finally:
        for fd in mounts or []:
            os.close(fd)
        if empty >= 0:
            os.close(empty)
            umount2(_EMPTY, MNT_DETACH)
            os.rmdir(_EMPTY)


_EMPTY = "/.empty-layer"


def _empty_layer() -> int:
    """An empty read-only tmpfs (the second layer every overlay needs), for a moment."""
    os.mkdir(_EMPTY, 0o755)
    mount("tmpfs", _EMPTY, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=0755")
    return os.open(_EMPTY, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)


def overlay(source: str, target: str, empty: int) -> None:
    """A read-only overlay of the directory ``source`` alone at ``target``: unlike a
    bind's, its line in /proc/self/mountinfo names no host path (its root is its own;
    its layers are named by descriptor)."""
    fd = os.open(source, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if not os.path.isdir(target):
            os.mkdir(target, 0o755)
        fds = f"/oldroot/proc/self/fd/{fd}:/oldroot/proc/self/fd/{empty}"
        mount("overlay", target, "overlay", MS_RDONLY | MS_NOSUID | MS_NODEV, f"lowerdir={fds}")
    finally:
        os.close(fd)


def seal_root() -> None:
    """The host's root gone for good, the new root read-only."""
    umount2("/oldroot", MNT_DETACH)
    os.rmdir("/oldroot")
    mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _apply(step: list[Any]) -> None:
    kind = step[0]
    if kind == "dir":
        _, path, mode = step
        if not os.path.isdir(path):
            os.mkdir(path)
        os.chmod(path, int(mode, 8))
    elif kind == "symlink":
        _, target, path = step
        os.symlink(target, path)
    elif kind == "bind":
        _, source, target, options = step
        src = "/oldroot" + source if not options.get("inside") else source
        if not os.path.lexists(src) and options.get("optional"):
            return
        if os.path.lexists(target):
            pass
        elif options.get("file"):
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        else:
            os.mkdir(target, 0o755)
        mount(src, target, None, MS_BIND | MS_REC)
        flags = MS_NOSUID
        if options.get("ro", True):
            flags |= MS_RDONLY
        if options.get("nodev", True):
            flags |= MS_NODEV
        current = os.statvfs(target).f_flag
        flags |= current & _ST_SAME_AS_MS
        if current & _ST_RELATIME:
            flags |= MS_RELATIME
        if not options.get("ro", True):
            flags &= ~MS_RDONLY
        mount(None, target, None, MS_REMOUNT | MS_BIND | flags)
    elif kind == "file":
        _, path, content, mode = step
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, int(mode, 8))
        try:
            os.write(fd, content.encode())
        finally:
            os.close(fd)
    elif kind == "data":
        _, path, content, mode = step
        data_file(path, content.encode(), int(mode, 8))
    elif kind == "tmpfs":
        _, path, options = step
        if not os.path.isdir(path):
            os.mkdir(path, 0o755)
        mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, options)
    elif kind == "detach_tmp_disks":
        detach_tmp_disks()
    elif kind == "proc":
        _, path = step
        if not os.path.isdir(path):
            os.mkdir(path, 0o555)
        mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    elif kind == "devpts":
        _, path = step
        os.mkdir(path, 0o755)
        mount("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620")
    else:
        raise SetupError(f"unknown plan step {kind!r}")


# How a /tmp disk's mount point is named, by any lambdad server (sandbox/tmpdisk_plan.py).
_TMP_DISK = re.compile(r"/tmp-disks/[0-9]+m-[0-9a-f]{8}-[0-9]{8}$")
_ESCAPED = re.compile(r"\\([0-7]{3})")


def detach_tmp_disks() -> None:
    """Every lambdad /tmp disk mounted in this mount namespace (copies of the host's, made
    when it was created), unmounted from it: a spare, parked for long, would otherwise
    keep each one's file system, loop device and deleted image alive."""
    with open("/proc/self/mountinfo") as f:
        points = [line.split(" ")[4] for line in f.read().splitlines() if line.count(" ") > 4]
    for point in points:
        path = _ESCAPED.sub(lambda m: chr(int(m.group(1), 8)), point)
        if _TMP_DISK.search(path):
            _libc.umount2(_b(path), ctypes.c_int(MNT_DETACH))


def data_file(path: str, content: bytes, mode: int) -> None:
    """``content`` as a read-only file bound over ``path``, from a tmpfs mounted on
    ``/dev/shm`` for a moment (the directory is whole again after): no file of the root
    or the host is behind it, as behind bwrap's ``--ro-bind-data``. (A memfd cannot be
    bound: its mount is in no namespace.)"""
    mount("tmpfs", _DATA_STAGING, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=0700")
    try:
        staged = f"{_DATA_STAGING}/{os.path.basename(path)}"
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            view = memoryview(content)
            while view:
                view = view[os.write(fd, view) :]
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
        mount(staged, path, None, MS_BIND)
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
        mount(None, path, None, flags)
    finally:
        umount2(_DATA_STAGING, MNT_DETACH)


_DATA_STAGING = "/dev/shm"


def loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, ifreq))[1]
        fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_seccomp(program: bytes) -> None:
    """Load a classic-BPF seccomp filter (``struct sock_filter`` array), as bwrap's
    ``--seccomp`` does; needs ``no_new_privs`` (or CAP_SYS_ADMIN)."""
    code = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.addressof(code))
    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog))


def drop_privileges(uid: int, gid: int, last_cap: int) -> None:
    """Become ``uid``/``gid`` with no capabilities at all and ``no_new_privs``, as
    ``setpriv --reuid --regid --clear-groups --no-new-privs --inh-caps=-all
    --bounding-set=-all`` does."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    for cap in range(last_cap + 1):
        try:
            prctl(PR_CAPBSET_DROP, cap)
        except SetupError:
            if ctypes.get_errno() != errno.EINVAL:
                raise
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    os.setresuid(uid, uid, uid)
    clear_capabilities()
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    # A uid change makes the process non-dumpable (its /proc entries root's); after an
    # exec it would be dumpable again, and runtimes read their own /proc/self/fd.
    prctl(PR_SET_DUMPABLE, 1)
    # AWS's limits, hard, as the exec path's last stage sets them (bwrap_plan.APPLY_ENV):
    # 1,024 open files, no core dumps.
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


# -------------------------------------------------------------------------------- main


def main() -> None:
    """Started by the platform with its control socket as stdin, as
    ``<python> <this file, padded to the length of the bootstrap's path>``."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    control = socket.socket(fileno=os.dup(0))
    config, _ = receive(control)
    if config is None:
        return
    shown_as = config["bootstrap_as"]
    # Every child inherits what /proc/<pid>/cmdline shows: the command line an exec'd
    # runtime has, not this file's host path.
    disguise_cmdline([config["argv0"], shown_as])
    added = {k: v for k, v in os.environ.items() if k not in config.get("env_keys", [])}
    bootstrap = load_bootstrap(config["bootstrap"], shown_as)
    snapstart = load_snapstart(os.path.join(here, "snapstart.py"))
    os.chdir("/")
    # What an exec'd runtime pays on first use, paid once here: getaddrinfo() imports
    # the IDNA codec (a few ms of a cold start).
    with contextlib.suppress(OSError):
        socket.getaddrinfo("127.0.0.1", 9, 0, socket.SOCK_STREAM)
    zygote = Zygote(control, bootstrap, added)
    zygote.snapstart = snapstart
    # Everything imported so far is shared by every child: keep the collector off it, so
    # that no child copies those pages by writing their GC headers.
    gc.collect()
    gc.freeze()
    entry = zygote.serve()
    if entry is not None:
        # A new environment's runtime: from here on it is an ordinary interpreter whose
        # script is the bootstrap (exit status, atexit, thread joins as after an exec).
        del zygote
        entry()


if __name__ == "__main__":
    main()
