"""Receipts end to end over real sockets (simulator → transceiver connector → handler → store), on SQLite and
PostgreSQL: the outbox rows they leave, exactly the document's fields."""

from __future__ import annotations

import re

import httpx

from octogate.http.app import OctopushApp
from octogate.incoming.apply import apply_receipts, retry_early
from octogate.incoming.handler import IncomingHandler
from octogate.incoming.ids import receipt_key
from octogate.incoming.model import ReceiptUpdate
from octogate.incoming.payloads import paris_date
from octogate.incoming.submits import record_outcomes
from octogate.smpp.constants import MessageState
from octogate.smpp.simulator import SimulatorConfig
from octogate.store import delivery
from octogate.store import incoming as sql
from octogate.store.delivery import AcceptedPart, Outcome
from octogate.store.store import Store
from octogate.store.tickets import ticket_for
from support import Clock, Customer, eventually, send

from .conftest import SIM_ACCOUNTS, account_id, gateway, pushes, receipt_event, set_urls

LONG_TEXT = (
    "Our summer sale starts today: every item is twenty percent off until Sunday. " * 3 + "STOP au XXXXX"
)
DATE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


async def final(store: Store, campaign_id: int) -> bool:
    ids = await store.read(delivery.campaign_message_ids, campaign_id)
    states = [await store.read(delivery.message_state, message_id) for message_id, _ in ids]
    return all(state[0] in ("delivered", "undelivered", "failed") for state in states)


def done_dates(store: Store, campaign_id: int) -> dict[str, str]:
    with store.connect() as conn:
        rows = conn.fetchall("SELECT recipient, done_at FROM messages WHERE campaign_id = ?", (campaign_id,))
    return {r[0]: paris_date(int(r[1])) for r in rows}


async def test_a_receipt_mix_gives_one_push_per_recipient_with_the_rulings_statuses(
    api: httpx.AsyncClient, app: OctopushApp, store: Store, customer: Customer, clock: Clock
) -> None:
    store.run(set_urls, customer.login)
    recipients = [f"+336010203{n:02d}" for n in range(12)]
    sim = SimulatorConfig(
        accounts=dict(SIM_ACCOUNTS), receipt_delay_ms=20, seed=11, invalid_prefixes=("33699",),
        receipt_mix={"DELIVRD": 1.0, "UNDELIV": 1.0, "REJECTD": 1.0},
    )  # fmt: skip
    async with gateway(store, clock, app, sim) as g:
        campaign = await send(api, customer, sms_recipients=",".join([*recipients, "+33699000001"]))
        await eventually(lambda: final(store, campaign), what="every message final")
        # The gateway applies a receipt before its deliver_sm_resp reaches the simulator, which records the
        # receipt only then: wait for the simulator to have recorded all twelve, never read its list earlier.
        await eventually(lambda: _recorded(g.sim.receipts, len(recipients)), what="the simulator's receipt list")
        stats = {"+" + r.destination_addr: r.stat for r in g.sim.receipts}
    assert set(stats.values()) == {"DELIVRD", "UNDELIV", "REJECTD"}  # the seed draws all three
    expected_status = {"DELIVRD": "DELIVERED", "UNDELIV": "NOT_DELIVERED", "REJECTD": "NOT_ALLOWED"}
    dates = done_dates(store, campaign)
    with store.connect() as conn:
        found = pushes(conn, account_id(store, customer))
    ticket = ticket_for(campaign)
    expected = [
        ("receipt", {"message_id": ticket, "number": number, "status": expected_status[stats[number]],
                     "delivery_date": dates[number]})
        for number in recipients
    ]  # fmt: skip
    expected.append(
        ("receipt", {"message_id": ticket, "number": "+33699000001", "status": "INVALID_DESTINATION_ADDRESS",
                     "delivery_date": dates["+33699000001"]})
    )  # fmt: skip
    assert sorted(found, key=lambda p: p[1]["number"]) == sorted(expected, key=lambda p: p[1]["number"])
    assert all(DATE.fullmatch(fields["delivery_date"]) for _, fields in found)
    for message_id, number in await store.read(delivery.campaign_message_ids, campaign):
        status, _, _, _, receipt = await store.read(delivery.message_state, message_id)
        if number == "+33699000001":
            assert (status, receipt) == ("failed", "INVALID_DESTINATION_ADDRESS")
        else:
            want = expected_status[stats[number]]
            assert (status, receipt) == ("delivered" if want == "DELIVERED" else "undelivered", want)
            [(_, _, _, part_status)] = await store.read(delivery.message_parts, message_id)
            assert part_status == stats[number]


