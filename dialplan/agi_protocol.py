"""The AGI wire format, as res_agi.c speaks it: the ``agi_*`` environment block and the
quoting rules of command lines.  Pure functions, no I/O."""

from __future__ import annotations

from dialplan.call import Call

__all__ = ["environment_block", "parse_agi_args"]

MAX_ARGS = 128


def parse_agi_args(line: str) -> list[str]:
    """Split a command line like res_agi's ``parse_args``.

    Whitespace separates words; double quotes group (and an opening quote after
    whitespace starts a word even if empty, so ``""`` is an empty argument); a backslash
    makes the next character literal.
    """
    words: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    in_word = False
    for char in line:
        if char == '"' and not escaped:
            quoted = not quoted
            if quoted and not in_word:
                in_word = True
            continue
        if char in " \t" and not quoted and not escaped:
            if in_word:
                words.append("".join(current))
                current = []
                in_word = False
            continue
        if char == "\\" and not escaped:
            escaped = True
            continue
        if not in_word:
            if len(words) >= MAX_ARGS - 1:
                break  # "Too many arguments, truncating"
            in_word = True
        current.append(char)
        escaped = False
    if in_word:
        words.append("".join(current))
    return words


def _channel_type(name: str) -> str:
    return name.split("/", 1)[0] if "/" in name else name


def environment_block(call: Call, request: str, args: list[str], version: str) -> str:
    """The ``agi_*`` lines in Asterisk's order, ending with the blank line."""
    channel = call.channel
    lines = [
        ("agi_request", request),
        ("agi_channel", channel.name),
        ("agi_language", channel.language or "en"),
        ("agi_type", _channel_type(channel.name)),
        ("agi_uniqueid", channel.uniqueid),
        ("agi_version", version),
        ("agi_callerid", channel.caller_num or "unknown"),
        ("agi_calleridname", channel.caller_name or "unknown"),
        ("agi_callingpres", "0"),
        ("agi_callingani2", "0"),
        ("agi_callington", "0"),
        ("agi_callingtns", "0"),
        ("agi_dnid", channel.dnid or "unknown"),
        ("agi_rdnis", channel.rdnis or "unknown"),
        ("agi_context", call.context),
        ("agi_extension", call.exten),
        ("agi_priority", str(call.priority)),
        ("agi_enhanced", "0.0"),
        ("agi_accountcode", channel.accountcode or ""),
        ("agi_threadid", str(id(call))),
    ]
    lines += [(f"agi_arg_{n}", value) for n, value in enumerate(args, start=1)]
    return "".join(f"{key}: {value}\n" for key, value in lines) + "\n"
