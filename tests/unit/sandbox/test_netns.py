from __future__ import annotations

from lambdad.sandbox.nat import nat_argv


def test_slirp4netns_keeps_the_host_loopback_out_and_reports_readiness() -> None:
    argv = nat_argv("/usr/bin/slirp4netns", 4242, 7, 9)

    assert argv[0] == "/usr/bin/slirp4netns"
    assert "--disable-host-loopback" in argv
    assert "--configure" in argv
    assert "--ready-fd=7" in argv
    assert "--exit-fd=9" in argv
    assert argv[-2:] == ["4242", "tap0"]


def test_slirp4netns_confines_itself() -> None:
    argv = nat_argv("/usr/bin/slirp4netns", 4242, 7, 9)

    # It parses the function's packets as root: an empty root, no capabilities, no exec.
    assert "--enable-sandbox" in argv
    assert "--enable-seccomp" in argv


def test_pasta_forwards_no_port_either_way() -> None:
    argv = nat_argv("/usr/bin/pasta", 4242, 7, 9)

    # pasta's default is "auto" both ways: the host would reach every port bound in the
    # namespace (the Runtime API), and the function every port on the host's loopback.
    for option in ("-t", "-u", "-T", "-U"):
        assert argv[argv.index(option) + 1] == "none", option
    assert "--no-map-gw" in argv
    assert argv[-2:] == ["--netns", "/proc/4242/ns/net"]
