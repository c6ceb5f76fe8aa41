"""SnapStart in lambdad's Python zygote: a template that restored environments fork from.

A SnapStart version's template is an environment like any other (``zygote.py`` builds
its sandbox and confines its runtime), with two differences. Its runtime, once the
function's init and the ``before_snapshot`` hooks have run, does not take invocations:
it calls ``snapshot()`` instead, which tells the platform the snapshot is taken and
then forks one process per restore request, until the platform hangs up. And, before
any of the function's code runs, it forks the *namespace factory*.

The factory is the only process of a template whose seccomp filter lets it create
user namespaces (the variant the runtime was confined with; the runtime then adds the
full filter on itself, before the bootstrap imports the handler: no process that ran,
or descends from one that ran, the function's code can create a user namespace). It
runs nothing but this file's ``_serve_factory`` (no import, no code of the function),
is not dumpable (a process of the same uid can neither ptrace it nor open its
``/proc/<pid>`` descriptors or namespaces), and talks only to the platform, on a
socket the template closes in itself right after the fork. For each restore the
platform sends it a socket; it forks a *holder* that takes a new user namespace,
sends a descriptor of it, and waits until the platform (root) has written the
namespace's uid and gid maps and hangs up.

A restored environment's processes:

- the *waiter* (in the template's PID namespace): joins the environment's cgroups
  (descriptors the platform opened), then the user namespace the platform sends it
  (``setns``: a namespace owned by its own uid, in which that uid maps to the
  environment's host uid), where it takes new mount, UTS, IPC, cgroup, PID and
  (unless the network mode is ``host``) network namespaces: none of them a user
  namespace, which its filter refuses. It forks the keeper, waits for it, and sends
  the platform its wait status: ``{"exit": status}``.
- the *keeper* (pid 1 of the new PID namespace): brings ``lo`` up, says
  ``{"netns": true}`` (the platform reads its pid from the message's credentials and
  makes the Runtime API socket and the NAT in its network namespace), mounts its own
  ``/tmp`` (its disk, else a tmpfs; a copy of the template's) and ``/proc`` (with the
  platform's read-only parts) and a ``/dev/pts`` of its own, says ``{"ok": true}``,
  forks the runtime and reaps until it exits, exiting with its status (128 + signal
  when it was killed).
- the *runtime* (pid 2): drops every capability, adds the full seccomp filter, takes
  its variables and the go (as ``zygote.take_over``), reseeds ``random``, and returns
  from ``snapshot()`` into the bootstrap, which runs the ``after_restore`` hooks and
  serves invocations on a new Runtime API connection.

Over the ``process`` sandbox (no isolation) a restore is the waiter and the runtime
alone: a new session, the output pipe, the environment's variables; there is no
factory.

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


def arm(zygote: Any, fds: list[int], options: dict[str, Any]) -> None:
    """Make this runtime a template: the bootstrap calls ``snapshot()`` after init.

    ``fds``: the restore channel, then (sandboxed) the namespace factory's socket.
    Called before any of the function's code runs; sandboxed, it forks the factory and
    then confines this process with the full filter (``options["seccomp"]``)."""
    channel_fd = fds[0]
    sandboxed = bool(options.get("sandboxed"))
    if sandboxed:
        if len(fds) < 2:
            raise z.SetupError("no namespace factory socket for the template")
        start_factory(fds[1])
        program = options.get("seccomp")
        if program:
            z.install_seccomp(base64.b64decode(program))

    def snapshot() -> None:
        serve_restores(zygote, socket.socket(fileno=channel_fd), sandboxed)

    zygote.bootstrap.snapshot = snapshot


def start_factory(factory_fd: int) -> None:
    """Fork the namespace factory on ``factory_fd``, which this process then closes."""
    # Not dumpable from its first instruction on (a flag a fork inherits); this process
    # is dumpable again right after (it reads its own /proc/self/fd).
    z.prctl(z.PR_SET_DUMPABLE, 0)
    try:
        pid = os.fork()
        if pid == 0:
            try:
                _serve_factory(factory_fd)
            finally:
                os._exit(70)
    finally:
        z.prctl(z.PR_SET_DUMPABLE, 1)
    os.close(factory_fd)


def _serve_factory(factory_fd: int) -> None:
    """The factory: one holder per request (a socket to the platform), until the
    platform hangs up. It keeps nothing of the template's but its own socket."""
    import gc

    # Objects of the template's that hold descriptors closed here are never finalized
    # (a finalizer would close a number reused since).
    gc.disable()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # holders are reaped by the kernel
    z.close_fds((factory_fd,))
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):  # the template's output pipe is the function's log
        os.dup2(null, fd)
    os.close(null)
    channel = socket.socket(fileno=factory_fd)
    while True:
        try:
            request, fds = z.receive(channel, maxfds=1)
        except OSError:
            request, fds = None, []
        if request is None:
            os._exit(0)
        if request.get("op") != "userns" or len(fds) != 1:
            for fd in fds:
                os.close(fd)
            continue
        try:
            pid = os.fork()
        except OSError as exc:
            z.report_failure(fds[0], exc)
            continue
        if pid == 0:
            channel.detach()
            _hold_user_namespace(fds[0])
        os.close(fds[0])


