"""SnapStart in lambdad's Python zygote: a template that restored environments fork from.

A SnapStart version's template is an environment like any other (``zygote.py`` builds
its sandbox and confines its runtime), with two differences: its seccomp filter lets
it create user namespaces, and its runtime, once the function's init and the
``before_snapshot`` hooks have run, does not take invocations. It calls ``snapshot()``
instead, which tells the platform the snapshot is taken and then forks one process
per restore request, until the platform hangs up. A restored environment's processes:

- the *waiter* (in the template's PID namespace): joins the environment's cgroups
  (descriptors the platform opened), takes a user namespace of its own in which its
  uid maps to itself, and with it new mount, UTS, IPC, cgroup, PID and (unless the
  network mode is ``host``) network namespaces. It forks the keeper, waits for it,
  and sends the platform its wait status: ``{"exit": status}``.
- the *keeper* (pid 1 of the new PID namespace): brings ``lo`` up, says
  ``{"netns": true}`` (the platform reads its pid from the message's credentials and
  makes the Runtime API socket and the NAT in its network namespace), mounts its own
  ``/tmp`` (a copy of the template's) and ``/proc`` (with the platform's read-only
  parts) and a ``/dev/pts`` of its own, says ``{"ok": true}``, forks the runtime and
  reaps until it exits, exiting with its status (128 + signal when it was killed).
- the *runtime* (pid 2): drops every capability, adds the full seccomp filter, takes
  its variables and the go (as ``zygote.take_over``), reseeds ``random``, and returns
  from ``snapshot()`` into the bootstrap, which runs the ``after_restore`` hooks and
  serves invocations on a new Runtime API connection.

Over the ``process`` sandbox (no isolation) a restore is the waiter and the runtime
alone: a new session, the output pipe, the environment's variables.

What is not carried over, as documented for lambdad's SnapStart: threads the function
started during init (a fork copies only the calling thread), and connections (the
platform's Runtime API connection is closed before the snapshot, and a socket the
function opened is shared with the template, so ``after_restore`` hooks should open
new ones, as on AWS).

Stdlib only, CPython 3.9+ (it runs on the function's interpreter).
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import socket
import stat
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CLONE_NEWUSER = 0x10000000

# The zygote module (``zygote.py``), bound by it when it loads this file.
z: Any = None


def arm(zygote: Any, channel_fd: int, sandboxed: bool) -> None:
    """Make this runtime a template: the bootstrap calls ``snapshot()`` after init."""

    def snapshot() -> None:
        serve_restores(zygote, socket.socket(fileno=channel_fd), sandboxed)

    zygote.bootstrap.snapshot = snapshot


def serve_restores(zygote: Any, channel: socket.socket, sandboxed: bool) -> None:
    """The template's loop: one fork per restore request. Returns only in a restored
    environment's runtime."""
    import gc

    # What init left is every restored environment's: keep the collector off it.
    gc.collect()
    gc.freeze()
    # Waiters are reaped by the kernel: the template never waits (a waiter resets this).
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    z.send(channel, {"snapshot": True})
    while True:
        try:
            request, fds = z.receive(channel, maxfds=8)
        except (ConnectionResetError, BrokenPipeError):
            request, fds = None, []
        if request is None:
            os._exit(0)  # the platform dropped the template
        if len(fds) < 2:
            for fd in fds:
                os.close(fd)
            continue
        try:
            pid = os.fork()
        except OSError as exc:
            z.report_failure(fds[0], exc)
            pid = -1
        if pid == 0:
            try:
                channel.close()
                restore(zygote, request, fds[0], fds[1], fds[2:], sandboxed)
            except BaseException as exc:
                z.report_failure(fds[0], exc)
                os._exit(71)
            return
        for fd in fds:
            os.close(fd)


