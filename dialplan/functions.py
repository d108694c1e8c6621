"""Built-in dialplan functions (``${LEN(...)}``, ``${IF(...)}``, ``Set(GLOBAL(x)=...)``...).

Each follows the Asterisk function of the same name, including its argument splitting:
most use ``AST_STANDARD_APP_ARGS`` (quotes removed), ``FILTER`` and ``REGEX`` take their
text raw.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import re
import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dialplan.args import separate_args
from dialplan.call import Call, format_callerid
from dialplan.registry import DialplanFunction, Registry

__all__ = ["check_condition", "register_builtin_functions"]

log = logging.getLogger("dialplan")

RAND_MAX = 2147483647
_LEADING_INT = re.compile(r"\s*([+-]?\d+)")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


def check_condition(condition: str) -> bool:
    """``pbx_checkcondition``: empty is false, a leading integer is its value, text is true."""
    if not condition:
        return False
    found = _LEADING_INT.match(condition)
    if found:
        return int(found.group(1)) != 0
    return True


def _len(call: Call, args: str) -> str:
    return str(len(args))


def _if(call: Call, args: str) -> str:
    condition, question, rest = args.partition("?")
    parts = separate_args(rest, ":", max_args=2) if question else []
    if not condition.strip() or not parts:
        log.warning("Syntax IF(<expr>?[<true>][:<false>])  (expr must be non-null, and either "
                    "<true> or <false> must be non-null)")
        return ""
    when_true = parts[0].strip()
    when_false = parts[1].strip() if len(parts) > 1 else ""
    return when_true if check_condition(condition.strip()) else when_false


def _isnull(call: Call, args: str) -> str:
    return "0" if args else "1"


def _exists(call: Call, args: str) -> str:
    return "1" if args else "0"


def _dialplan_exists(call: Call, args: str) -> str:
    parts = [*separate_args(args), "", "", ""]
    context, exten, priority = parts[0], parts[1], parts[2]
    callerid = call.channel.caller_num
    if priority:
        number = _LEADING_INT.match(priority)
        if number and int(number.group(1)) > 0:
            return "1" if call.plan.exists(context, exten, int(number.group(1)), callerid) else "0"
        return "1" if call.plan.find_label(context, exten, priority, callerid) else "0"
    if exten:
        return "1" if call.plan.exists(context, exten, 1, callerid) else "0"
    if context:
        return "1" if call.plan.context(context) is not None else "0"
    log.error("Invalid arguments provided to DIALPLAN_EXISTS")
    return ""


def _decode_char(text: str) -> tuple[str, int]:
    """``ast_get_encoded_char``: one character, honouring backslash escapes."""
    if text[0] != "\\" or len(text) == 1:
        return text[0], 1
    escaped = text[1]
    if escaped == "x":
        digits = re.match(r"[0-9a-fA-F]{1,2}", text[2:])
        if digits:
            return chr(int(digits.group(0), 16)), 2 + len(digits.group(0))
    if escaped in "01234567":
        digits = re.match(r"[0-7]{1,3}", text[1:])
        assert digits is not None
        return chr(int(digits.group(0), 8) & 0xFF), 1 + len(digits.group(0))
    return _ESCAPES.get(escaped, escaped), 2


def _cut(call: Call, args: str) -> str:
    parts = separate_args(args)
    if len(parts) < 3:
        log.error("Syntax: CUT(<varname>,<char-delim>,<range-spec>) - missing argument!")
        return ""
    value = call.lookup_variable(parts[0]) or ""
    delimiter = _decode_char(parts[1])[0] if parts[1] else "-"
    fields = value.split(delimiter)
    chosen: list[str] = []
    next_field = 1
    for spec in parts[2].split("&"):
        spec = spec.strip()
        both = re.fullmatch(r"(\d+)-(\d+)", spec)
        upto = re.fullmatch(r"-(\d+)", spec)
        since = re.fullmatch(r"(\d+)-", spec)
        single = re.match(r"(\d+)", spec)
        if both:
            first, last = int(both.group(1)), int(both.group(2))
        elif upto:
            first, last = 0, int(upto.group(1))
        elif since:
            first, last = int(since.group(1)), len(fields)
        elif single:
            first = last = int(single.group(1))
        else:
            log.error("CUT: invalid field specification '%s'", spec)
            return ""
        # Fields come out in order only: Asterisk never goes back to an earlier field.
        next_field = max(next_field, first)
        while next_field <= min(last, len(fields)):
            chosen.append(fields[next_field - 1])
            next_field += 1
    return delimiter.join(chosen)


def _regex(call: Call, args: str) -> str:
    pieces = args.split('"', 2)
    if len(pieces) != 3:
        log.error("Unexpected arguments: should have been in the form '\"<regex>\" <string>'")
        return ""
    pattern, subject = pieces[1], pieces[2]
    if subject[:1] in (" ", "\t"):
        subject = subject[1:]
    try:
        return "1" if re.search(pattern, subject) else "0"
    except re.error as exc:
        log.error("Malformed input REGEX(%s): %s", args, exc)
        return ""


def _strftime(call: Call, args: str) -> str:
    parts = [*separate_args(args), "", "", ""]
    epoch_text, zone_name, fmt = parts[0].strip(), parts[1].strip(), parts[2] or "%c"
    try:
        epoch = float(epoch_text) if epoch_text else time.time()
    except ValueError:
        epoch = time.time()
    zone: dt.tzinfo | None = None
    if zone_name:
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            log.warning("STRFTIME: unknown time zone '%s', using local time", zone_name)
    try:
        moment = dt.datetime.fromtimestamp(epoch, zone) if zone else dt.datetime.fromtimestamp(epoch)
    except (OverflowError, ValueError, OSError) as exc:
        log.warning("STRFTIME: cannot use '%s' as a time: %s", epoch_text, exc)
        return ""
    return moment.strftime(fmt)


def _rand(call: Call, args: str) -> str:
    parts = [*separate_args(args), "", ""]
    low_match, high_match = _LEADING_INT.match(parts[0]), _LEADING_INT.match(parts[1])
    low = int(low_match.group(1)) if low_match else 0
    high = int(high_match.group(1)) if high_match else RAND_MAX
    low, high = min(low, high), max(low, high)
    return str(random.randint(low, high))


def _filter(call: Call, args: str) -> str:
    parts = separate_args(args, remove_chars=False, max_args=2)
    if len(parts) != 2:
        log.error("Usage: FILTER(<allowed-chars>,<string>)")
        return ""
    allowed_text, subject = parts
    allowed: set[str] = set()
    index = 0
    while index < len(allowed_text):
        first, used = _decode_char(allowed_text[index:])
        index += used
        if index < len(allowed_text) - 1 and allowed_text[index] == "-":
            last, used = _decode_char(allowed_text[index + 1 :])
            index += used + 1
            code = ord(first)
            # Ranges wrap like Asterisk's unsigned char loop.
            while code != ord(last):
                allowed.add(chr(code))
                code = (code + 1) % 256
            allowed.add(last)
        else:
            allowed.add(first)
    return "".join(c for c in subject if c in allowed)


def _global_read(call: Call, args: str) -> str:
    return call.plan.globals.get(args.strip(), "")


def _global_write(call: Call, args: str, value: str) -> None:
    if value:
        call.plan.globals[args.strip()] = value
    else:
        call.plan.globals.pop(args.strip(), None)


def _callerid_read(call: Call, args: str) -> str:
    channel = call.channel
    item = separate_args(args)[0].strip().lower() if args else "all"
    values = {
        "all": format_callerid(channel.caller_name, channel.caller_num),
        "num": channel.caller_num or "",
        "number": channel.caller_num or "",
        "name": channel.caller_name or "",
        "ani": channel.caller_ani or "",
        "dnid": channel.dnid or "",
        "rdnis": channel.rdnis or "",
    }
    if item not in values:
        log.error("Unknown callerid data type '%s'.", item)
        return ""
    return values[item]


def _callerid_write(call: Call, args: str, value: str) -> None:
    channel = call.channel
    item = separate_args(args)[0].strip().lower() if args else "all"
    if item in ("num", "number"):
        channel.caller_num = value
    elif item == "name":
        channel.caller_name = value
    elif item == "ani":
        channel.caller_ani = value
    elif item == "all":
        found = re.fullmatch(r'\s*"?([^"<]*?)"?\s*<([^>]*)>\s*', value)
        if found:
            channel.caller_name, channel.caller_num = found.group(1) or None, found.group(2)
        else:
            channel.caller_num = value
    else:
        log.error("Unknown callerid data type '%s'.", item)


def _env(call: Call, args: str) -> str:
    return os.environ.get(args, "")


def _local_read(call: Call, args: str) -> str:
    return call.lookup_variable(args.strip()) or ""


def _local_write(call: Call, args: str, value: str) -> None:
    """``LOCAL(x)=v``: the old value comes back when the current Gosub returns."""
    name = args.strip()
    if call.gosub_stack:
        frame = call.gosub_stack[-1]
        frame.saved.setdefault(name, call.channel.variables.get(name))
    call.set_variable(name, value)


_BUILTINS = (
    # name, read, write, syntax, synopsis
    ("LEN", _len, None, "LEN(string)", "Return the length of the string given."),
    ("IF", _if, None, "IF(expression?[true][:false])", "Check for an expression."),
    ("ISNULL", _isnull, None, "ISNULL(data)", "Check if a value is NULL."),
    ("EXISTS", _exists, None, "EXISTS(data)", "Test the existence of a value."),
    ("DIALPLAN_EXISTS", _dialplan_exists, None, "DIALPLAN_EXISTS(context[,extension[,priority]])",
     "Checks the existence of a dialplan target."),
    ("CUT", _cut, None, "CUT(varname,char-delim,range-spec)",
     "Slices and dices strings, based upon a named delimiter."),
    ("REGEX", _regex, None, 'REGEX("regular expression" string)',
     "Check string against a regular expression."),
    ("STRFTIME", _strftime, None, "STRFTIME([epoch][,timezone[,format]])",
     "Returns the current date/time in the specified format."),
    ("RAND", _rand, None, "RAND([min][,max])", "Choose a random number in a range."),
    ("FILTER", _filter, None, "FILTER(allowed-chars,string)",
     "Filter the string to include only the allowed characters"),
    ("GLOBAL", _global_read, _global_write, "GLOBAL(varname)", "Gets or sets the global variable specified."),
    ("CALLERID", _callerid_read, _callerid_write, "CALLERID(datatype[,CID])",
     "Gets or sets Caller*ID data on the channel."),
    ("ENV", _env, None, "ENV(varname)", "Gets an environment variable."),
    ("LOCAL", _local_read, _local_write, "LOCAL(varname)",
     "Manage variables local to the gosub stack frame."),
)


def register_builtin_functions(registry: Registry[Call]) -> None:
    for name, read, write, syntax, synopsis in _BUILTINS:
        registry.add_function(DialplanFunction(name, read, write, synopsis, syntax))
