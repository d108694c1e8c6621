"""An ordinary pyst2 AGI script, run by the tests as process AGI (AGI(/path/script))."""

from asterisk.agi import AGI, AGIInvalidCommand, AGIUsageError

agi = AGI()
agi.answer()
agi.verbose(f"caller {agi.env['agi_callerid']} dialed {agi.env['agi_extension']}")
agi.set_variable("FROM_SCRIPT", agi.env.get("agi_arg_1", ""))
agi.set_variable("ECHOED", agi.get_variable("GREETING"))
agi.set_variable("FULL", agi.get_full_variable("${CALLERID(num)}-${EXTEN}"))
agi.database_put("office", "nightmode", "on")
agi.set_variable("DB", agi.database_get("office", "nightmode"))
agi.set_variable("STATUS", str(agi.channel_status()))
agi.appexec("Set", "VIA_EXEC=yes")
digit = agi.stream_file("demo-congrats", escape_digits="#")
agi.set_variable("LASTDIGIT", digit)
try:
    agi.execute("FROBNICATE NOW")
except AGIInvalidCommand:
    agi.set_variable("INVALID", "510")
try:
    agi.execute("SET VARIABLE", "lonely")
except AGIUsageError as error:
    agi.set_variable("USAGE", str(error).splitlines()[-1])
agi.set_variable("ENV_ORDER", ",".join(key for key in agi.env if not key.startswith("agi_arg")))
agi.goto_on_exit(extension="after", priority="1")
