"""The embedded simulator's message ids: unique across restarts and across simulators (two hosts' simulators
numbering from 1 had receipts applied to the other host's message), and still valid SMPP message ids."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from octogate.smpp.client import ConnectorConfig, SmppClient
from octogate.smpp.simulator import SimulatorConfig, SmscSimulator

ACCOUNT = {"octo": "pw"}


@asynccontextmanager
async def bound_client(sim: SmscSimulator) -> AsyncIterator[SmppClient]:
    port = await sim.start()
    client = SmppClient(
        ConnectorConfig(
            name="sim", host="127.0.0.1", port=port, system_id="octo", password="pw", bind_mode="transmitter",
            reconnect_min=0.02, reconnect_max=0.2, response_timeout=5.0, connection_wait=5.0,
        )
    )  # fmt: skip
    await client.start()
    try:
        await client.wait_connected(5)
        yield client
    finally:
        await client.stop(grace=1.0)
        await sim.stop(grace=1.0)


async def submit_ids(sim: SmscSimulator, count: int) -> list[str]:
    async with bound_client(sim) as client:
        ids = []
        for n in range(count):
            outcome = await client.submit_text("Octo", None, None, f"3360000{n:04d}", "hi", registered_delivery=True)
            ids.extend(i for i in outcome.message_ids if i is not None)
        return ids


def valid_smpp_id(message_id: str) -> bool:
    """SMPP 3.4 message_id: a C-octet string of at most 65 octets, NUL included; printable ASCII here."""
    return 0 < len(message_id) <= 64 and message_id.isascii() and message_id.isalnum()


@pytest.mark.parametrize("style", ["hex", "decimal"])
async def test_two_simulators_and_a_restart_never_hand_out_the_same_id(style: str) -> None:
    # Same seed on purpose: two hosts started from the same configuration must still differ.
    first = SmscSimulator(SimulatorConfig(accounts=dict(ACCOUNT), message_id_style=style, seed=7))  # type: ignore[arg-type]
    second = SmscSimulator(SimulatorConfig(accounts=dict(ACCOUNT), message_id_style=style, seed=7))  # type: ignore[arg-type]
    ids_first = await submit_ids(first, 20)
    ids_second = await submit_ids(second, 20)
    ids_restarted = await submit_ids(first, 20)  # the first simulator, stopped and started again
    every = ids_first + ids_second + ids_restarted
    assert len(every) == 60 and len(set(every)) == 60
    assert all(valid_smpp_id(i) for i in every)
    if style == "hex":
        assert all(len(i) == 16 and int(i, 16) < 2**63 for i in every)
    else:
        assert all(i.isdigit() and int(i) < 2**63 for i in every)
    # Within one run ids still follow each other: an operator reading logs sees the order of submits.
    assert [int(i, 16 if style == "hex" else 10) for i in ids_first] == sorted(
        int(i, 16 if style == "hex" else 10) for i in ids_first
    )


async def test_a_fixed_base_numbers_from_it_and_a_restart_goes_on_after_it() -> None:
    sim = SmscSimulator(SimulatorConfig(accounts=dict(ACCOUNT), message_id_style="decimal", message_id_base=1000))
    assert await submit_ids(sim, 3) == ["1000", "1001", "1002"]
    restarted = await submit_ids(sim, 2)
    assert restarted == ["1003", "1004"]


def test_a_base_beyond_63_bits_is_refused() -> None:
    with pytest.raises(ValueError, match="message_id_base"):
        SimulatorConfig(message_id_base=2**63)