async def test_a_long_message_gives_one_receipt_push_per_recipient(
    api: httpx.AsyncClient, app: OctopushApp, store: Store, customer: Customer, clock: Clock
) -> None:
    store.run(set_urls, customer.login)
    async with gateway(store, clock, app) as g:
        campaign = await send(api, customer, sms_recipients="+33601020304,+33601020305", sms_text=LONG_TEXT)
        await eventually(lambda: final(store, campaign), what="both long messages final")

        async def all_acknowledged() -> bool:  # the gateway answers a receipt once it is durable: after "final"
            return len(g.sim.receipts) == 4

        await eventually(all_acknowledged, what="the four receipts acknowledged")
    with store.connect() as conn:
        found = pushes(conn, account_id(store, customer))
    assert sorted((f["number"], f["status"]) for _, f in found) == [
        ("+33601020304", "DELIVERED"), ("+33601020305", "DELIVERED"),
    ]  # fmt: skip
    for message_id, _ in await store.read(delivery.campaign_message_ids, campaign):
        assert [p[3] for p in await store.read(delivery.message_parts, message_id)] == ["DELIVRD", "DELIVRD"]


async def test_a_long_message_with_one_part_lost_is_not_delivered_and_pushed_once(
    store: Store, customer: Customer
) -> None:
    store.run(set_urls, customer.login)
    campaign, message_id = _submitted_message(store, customer, ("a1", "a2", "a3"))
    now = 1_790_000_000
    updates = [ReceiptUpdate("sim", "A1", "DELIVRD", "000", now, now),
               ReceiptUpdate("sim", "a2", "ENROUTE", None, now, now)]  # fmt: skip
    assert await store.write(apply_receipts, updates) == ["applied", "intermediate"]
    with store.connect() as conn:
        assert pushes(conn, account_id(store, customer)) == []
    later = [ReceiptUpdate("sim", "a3", "EXPIRED", "001", now + 5, now + 5),
             ReceiptUpdate("sim", "a2", "DELIVRD", "000", now + 9, now + 9),
             ReceiptUpdate("sim", "a2", "DELIVRD", "000", now + 9, now + 9)]  # fmt: skip
    assert await store.write(apply_receipts, later) == ["applied", "applied", "duplicate"]
    with store.connect() as conn:
        assert pushes(conn, account_id(store, customer)) == [
            ("receipt", {"message_id": ticket_for(campaign), "number": "+33601020304", "status": "NOT_DELIVERED",
                         "delivery_date": paris_date(now + 9)}),
        ]  # fmt: skip
    assert (await store.read(delivery.message_state, message_id))[4] == "NOT_DELIVERED"


async def test_hex_and_decimal_ids_match_either_way(
    api: httpx.AsyncClient, app: OctopushApp, store: Store, customer: Customer, clock: Clock
) -> None:
    store.run(set_urls, customer.login)
    sim = SimulatorConfig(accounts=dict(SIM_ACCOUNTS), receipt_delay_ms=600_000, message_id_style="decimal")
    numbers = ["+33601020304", "+33601020305", "+33601020306"]
    async with gateway(store, clock, app, sim) as g:
        campaign = await send(api, customer, sms_recipients=",".join(numbers))
        await eventually(lambda: _all_status(store, campaign, "submitted"), what="the campaign submitted")
        carrier = {}
        for message_id, number in await store.read(delivery.campaign_message_ids, campaign):
            [(_, _, carrier_id, _)] = await store.read(delivery.message_parts, message_id)
            assert carrier_id is not None and carrier_id.isdigit()  # the SMSC answers in decimal
            carrier[number] = int(carrier_id)
        hex_text = format(carrier[numbers[0]], "x")
        # the receipt text in hex, upper-case, zero-padded; no TLV
        assert await g.handler.receipt(
            receipt_event(f"id:{hex_text.upper().zfill(10)} stat:DELIVRD err:000")
        ) == ("applied")
        # the TLV in hex with the state as message_state, the text in decimal with leading zeros
        tlv = receipt_event(
            f"id:000{carrier[numbers[1]]} stat:UNDELIV", receipted_message_id=format(carrier[numbers[1]], "X"),
            message_state=MessageState.UNDELIVERABLE,
        )  # fmt: skip
        assert await g.handler.receipt(tlv) == "applied"
        # decimal with leading zeros
        assert await g.handler.receipt(receipt_event(f"id:00{carrier[numbers[2]]} stat:REJECTD")) == "applied"
    with store.connect() as conn:
        found = {f["number"]: f["status"] for _, f in pushes(conn, account_id(store, customer))}
    assert found == {numbers[0]: "DELIVERED", numbers[1]: "NOT_DELIVERED", numbers[2]: "NOT_ALLOWED"}


