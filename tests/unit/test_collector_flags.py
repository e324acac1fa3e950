"""The collector is started with the flags of the invocation that started it: what it
collects and whether (and how) it records, since the flight recorder runs there."""

from __future__ import annotations

from console.cli import _collector_flags, make_parser


def _flags(*argv: str) -> list[str]:
    args = make_parser().parse_args(list(argv))
    return _collector_flags(args, demo=True, agent_urls=())


def test_the_demo_s_recording_options_reach_the_collector() -> None:
    flags = _flags("demo", "--onset", "30", "--no-record", "--nodes", "8")
    assert flags[flags.index("--onset") + 1] == "30.0"
    assert "--no-record" in flags and "--demo" in flags
    assert flags[flags.index("--nodes") + 1] == "8"
    parsed = make_parser().parse_args(["collector", "--token-file", "t", *flags])
    assert parsed.no_record and parsed.onset == 30.0 and parsed.nodes == 8


def test_a_recording_demo_passes_no_record_flag() -> None:
    flags = _flags("demo")
    assert "--no-record" not in flags and "--onset" not in flags
    parsed = make_parser().parse_args(["collector", "--token-file", "t", *flags])
    assert not getattr(parsed, "no_record", False) and parsed.onset is None
