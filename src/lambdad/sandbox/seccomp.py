"""The seccomp filter every sandboxed runtime runs under (handed to bwrap's --seccomp).

Namespaces do not cover everything the kernel offers an unprivileged process; this
filter refuses, as Docker's default profile does, what would reach past them:

- the kernel keyring (``add_key``, ``request_key``, ``keyctl``: EPERM): keyrings
  are not namespaced, so one environment could leave keys for another to read;
- kernel interfaces that hosts may leave open to unprivileged users and that are
  the usual way into kernel exploits (``bpf``, ``perf_event_open``,
  ``userfaultfd``, ``io_uring_*``: AWS's runtimes offer no io_uring either) or read
  host-wide state (``syslog``): EPERM, whatever the host's sysctls say;
- new user namespaces (``unshare``/``clone`` with CLONE_NEWUSER: EPERM), which would
  hand the function capabilities inside them and a large kernel attack surface;
  ``clone3`` answers ENOSYS because its flags cannot be inspected (libc then falls
  back to ``clone``);
- system calls of another ABI (i386, x32: ENOSYS), which would bypass the checks.

The program is classic BPF over ``struct seccomp_data``, assembled here; only
x86_64 and aarch64 are known (elsewhere ``program()`` returns None: no filter).
"""

from __future__ import annotations

import errno
import os
import platform
import struct
from collections.abc import Sequence
from dataclasses import dataclass

CLONE_NEWUSER = 0x10000000

# struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6].
_NR, _ARCH, _ARG0_LOW = 0, 4, 16

_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000


@dataclass(frozen=True, slots=True)
class Abi:
    audit_arch: int
    # add_key, request_key, keyctl, bpf, perf_event_open, userfaultfd, syslog,
    # io_uring_setup, io_uring_enter, io_uring_register
    denied: tuple[int, ...]
    clone: int
    unshare: int
    clone3: int
    x32_bit: int = 0  # x86_64: syscall numbers with this bit set are x32's


ABIS = {
    "x86_64": Abi(
        0xC000003E,
        (248, 249, 250, 321, 298, 323, 103, 425, 426, 427),
        56,
        272,
        435,
        x32_bit=0x40000000,
    ),
    "aarch64": Abi(0xC00000B7, (217, 218, 219, 280, 241, 282, 116, 425, 426, 427), 220, 97, 435),
}


def program(machine: str | None = None, *, user_namespaces: bool = False) -> bytes | None:
    """The filter for this machine's ABI, as bwrap reads it (sock_filter array).

    ``user_namespaces``: the variant a SnapStart template's runtime is confined with,
    only until it has forked its namespace factory (``runtimes/python/snapstart.py``),
    the one process that keeps it: the runtime then adds the full filter on itself,
    before the function's init. A restored environment joins the user namespace the
    factory made for it (``setns``, which neither variant refuses) and creates its
    other namespaces inside it."""
    abi = ABIS.get(machine or platform.machine())
    return None if abi is None else _assemble(_instructions(abi, user_namespaces))


# An instruction is (code, jump-if-true label, jump-if-false label, k); labels are
# names of later instructions, None meaning "the next one".
_Insn = tuple[int, str | None, str | None, int]


def _instructions(abi: Abi, user_namespaces: bool = False) -> list[tuple[str | None, _Insn]]:
    prog: list[tuple[str | None, _Insn]] = [
        (None, (_LD_W_ABS, None, None, _ARCH)),
        (None, (_JEQ_K, None, "enosys", abi.audit_arch)),
        (None, (_LD_W_ABS, None, None, _NR)),
    ]
    if abi.x32_bit:
        prog.append((None, (_JGE_K, "enosys", None, abi.x32_bit)))
    prog += [(None, (_JEQ_K, "eperm", None, nr)) for nr in abi.denied]
    if user_namespaces:
        prog += [
            (None, (_JEQ_K, "enosys", "allow", abi.clone3)),
            ("allow", (_RET_K, None, None, _RET_ALLOW)),
            ("eperm", (_RET_K, None, None, _RET_ERRNO | errno.EPERM)),
            ("enosys", (_RET_K, None, None, _RET_ERRNO | errno.ENOSYS)),
        ]
        return prog
    prog += [
        (None, (_JEQ_K, "enosys", None, abi.clone3)),
        (None, (_JEQ_K, "flags", None, abi.unshare)),
        (None, (_JEQ_K, "flags", "allow", abi.clone)),
        ("flags", (_LD_W_ABS, None, None, _ARG0_LOW)),
        (None, (_JSET_K, "eperm", "allow", CLONE_NEWUSER)),
        ("allow", (_RET_K, None, None, _RET_ALLOW)),
        ("eperm", (_RET_K, None, None, _RET_ERRNO | errno.EPERM)),
        ("enosys", (_RET_K, None, None, _RET_ERRNO | errno.ENOSYS)),
    ]
    return prog


def _assemble(prog: Sequence[tuple[str | None, _Insn]]) -> bytes:
    where = {label: i for i, (label, _) in enumerate(prog) if label is not None}
    out = bytearray()
    for i, (_, (code, jt, jf, k)) in enumerate(prog):

        def offset(label: str | None, i: int = i) -> int:
            if label is None:
                return 0
            distance = where[label] - i - 1
            assert 0 <= distance < 256, "seccomp jumps go forward, at most 255"
            return distance

        out += struct.pack("=HBBI", code, offset(jt), offset(jf), k)
    return bytes(out)


PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2


def install(prog: bytes) -> None:
    """Put the calling thread (and what it starts from now on) under ``prog``.

    For sandboxes built without bwrap (a forked child that sets up its own
    namespaces): call it last, after dropping privileges, right before the runtime
    runs. Sets ``no_new_privs`` first, as an unprivileged filter requires.
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    buf = ctypes.create_string_buffer(prog, len(prog))
    fprog = SockFprog(len(prog) // 8, ctypes.cast(buf, ctypes.c_void_p))
    for args in (
        (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
        (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0),
    ):
        if libc.prctl(*(ctypes.c_ulong(a) for a in args)) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"prctl({args[0]}): {os.strerror(err)}")
