"""The seccomp filter, run on a small classic-BPF interpreter: what each system call
gets (allowed, EPERM, ENOSYS) for the ABIs lambdad knows."""

from __future__ import annotations

import errno
import struct

import pytest

from lambdad.sandbox import seccomp
from lambdad.sandbox.seccomp import ABIS, CLONE_NEWUSER

ALLOW, EPERM, ENOSYS = "allow", "EPERM", "ENOSYS"


def run(prog: bytes, nr: int, arch: int, arg0: int = 0) -> str:
    """Evaluate the filter for one system call (the subset of cBPF it uses)."""
    data = struct.pack("=iIQ6Q", nr, arch, 0, arg0, 0, 0, 0, 0, 0)
    insns = [struct.unpack_from("=HBBI", prog, i) for i in range(0, len(prog), 8)]
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = insns[pc]
        if code == 0x20:  # ld [k]
            acc = struct.unpack_from("=I", data, k)[0]
            pc += 1
            continue
        if code == 0x06:  # ret k
            if k == 0x7FFF0000:
                return ALLOW
            assert k & 0xFFFF0000 == 0x00050000, hex(k)
            return errno.errorcode[k & 0xFFFF]
        test = {0x15: acc == k, 0x35: acc >= k, 0x45: bool(acc & k)}[code]
        pc += 1 + (jt if test else jf)


@pytest.mark.parametrize("machine", sorted(ABIS))
def test_filter(machine: str) -> None:
    abi = ABIS[machine]
    prog = seccomp.program(machine)
    assert prog is not None
    native = abi.audit_arch

    for nr in (0, 1, 2, 3, 57, 59, 60, 231, 434):  # read, write, ..., exit_group...
        if nr not in (abi.clone, abi.unshare, *abi.denied):
            assert run(prog, nr, native) == ALLOW, nr
    assert len(abi.denied) == 10  # keyring 3, bpf, perf, userfaultfd, syslog, io_uring 3
    for nr in abi.denied:
        assert run(prog, nr, native) == EPERM
    assert run(prog, abi.clone, native, arg0=0x01200011) == ALLOW  # fork()'s flags
    assert run(prog, abi.clone, native, arg0=0x003D0F00) == ALLOW  # a thread's
    assert run(prog, abi.clone, native, arg0=CLONE_NEWUSER | 0x11) == EPERM
    assert run(prog, abi.unshare, native, arg0=0x00020000) == ALLOW  # CLONE_NEWNS
    assert run(prog, abi.unshare, native, arg0=CLONE_NEWUSER) == EPERM
    assert run(prog, abi.clone3, native) == ENOSYS
    assert run(prog, 1, 0x40000003) == ENOSYS  # i386 via int 0x80


def test_x32_system_calls_are_refused() -> None:
    prog = seccomp.program("x86_64")
    assert prog is not None
    assert run(prog, 0x40000000 | 250, ABIS["x86_64"].audit_arch) == ENOSYS


def test_unknown_machines_get_no_filter() -> None:
    assert seccomp.program("riscv64") is None