def restore(
    zygote: Any,
    request: dict[str, Any],
    req_fd: int,
    out_fd: int,
    cgroup_fds: list[int],
    sandboxed: bool,
) -> None:
    """The waiter, then (in the forks) the keeper and the runtime. Returns only in the
    runtime."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    z.prctl(z.PR_SET_PDEATHSIG, signal.SIGKILL)
    sock = socket.socket(fileno=req_fd)
    z.join_cgroups([], cgroup_fds)
    network = request.get("network", "isolated")
    if sandboxed:
        _enter_user_namespace(sock, network)
    child = os.fork()
    if child != 0:
        os.close(out_fd)
        _wait_and_report(sock, child)
    z.prctl(z.PR_SET_PDEATHSIG, signal.SIGKILL)
    if not sandboxed:
        os.setsid()
        z.redirect_output(out_fd)
        z.send(sock, {"ok": True})  # its pid comes with it
        _take_over(zygote, sock, request)
        return
    _build(sock, request, network)
    # The keeper runs as the runtime's uid, under the template's filter (which allows
    # user namespaces), and drops its capabilities to reap: dumpable, it would be the
    # runtime's to ptrace or to write through /proc/1/mem. Not so the runtime itself
    # (it reads its own /proc/self/fd).
    z.prctl(z.PR_SET_DUMPABLE, 0)
    runtime = os.fork()
    if runtime == 0:
        os.setsid()
        z.redirect_output(out_fd)
        # Its ids kept, every capability gone (dumpable again), then the full filter.
        z.drop_privileges(os.getuid(), os.getgid(), zygote.last_cap)
        program = request.get("seccomp")
        if program:
            z.install_seccomp(base64.b64decode(program))
        _take_over(zygote, sock, request)
        return
    os.close(out_fd)
    sock.close()
    z.reap_until(runtime)


def _enter_user_namespace(sock: socket.socket, network: str) -> None:
    """New namespaces, owned by a user namespace of its own, where the template's uid
    and gid stand for the environment's own (the platform writes the maps: a process
    may map only its own ids). Then it takes them: the same ids as the template's
    inside, host ids of its own outside (per-user kernel limits are not shared)."""
    uid, gid = os.getuid(), os.getgid()
    flags = (
        CLONE_NEWUSER
        | z.CLONE_NEWNS
        | z.CLONE_NEWUTS
        | z.CLONE_NEWIPC
        | z.CLONE_NEWPID
        | z.CLONE_NEWCGROUP
    )
    if network != "host":
        flags |= z.CLONE_NEWNET
    z.unshare(flags)
    z.send(sock, {"userns": True})
    answer, fds = z.receive(sock, maxfds=1)
    for fd in fds:
        os.close(fd)
    if not answer or not answer.get("mapped"):
        raise z.SetupError(f"no uid map: {answer}")
    # Still privileged in its namespace: the ids were never 0 there.
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def _wait_and_report(sock: socket.socket, child: int) -> None:
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:
            status = 0
            break
    with contextlib.suppress(OSError):
        z.send(sock, {"exit": status})
    os._exit(0)


def _build(sock: socket.socket, request: dict[str, Any], network: str) -> None:
    """The keeper's part: its network, /tmp, /proc and /dev/pts, then "ok"."""
    if network != "host":
        z.loopback_up()
    z.sethostname(request.get("hostname", "localhost"))
    z.send(sock, {"netns": True})
    template_tmp = os.open("/tmp", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        z.mount("tmpfs", "/tmp", "tmpfs", z.MS_NOSUID | z.MS_NODEV, request["tmp_options"])
        _copy_tree(template_tmp, "/tmp")
        _reopen_in_copy(os.fstat(template_tmp).st_dev)
    finally:
        os.close(template_tmp)
    z.apply_plan(request.get("proc_plan", []))
    z.mount(
        "devpts",
        "/dev/pts",
        "devpts",
        z.MS_NOSUID | z.MS_NOEXEC,
        "newinstance,ptmxmode=0666,mode=620",
    )
    z.send(sock, {"ok": True})


def _copy_tree(src_dir: int, dst: str) -> None:
    """What the template's init left in /tmp, copied into the environment's own."""
    with os.scandir(src_dir) as entries:
        for entry in entries:
            target = os.path.join(dst, entry.name)
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(entry.name, dir_fd=src_dir), target)
            elif stat.S_ISDIR(st.st_mode):
                os.mkdir(target, stat.S_IMODE(st.st_mode))
                sub = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=src_dir)
                try:
                    _copy_tree(sub, target)
                finally:
                    os.close(sub)
            elif stat.S_ISREG(st.st_mode):
                _copy_file(src_dir, entry.name, target, stat.S_IMODE(st.st_mode))
            else:
                continue  # sockets, fifos: not content
            if not stat.S_ISLNK(st.st_mode):
                # Its mode as the init left it (creating it applied the umask). Its owner
                # is this process: the environment's uid, as the template's was its.
                os.chmod(target, stat.S_IMODE(st.st_mode))


def _reopen_in_copy(template_dev: int) -> None:
    """Files of the template's /tmp that the init left open, opened again in the copy
    (same descriptor, flags and offset): through the inherited descriptor the
    environment would write into the template's file, which its siblings share and
    later restores copy. A file deleted while open, and shared mappings, stay shared."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            st = os.fstat(fd)
            if st.st_dev != template_dev or not stat.S_ISREG(st.st_mode):
                continue  # only files of the template's /tmp are looked at further
            path = os.readlink(f"/proc/self/fd/{fd}")
            with open(f"/proc/self/fdinfo/{fd}") as f:
                info = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue  # the listing's own descriptor
        if not path.startswith("/tmp/") or not os.path.exists(path):
            continue
        flags = int(info["flags"], 8)
        copy = os.open(path, flags & ~(os.O_CREAT | os.O_EXCL | os.O_TRUNC | os.O_CLOEXEC))
        try:
            os.lseek(copy, int(info["pos"]), os.SEEK_SET)
            os.dup2(copy, fd, inheritable=not flags & os.O_CLOEXEC)
        finally:
            os.close(copy)


def _copy_file(src_dir: int, name: str, target: str, mode: int) -> None:
    src = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=src_dir)
    try:
        dst = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            while os.sendfile(dst, src, None, 1 << 20):
                pass
        finally:
            os.close(dst)
    finally:
        os.close(src)


def _take_over(zygote: Any, sock: socket.socket, request: dict[str, Any]) -> None:
    """Its variables and the go, as a new environment's runtime takes them."""
    message, fds = z.receive(sock, maxfds=8)
    for fd in fds:
        os.close(fd)
    if message is None:
        os._exit(0)
    env = dict(message["env"])
    for key, value in zygote.added_env.items():
        env.setdefault(key, value)
    os.environ.clear()
    os.environ.update(env)
    random = sys.modules.get("random")
    if random is not None:
        random.seed()  # two restored environments never share a stream
    go, _ = z.receive(sock)
    sock.close()
    if go is None or not go.get("go"):
        os._exit(0)
    os.chdir(message.get("cwd") or "/")
