"""Strings from remote machines are shown as plain text."""

from __future__ import annotations

from console.core.text import plain
from console.ui.kit import cell


def test_escape_sequences_and_controls_are_removed() -> None:
    hostile = "node\x1b[31mred\x1b[0m\x1b]52;c;ZXZpbA==\x07\x07\u202eevil\x00\r\nend"
    shown = plain(hostile)
    assert shown == "noderedevil  end"
    assert "ZXZpbA" not in shown  # the OSC 52 clipboard payload never reaches the terminal


def test_long_strings_are_cut() -> None:
    assert len(plain("x" * 10_000)) == 200
    assert plain("x" * 10_000).endswith("…")


def test_markup_stays_literal_in_a_cell() -> None:
    text = cell("[red]job[/red] [link=http://evil]x[/link]")
    assert text.plain == "[red]job[/red] [link=http://evil]x[/link]"
    assert not text.spans


def test_one_gpu_is_one_gpu_not_one_gpus() -> None:
    from console.api import plural
    from console.ui.overview import no_gpu_words

    assert (plural(1, "GPU"), plural(0, "GPU"), plural(8, "idle GPU")) == (
        "1 GPU", "0 GPUs", "8 idle GPUs"
    )  # fmt: skip
    assert no_gpu_words({"slurm_gpus": 1}) == "1 GPU (Slurm)"
    assert no_gpu_words({"slurm_gpus": 4}) == "4 GPUs (Slurm)"
