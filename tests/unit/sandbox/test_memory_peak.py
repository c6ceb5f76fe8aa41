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
