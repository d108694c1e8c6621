"""An admin's dialplan extension module (named in [general] pythonmodules)."""

from dialplan.call import Call
from dialplan.hooks import dialplan_app, dialplan_function
from dialplan.registry import AppResult


@dialplan_app("Greet", "Store a greeting for the caller")
async def greet(call: Call, data: str) -> AppResult | None:
    call.set_variable("GREETING", f"Hello {data or call.channel.caller_num}")
    return None


@dialplan_function("REVERSE", "Reverse a string", "REVERSE(string)")
def reverse(call: Call, args: str) -> str:
    return args[::-1]
