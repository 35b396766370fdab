"""`octogate sandbox list|reply|stop|outcome|clear`: play the phones of the built-in simulator from a shell or a
CI script, through the running gateway's simulator control interface ([simulator] control, or
OCTOGATE_SIMULATOR_CONTROL, or --control)."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from octogate.cli.common import CommandError
from octogate.config import ConfigError, Settings
from octogate.sandbox.client import SandboxClient
from octogate.sandbox.model import (
    Conversation,
    Direction,
    Listing,
    Outcome,
    Outcomes,
    PhoneMessage,
    SandboxError,
    parse_outcome,
)

T = TypeVar("T")


def add_sandbox_commands(commands: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--control", metavar="HOST:PORT",
                        help="the simulator's control interface (default: [simulator] control, or "
                             "OCTOGATE_SIMULATOR_CONTROL; 127.0.0.1:2776)")  # fmt: skip
    common.add_argument("--json", action="store_true", help="print the control interface's JSON")
    sandbox = commands.add_parser(
        "sandbox", help="the built-in simulator's phones: list what they received, reply, STOP, receipt outcomes"
    )
    actions = sandbox.add_subparsers(dest="sandbox_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", parents=[common], help="conversations, or one number's messages")
    listing.add_argument("number", nargs="?", help="show this phone's messages (with parts and receipts)")
    listing.add_argument("--limit", type=int, default=100, help="latest messages shown (default 100)")
    listing.set_defaults(handler=cmd_list)
    reply = actions.add_parser("reply", parents=[common], help="the phone NUMBER texts back")
    reply.add_argument("number")
    reply.add_argument("text")
    reply.add_argument("--to", help="the address it texts (default: the sender of its last message)")
    reply.set_defaults(handler=cmd_reply)
    stop = actions.add_parser("stop", parents=[common], help="the phone NUMBER sends STOP")
    stop.add_argument("number")
    stop.add_argument("--text", default="STOP", help="the STOP text (default STOP)")
    stop.set_defaults(handler=cmd_stop)
    outcome = actions.add_parser(
        "outcome", parents=[common],
        help="receipts of the next messages: delivered, undelivered, rejected, none, or auto (the configured "
             "mix); for every number or for NUMBER; no argument shows the choice",
    )  # fmt: skip
    outcome.add_argument("outcome", nargs="?", metavar="delivered|undelivered|rejected|none|auto")
    outcome.add_argument("number", nargs="?")
    outcome.set_defaults(handler=cmd_outcome)
    clear = actions.add_parser("clear", parents=[common], help="forget every conversation and chosen outcome")
    clear.set_defaults(handler=cmd_clear)


def _run(args: argparse.Namespace, settings: Settings, call: Callable[[SandboxClient], Awaitable[T]]) -> T:
    async def go() -> T:
        async with SandboxClient.from_settings(settings, args.control) as client:
            return await call(client)

    try:
        return asyncio.run(go())
    except (SandboxError, ConfigError) as error:
        raise CommandError(str(error)) from None


def _show(args: argparse.Namespace, record: Any, text: str) -> None:
    print(json.dumps(record.to_json(), ensure_ascii=False, indent=2) if args.json else text)


def when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S") + "Z"


def format_listing(listing: Listing) -> str:
    if not listing.conversations:
        return "no phone has received or sent anything yet"
    lines = []
    for c in listing.conversations:
        arrow = "<-" if c.last_direction == Direction.MT else "->"
        own = f"  [outcome {c.outcome}]" if c.outcome else ""
        lines.append(f"{c.number:<16} {c.messages:>4} messages  {when(c.last_at)}  {arrow} {c.last_text!r}{own}")
    return "\n".join(lines)


def format_message(m: PhoneMessage) -> str:
    if m.direction == Direction.MT:
        receipt = m.receipt
        told = "no receipt" if receipt is None or receipt.stat is None else (
            f"receipt {receipt.stat} ({receipt.state}{', ' + when(receipt.at) if receipt.at else ''})")
        head = (f"#{m.id} {when(m.at)}  {m.sender} -> {m.recipient}  {m.encoding}, {m.sms_count} SMS  {told}")
    else:
        head = f"#{m.id} {when(m.at)}  {m.sender} -> {m.recipient}  sent by the phone: {m.state}"
    return f"{head}\n    {m.text}"


def format_conversation(conversation: Conversation) -> str:
    outcome = conversation.outcome or "auto (the configured mix)"
    head = f"{conversation.number}: next receipts {outcome}"
    if not conversation.messages:
        return f"{head}\nnothing sent to or from this number yet"
    return "\n".join([head, *(format_message(m) for m in conversation.messages)])


def format_outcomes(outcomes: Outcomes) -> str:
    lines = [f"every number: {outcomes.default or 'auto (the configured mix)'}"]
    lines += [f"{number}: {outcome}" for number, outcome in sorted(outcomes.numbers.items())]
    return "\n".join(lines)


def cmd_list(args: argparse.Namespace, settings: Settings) -> None:
    if not 1 <= args.limit <= 500:
        raise CommandError("--limit is between 1 and 500")
    if args.number:
        conversation = _run(args, settings, lambda c: c.conversation(args.number, limit=args.limit))
        _show(args, conversation, format_conversation(conversation))
    else:
        listing = _run(args, settings, lambda c: c.conversations())
        _show(args, listing, format_listing(listing))


def cmd_reply(args: argparse.Namespace, settings: Settings) -> None:
    sent = _run(args, settings, lambda c: c.reply(args.number, args.text, to=args.to))
    _show(args, sent, f"{sent.sender} -> {sent.recipient}: {sent.text!r} ({sent.state})")


def cmd_stop(args: argparse.Namespace, settings: Settings) -> None:
    sent = _run(args, settings, lambda c: c.stop(args.number, args.text))
    _show(args, sent, f"{sent.sender} -> {sent.recipient}: {sent.text!r} ({sent.state})")


def cmd_outcome(args: argparse.Namespace, settings: Settings) -> None:
    if args.outcome is None:
        outcomes = _run(args, settings, lambda c: c.outcomes())
    else:
        try:
            chosen: Outcome | None = parse_outcome(args.outcome)
        except SandboxError as error:
            raise CommandError(str(error)) from None
        outcomes = _run(args, settings, lambda c: c.set_outcome(chosen, args.number))
    _show(args, outcomes, format_outcomes(outcomes))


def cmd_clear(args: argparse.Namespace, settings: Settings) -> None:
    _run(args, settings, lambda c: c.clear())
    if not args.json:
        print("sandbox cleared")
