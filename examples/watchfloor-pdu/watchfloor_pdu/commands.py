"""The ``pdu`` palette command: ``pdu rack01-pdu-a`` opens that PDU."""

from __future__ import annotations

from console.api import PaneContext, make_ref


def open_pdu(context: PaneContext, argument: str) -> None:
    """Open the PDU named (or the first whose name contains the text); no name: the
    busiest PDU."""
    pdus = context.store.of_kind("pdu")
    if argument:
        exact = make_ref("pdu", argument)
        matches = [p for p in pdus if p.ref == exact] or [p for p in pdus if argument in p.name]
    else:
        matches = sorted(pdus, key=lambda p: -(context.store.value(p.ref, "pdu.load") or 0))
    # Nothing matching: open() says "nothing known as pdu/…" to the user.
    context.open(matches[0].ref if matches else make_ref("pdu", argument or "?"))
