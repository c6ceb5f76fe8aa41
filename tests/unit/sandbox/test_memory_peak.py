"""Max Memory Used: the larger of the cgroup's peak and the largest process peak."""

from __future__ import annotations

from pathlib import Path

from lambdad.sandbox import memory_peak

STATUS = b"Name:\tpython3\nVmPeak:\t  40000 kB\nVmHWM:\t   16384 kB\nVmRSS:\t 12000 kB\n"


def test_hwm_is_read_in_bytes() -> None:
    assert memory_peak.hwm_bytes(STATUS) == 16384 * 1024
    assert memory_peak.hwm_bytes(b"Name:\tkthreadd\n") is None


def test_the_largest_process_counts_and_gone_ones_are_skipped(tmp_path: Path) -> None:
    for pid, kb in ((1, 15000), (2, 16384)):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "status").write_bytes(STATUS.replace(b"16384", str(kb).encode()))
    assert memory_peak.tree_peak_bytes([1, 2, 3], proc=tmp_path) == 16384 * 1024


def test_the_peak_never_goes_down() -> None:
    # A forked runtime: its cgroup charged 3 MB, its resident peak 16 MB.
    assert memory_peak.environment_peak(3 << 20, 16 << 20) == 16 << 20
    assert memory_peak.environment_peak(64 << 20, 16 << 20) == 64 << 20
    # The runtime exited (its peak went with it): what was read before stays.
    assert memory_peak.environment_peak(None, 0, 16 << 20) == 16 << 20
    assert memory_peak.environment_peak(None, 0) == 0


def _status(proc: Path, pid: int, kb: int) -> None:
    (proc / str(pid)).mkdir(exist_ok=True)
    (proc / str(pid) / "status").write_bytes(STATUS.replace(b"16384", str(kb).encode()))


def test_a_reader_keeps_its_files_open_and_follows_the_cgroup(tmp_path: Path) -> None:
    proc, cg = tmp_path / "proc", tmp_path / "cg"
    proc.mkdir()
    cg.mkdir()
    (cg / "memory.peak").write_bytes(b"3145728\n")
    (cg / "cgroup.procs").write_bytes(b"1\n2\n")
    _status(proc, 1, 15000)
    _status(proc, 2, 16384)
    now = [0.0]
    reader = memory_peak.PeakReader(
        [cg / "memory.peak"], [cg / "cgroup.procs"], proc=proc, clock=lambda: now[0]
    )
    assert reader.read() == 16384 * 1024
    # A process grew and another joined: read again through the same files.
    _status(proc, 1, 20000)
    _status(proc, 3, 1000)
    (cg / "cgroup.procs").write_bytes(b"1\n2\n3\n")
    now[0] += memory_peak.TREE_INTERVAL
    assert reader.read() == 20000 * 1024
    # The biggest one left (its peak stays), the cgroup's peak rose past the rest.
    (cg / "cgroup.procs").write_bytes(b"3\n")
    (cg / "memory.peak").write_bytes(b"41943040\n")
    assert reader.read() == 40 << 20
    assert sorted(reader._status) == [3]
    reader.close()
    reader.close()
    assert reader.read() == 40 << 20  # closed: what was read last


def test_a_reader_without_a_peak_file_reads_the_processes(tmp_path: Path) -> None:
    _status(tmp_path, 7, 16384)
    procs = tmp_path / "procs"
    procs.write_bytes(b"7\n8\n")  # 8: gone before it could be read
    reader = memory_peak.PeakReader([tmp_path / "missing"], [procs], proc=tmp_path)
    assert reader.read() == 16384 * 1024
    assert memory_peak.PeakReader([], [], proc=tmp_path).read() == 0


def test_a_function_with_hundreds_of_processes_holds_few_descriptors(tmp_path: Path) -> None:
    proc, procs = tmp_path / "proc", tmp_path / "cgroup.procs"
    proc.mkdir()
    pids = range(1, 301)
    for pid in pids:
        _status(proc, pid, 1000 + pid)
    procs.write_bytes(b"".join(b"%d\n" % pid for pid in pids))
    reader = memory_peak.PeakReader([], [procs], proc=proc)
    assert reader.read() == 1300 * 1024  # the largest, though not kept open
    assert len(reader._status) == memory_peak.MAX_KEPT
    reader.close()


def test_the_processes_are_read_again_when_the_cgroup_peak_moves_or_a_second_passed(
    tmp_path: Path,
) -> None:
    proc, cg = tmp_path / "proc", tmp_path / "cg"
    proc.mkdir()
    cg.mkdir()
    (cg / "memory.peak").write_bytes(b"3145728\n")
    (cg / "cgroup.procs").write_bytes(b"1\n")
    _status(proc, 1, 16384)
    now = [100.0]
    reader = memory_peak.PeakReader(
        [cg / "memory.peak"], [cg / "cgroup.procs"], proc=proc, clock=lambda: now[0]
    )
    assert reader.read() == 16 << 20
    # Shared pages mapped, nothing charged: seen within TREE_INTERVAL, not at once.
    _status(proc, 1, 20480)
    now[0] += memory_peak.TREE_INTERVAL / 2
    assert reader.read() == 16 << 20
    now[0] += memory_peak.TREE_INTERVAL / 2
    assert reader.read() == 20 << 20
    # The function allocated (the cgroup's peak moved): read at once.
    _status(proc, 1, 30720)
    (cg / "memory.peak").write_bytes(b"4194304\n")
    assert reader.read() == 30 << 20
    # Past the processes' peaks, the cgroup's own counts at once too.
    (cg / "memory.peak").write_bytes(b"52428800\n")
    assert reader.read() == 50 << 20