async def test_decimal_receipts_match_hex_ids(store: Store, customer: Customer) -> None:
    store.run(set_urls, customer.login)
    _, message_id = _submitted_message(store, customer, ("0000002a",))
    now = 1_790_000_000
    assert await store.write(apply_receipts, [ReceiptUpdate("sim", "42", "DELIVRD", None, now, now)]) == [
        "applied"
    ]
    assert (await store.read(delivery.message_state, message_id))[0] == "delivered"


async def test_receipts_that_overtake_their_submit_response_are_applied_when_the_part_is_recorded(
    api: httpx.AsyncClient, app: OctopushApp, store: Store, customer: Customer, clock: Clock
) -> None:
    store.run(set_urls, customer.login)
    # the simulator writes each receipt at once and its submit_sm_resp 200 ms later, so the receipt reaches the
    # store before the dispatcher can record the part
    sim = SimulatorConfig(
        accounts=dict(SIM_ACCOUNTS), receipt_delay_ms=0, latency_ms=200, receipt_mix={"UNDELIV": 1.0}
    )
    numbers = [f"+336010203{n:02d}" for n in range(10)]
    async with gateway(store, clock, app, sim) as g:
        campaign = await send(api, customer, sms_recipients=",".join(numbers))
        await eventually(lambda: final(store, campaign), what="every message final")
        assert g.handler.counts.get("early", 0) > 0
    with store.connect() as conn:
        found = pushes(conn, account_id(store, customer))
        assert conn.fetchone("SELECT COUNT(*) FROM early_receipts") == (0,)
    assert sorted((f["number"], f["status"]) for _, f in found) == [(n, "NOT_DELIVERED") for n in numbers]


async def test_an_early_receipt_is_kept_then_applied_in_the_recording_transaction(
    store: Store, customer: Customer
) -> None:
    store.run(set_urls, customer.login)
    campaign, message_id = _claimed_message(store, customer)
    now = 1_790_000_000
    assert await store.write(apply_receipts, [ReceiptUpdate("sim", "00FF", "DELIVRD", "000", now, now)]) == [
        "early"
    ]
    outcome = Outcome(message_id, "submitted", "sim", (AcceptedPart(1, "000000ff"),), 1)
    assert await store.write(record_outcomes, "me", [outcome], now + 1) == []
    assert (await store.read(delivery.message_state, message_id))[0] == "delivered"
    with store.connect() as conn:
        assert conn.fetchone("SELECT COUNT(*) FROM early_receipts") == (0,)
        assert pushes(conn, account_id(store, customer)) == [
            ("receipt", {"message_id": ticket_for(campaign), "number": "+33601020304", "status": "DELIVERED",
                         "delivery_date": paris_date(now)}),
        ]  # fmt: skip


async def test_an_early_receipt_in_the_other_base_is_matched_by_the_later_look(
    store: Store, customer: Customer
) -> None:
    store.run(set_urls, customer.login)
    _, message_id = _claimed_message(store, customer)
    now = 1_790_000_000
    assert await store.write(apply_receipts, [ReceiptUpdate("sim", "255", "UNDELIV", "001", now, now)]) == [
        "early"
    ]
    outcome = Outcome(message_id, "submitted", "sim", (AcceptedPart(1, "000000FF"),), 1)
    assert await store.write(record_outcomes, "me", [outcome], now + 1) == []
    assert (await store.read(delivery.message_state, message_id))[0] == "submitted"  # 255 may be hex: not yet
    assert await store.write(retry_early, now + 30, 60) == 0  # too recent
    assert await store.write(retry_early, now + 61, 60) == 1
    assert (await store.read(delivery.message_state, message_id))[4] == "NOT_DELIVERED"
    with store.connect() as conn:
        assert conn.fetchone("SELECT COUNT(*) FROM early_receipts") == (0,)


async def test_an_early_receipt_in_the_other_base_is_applied_at_once_under_a_declared_style(
    store: Store, customer: Customer
) -> None:
    """The same receipt as above, on a connector declaring hex-in-response: kept under its part's key, so the
    recording transaction applies it (no wait for the later look)."""
    store.run(set_urls, customer.login)
    _, message_id = _claimed_message(store, customer)
    now = 1_790_000_000
    early = ReceiptUpdate("sim", "255", "UNDELIV", "001", now, now, "hex-in-response")
    assert await store.write(apply_receipts, [early]) == ["early"]
    outcome = Outcome(message_id, "submitted", "sim", (AcceptedPart(1, "000000FF"),), 1)
    assert await store.write(record_outcomes, "me", [outcome], now + 1) == []
    assert (await store.read(delivery.message_state, message_id))[4] == "NOT_DELIVERED"
    with store.connect() as conn:
        assert conn.fetchone("SELECT COUNT(*) FROM early_receipts") == (0,)