def _hold_user_namespace(req_fd: int) -> None:
    """A holder: a new user namespace, a descriptor of it sent to the platform (its pid
    comes with it, for the maps), then held until the platform hangs up."""
    try:
        z.prctl(z.PR_SET_PDEATHSIG, signal.SIGKILL)
        sock = socket.socket(fileno=req_fd)
        z.unshare(CLONE_NEWUSER)
        ns = os.open("/proc/self/ns/user", os.O_RDONLY | os.O_CLOEXEC)
        z.send(sock, {"userns": True}, [ns])
        os.close(ns)
        sock.recv(1)
    except BaseException as exc:
        z.report_failure(req_fd, exc)
    os._exit(0)


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
    tmp_mount = -1
    if sandboxed:
        tmp_mount = _enter_user_namespace(sock, network)
    child = os.fork()
    if child != 0:
        os.close(out_fd)
        if tmp_mount >= 0:
            os.close(tmp_mount)
        _wait_and_report(sock, child)
    z.prctl(z.PR_SET_PDEATHSIG, signal.SIGKILL)
    if not sandboxed:
        os.setsid()
        z.redirect_output(out_fd)
        z.send(sock, {"ok": True})  # its pid comes with it
        _take_over(zygote, sock, request)
        return
    _build(sock, request, network, tmp_mount)
    # The keeper runs as the runtime's uid, with every capability in the environment's
    # namespaces until it drops them to reap: dumpable, it would be the runtime's to
    # ptrace or to write through /proc/1/mem. Not so the runtime itself (it reads its
    # own /proc/self/fd).
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


def _enter_user_namespace(sock: socket.socket, network: str) -> int:
    """The user namespace the platform sends (a holder's, from the factory), where the
    template's uid and gid stand for the environment's own: joined, not created (the
    filter refuses that). Inside it, new namespaces of every other kind; then its ids:
    the same as the template's inside, host ids of its own outside (per-user kernel
    limits are not shared). Returns the descriptor of the environment's /tmp disk that
    comes with it (a detached mount the keeper moves onto /tmp), or -1."""
    uid, gid = os.getuid(), os.getgid()
    answer, fds = z.receive(sock, maxfds=2)
    wanted = 2 if answer and answer.get("tmp_mount") else 1
    tmp_mount = -1
    try:
        if not answer or not answer.get("userns") or len(fds) != wanted:
            raise z.SetupError(f"no user namespace: {answer}")
        # Its own uid owns it: joining takes no privilege (this process is
        # single-threaded and shares no file system information, as setns requires).
        z.setns(fds[0], CLONE_NEWUSER)
        if wanted == 2:
            tmp_mount = fds.pop()
    finally:
        for fd in fds:
            os.close(fd)
    flags = z.CLONE_NEWNS | z.CLONE_NEWUTS | z.CLONE_NEWIPC | z.CLONE_NEWPID | z.CLONE_NEWCGROUP
    if network != "host":
        flags |= z.CLONE_NEWNET
    z.unshare(flags)
    # Its network namespace exists: the platform starts the NAT while the rest is built.
    z.send(sock, {"unshared": True})
    # Privileged in its namespace: the ids were never 0 there.
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    return tmp_mount


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


def _build(sock: socket.socket, request: dict[str, Any], network: str, tmp_mount: int) -> None:
    """The keeper's part: its network, /tmp (its disk, ``tmp_mount``, else a tmpfs),
    /proc and /dev/pts, then "ok"."""
    if network != "host":
        z.loopback_up()
    z.sethostname(request.get("hostname", "localhost"))
    z.send(sock, {"netns": True})
    template_tmp = os.open("/tmp", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if tmp_mount >= 0:
            z.move_mount(tmp_mount, "/tmp")
            os.close(tmp_mount)
        else:
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