async def test_the_later_look_reads_early_receipts_as_their_connector_declares(
    store: Store, customer: Customer
) -> None:
    """An early receipt 2748 (kept by another process) and a part 0xabc waiting: "same" (the receipt's id is
    2748's, a part not recorded yet) leaves the part alone; "auto" reads 2748 as hex too and takes it."""
    store.run(set_urls, customer.login)
    _, message_id = _submitted_message(store, customer, ("0000ABC",))
    now = 1_790_000_000
    store.run(sql.keep_early, "sim", receipt_key("2748", "same"), "DELIVRD", None, now, now)
    assert await store.write(retry_early, now + 61, 60, {"sim": "same"}) == 0
    assert (await store.read(delivery.message_state, message_id))[0] == "submitted"
    assert await store.write(retry_early, now + 61, 60) == 1
    assert (await store.read(delivery.message_state, message_id))[4] == "DELIVERED"


async def test_the_handler_keys_a_receipt_as_its_connector_declares(store: Store, customer: Customer) -> None:
    """Hex ids 0x42 and 0x2a both waiting; the SMSC writes receipts in decimal: "42" is 0x2a's."""
    store.run(set_urls, customer.login)
    _, hex_42 = _submitted_message(store, customer, ("00000042",))
    _, hex_2a = _submitted_message(store, customer, ("0000002A",))
    handler = IncomingHandler(store, clock=lambda: 1_790_000_000, message_ids={"sim": "hex-in-response"})
    assert await handler.receipt(receipt_event("id:42 stat:DELIVRD")) == "applied"
    assert (await store.read(delivery.message_state, hex_2a))[4] == "DELIVERED"
    assert (await store.read(delivery.message_state, hex_42))[0] == "submitted"


async def test_an_all_digit_id_naming_a_final_part_in_the_other_base_waits_for_its_own_part(
    store: Store, customer: Customer
) -> None:
    """Hex ids 00000040 (final) and 00000064 (not recorded yet): a receipt "64" is 0x64's, not 0x40's."""
    store.run(set_urls, customer.login)
    _, forty = _submitted_message(store, customer, ("00000040",))
    now = 1_790_000_000
    assert await store.write(
        apply_receipts, [ReceiptUpdate("sim", "00000040", "DELIVRD", None, now, now)]
    ) == ["applied"]
    assert await store.write(apply_receipts, [ReceiptUpdate("sim", "64", "UNDELIV", None, now, now)]) == [
        "early"
    ]
    _, hundred = _claimed_message(store, customer)
    outcome = Outcome(hundred, "submitted", "sim", (AcceptedPart(1, "00000064"),), 1)
    assert await store.write(record_outcomes, "me", [outcome], now + 1) == []
    assert (await store.read(delivery.message_state, forty))[4] == "DELIVERED"
    assert (await store.read(delivery.message_state, hundred))[4] == "NOT_DELIVERED"


# --- helpers: messages put in a known state through the dispatcher's own SQL --------------------------------


def _claimed_message(store: Store, customer: Customer) -> tuple[int, int]:
    from octogate.store import queries

    account = store.run(queries.account, customer.login)
    with store.connect() as conn, conn.transaction():
        campaign = conn.fetchone(
            "INSERT INTO campaigns (account_id, source, sms_type, sender, sender_is_msisdn, text, transactional, "
            "with_replies, recipients, sms, cost, send_at, created_at) "
            "VALUES (?, 'api', 'FR', 'MyShop', 0, 'Hi', 0, 0, 1, 1, 0, 0, 0) RETURNING id",
            (account.id,),
        )
        assert campaign is not None
        message = conn.fetchone(
            "INSERT INTO messages (campaign_id, account_id, recipient, country, calling_code, sms, cost, "
            "priority, send_at) VALUES (?, ?, '+33601020304', 'FR', 33, 1, 0, 1, 0) RETURNING id",
            (campaign[0], account.id),
        )
        assert message is not None
    claimed = store.run(delivery.claim, "me", 1, 10**10, {account.id: 1})
    assert [m.id for m in claimed] == [message[0]]
    return int(campaign[0]), int(message[0])


def _submitted_message(store: Store, customer: Customer, carrier_ids: tuple[str, ...]) -> tuple[int, int]:
    campaign, message_id = _claimed_message(store, customer)
    parts = tuple(AcceptedPart(seq, carrier) for seq, carrier in enumerate(carrier_ids, start=1))
    assert (
        store.run(record_outcomes, "me", [Outcome(message_id, "submitted", "sim", parts, len(parts))], 1)
        == []
    )
    return campaign, message_id


async def _recorded(receipts: list[object], count: int) -> bool:
    return len(receipts) >= count


async def _all_status(store: Store, campaign_id: int, status: str) -> bool:
    ids = await store.read(delivery.campaign_message_ids, campaign_id)
    states = [(await store.read(delivery.message_state, m))[0] for m, _ in ids]
    return all(state == status for state in states)
