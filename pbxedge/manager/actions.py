"""The manager's core actions, answered as Asterisk 22 answers them (reference ami.md §3-§4):
login and session control, Command, CoreStatus/CoreSettings/CoreShowChannels, Hangup,
Redirect, Getvar/Setvar, DBGet/DBPut/DBDel, Reload, ListCommands and UserEvent.

Every handler queues its whole reply at once (so no event lands inside it) and returns
False when the session must end.
"""

from __future__ import annotations

import grp
import hashlib
import hmac
import os
import pwd
import random
import re
import time

import trio

from pbxedge import __version__, log
from pbxedge.control.registry import CommandContext
from pbxedge.events import Category, FullyBooted, UserEvent, VarSet
from pbxedge.log import printable
from pbxedge.manager.channels import LiveChannel, channel_block
from pbxedge.manager.config import ManagerUser
from pbxedge.manager.permissions import ALL, bit, event_mask, privilege
from pbxedge.manager.render import render
from pbxedge.manager.session import Action, Session
from pbxedge.manager.wire import Message, encode, integer, list_complete, response
from pbxedge.store import StoreError

__all__ = ["AMI_VERSION", "ASTERISK_VERSION", "CORE_ACTIONS"]

AMI_VERSION = "11.0.0"
# Clients compare this with Asterisk releases: pbxedge speaks the AMI of Asterisk 22.
ASTERISK_VERSION = f"22.0.0-pbxedge-{__version__}"
# A failed login is answered after this long, then the connection closes (manager.c).
LOGIN_FAILURE_DELAY = 1.0
_COMMAND_BLACKLIST = (("module", "load"), ("module", "unload"), ("restart", "gracefully"))

_SYSTEM = bit(Category.SYSTEM)
_CALL = bit(Category.CALL)
_REPORTING = bit(Category.REPORTING)
_COMMAND = bit(Category.COMMAND)
_CONFIG = bit(Category.CONFIG)
_USER = bit(Category.USER)


def _ack(session: Session, m: Message, message: str | None = None,
         extra: list[tuple[str, str]] | None = None) -> bool:
    session.send(response(m, "Success", message, extra or ()))
    return True


def _error(session: Session, m: Message, message: str) -> bool:
    session.send(response(m, "Error", message))
    return True


# -- login and the session ------------------------------------------------------------------


def _allow_multiple(session: Session, user: ManagerUser) -> bool:
    chosen = user.allowmultiplelogin
    return session.state.config.allowmultiplelogin if chosen is None else chosen


async def _in_use(session: Session, m: Message) -> bool:
    """``allowmultiplelogin=no`` and the user is logged in elsewhere: refused, after the
    same delay as a failed login (True when refused)."""
    user = session.state.config.user(m.get("Username"))
    if user is None or _allow_multiple(session, user):
        return False
    if not any(other.user is user for other in session.state.sessions):
        return False
    await trio.sleep(LOGIN_FAILURE_DELAY)
    _error(session, m, "Login Already In Use")
    return True


def _authenticate(session: Session, m: Message) -> ManagerUser | str:
    """The user *m* logs in as, or the reason it may not (``authenticate``)."""
    username = m.get("Username")
    user = session.state.config.user(username) if username else None
    shown = printable(username)
    if user is None:
        return f"{session.remote} tried to authenticate with nonexistent user '{shown}'"
    if not user.acl.permits(session.remote):
        return f"{session.remote} failed to pass IP ACL as '{shown}'"
    if user.secret is not None:
        if m.get("AuthType").lower() == "md5":
            if session.challenge:
                expected = hashlib.md5((session.challenge + user.secret).encode()).hexdigest()
                if hmac.compare_digest(expected.encode(), m.get("Key").encode()):
                    return user
        elif hmac.compare_digest(user.secret.encode(), m.get("Secret").encode()):
            return user
    return f"{session.remote} failed to authenticate as '{shown}'"


async def _login(session: Session, m: Message) -> bool:
    if session.user is not None:
        return _ack(session, m, "Already authenticated")
    if await _in_use(session, m):
        return False
    found = _authenticate(session, m)
    if isinstance(found, str):
        log.notice(found)
        await trio.sleep(LOGIN_FAILURE_DELAY)
        _error(session, m, "Authentication failed")
        return False
    events = m.get("Events")
    mask = event_mask(events) if events else ALL
    session.logged_in(found, ALL if mask is None else mask)
    if session.displayconnects():
        log.verbose(2, f"Manager '{found.name}' logged on from {session.remote}")
    _ack(session, m, "Authentication accepted")
    state = session.state
    if state.booted and session.wants(_SYSTEM):
        now = time.time()
        booted = FullyBooted(int(now - state.started), int(now - state.reloaded))
        session.send(render(booted, state.channels).encode())
    return True


async def _challenge(session: Session, m: Message) -> bool:
    if m.get("AuthType").lower() != "md5":
        return _error(session, m, "Must specify AuthType")
    if session.user is None and await _in_use(session, m):
        return False
    if not session.challenge:
        # ast_random(): a non-negative long, kept for the rest of the session.
        session.challenge = str(random.SystemRandom().randrange(1 << 31))
    return _ack(session, m, extra=[("Challenge", session.challenge)])


async def _logoff(session: Session, m: Message) -> bool:
    session.send(response(m, "Goodbye", "Thanks for all the fish."))
    return False


async def _ping(session: Session, m: Message) -> bool:
    return _ack(session, m, extra=[("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")])


async def _events(session: Session, m: Message) -> bool:
    mask = event_mask(m.get("EventMask"))
    if mask is None:
        return _error(session, m, "Invalid event mask")
    session.set_events(mask)
    return _ack(session, m, extra=[("Events", "On" if mask else "Off")])


async def _list_commands(session: Session, m: Message) -> bool:
    allowed = sorted((a for a in session.state.actions.values()
                      if not a.privilege or session.write & a.privilege),
                     key=lambda a: a.name.lower())
    return _ack(session, m, extra=[(a.name, f"{a.synopsis}  (Priv: {privilege(a.privilege)})")
                                   for a in allowed])


# -- the node -------------------------------------------------------------------------------


async def _command(session: Session, m: Message) -> bool:
    line = m.get("Command").strip()
    if not line:
        return _error(session, m, "No command provided")
    words = tuple(word.lower() for word in line.split())
    if any(words[:len(banned)] == banned for banned in _COMMAND_BLACKLIST):
        return _error(session, m, "Command blacklisted")
    context = session.state.context
    known = context.commands.find(line) is not None
    output = await context.commands.execute(
        CommandContext(context.commands, context.request_stop), line)
    lines = output.split("\n")
    if lines and not lines[-1]:
        lines.pop()
    session.send(response(m, "Success" if known else "Error", "Command output follows",
                          [("Output", text.rstrip("\r")) for text in lines]))
    return True


def _date_time(when: float) -> tuple[str, str]:
    local = time.localtime(when)
    return time.strftime("%Y-%m-%d", local), time.strftime("%H:%M:%S", local)


async def _core_status(session: Session, m: Message) -> bool:
    state = session.state
    start_date, start_time = _date_time(state.started)
    reload_date, reload_time = _date_time(state.reloaded)
    return _ack(session, m, extra=[
        ("CoreStartupDate", start_date), ("CoreStartupTime", start_time),
        ("CoreReloadDate", reload_date), ("CoreReloadTime", reload_time),
        ("CoreCurrentCalls", str(len(state.channels))),
        ("CoreProcessedCalls", str(state.channels.processed)),
    ])


def _run_as() -> tuple[str, str]:
    try:
        user = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        user = str(os.getuid())
    try:
        group = grp.getgrgid(os.getgid()).gr_name
    except KeyError:
        group = str(os.getgid())
    return user, group


async def _core_settings(session: Session, m: Message) -> bool:
    user, group = _run_as()
    context = session.state.context
    return _ack(session, m, extra=[
        ("AMIversion", AMI_VERSION), ("AsteriskVersion", ASTERISK_VERSION),
        ("SystemName", ""), ("CoreMaxCalls", "0"), ("CoreMaxLoadAvg", "0.000000"),
        ("CoreRunUser", user), ("CoreRunGroup", group), ("CoreMaxFilehandles", "0"),
        ("CoreRealTimeEnabled", "Yes" if context.realtime_enabled else "No"),
        ("CoreCDRenabled", "Yes" if context.cdr_enabled() else "No"),
        ("CoreHTTPenabled", "No"),
    ])


def _duration(live: LiveChannel) -> str:
    seconds = int(time.monotonic() - live.created)
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


async def _core_show_channels(session: Session, m: Message) -> bool:
    state = session.state
    lives = state.channels.all()
    out = [response(m, message="Channels will follow", list_start=True)]
    for live in lives:
        out.append(encode([
            ("Event", "CoreShowChannel"), *m.id_lines,
            *channel_block("", live.channel, live, state.config.channelvars),
            ("Application", live.app), ("ApplicationData", live.data),
            ("Duration", _duration(live)), ("BridgeId", ""),
        ]))
    out.append(list_complete(m, "CoreShowChannelsComplete", len(lives)))
    session.send(b"".join(out))
    return True


# -- channels -------------------------------------------------------------------------------


async def _hangup(session: Session, m: Message) -> bool:
    name = m.get("Channel")
    if not name:
        return _error(session, m, "No channel specified")
    cause = 0
    text = m.get("Cause")
    if text:
        cause = integer(text) or 0
        if not 0 < cause <= 127:
            # Hung up all the same, with the channel's own cause (as Asterisk).
            cause = 0
            log.notice(f"Invalid 'Cause: {printable(text)}' in manager action Hangup")
    state = session.state
    if not name.startswith("/"):
        live = state.channels.named(name)
        if live is None:
            log.notice(f"Request to hangup non-existent channel: {printable(name)}")
            return _error(session, m, "No such channel")
        await _hang_up(session, live, cause)
        return _ack(session, m, "Channel Hungup")
    if len(name) < 2 or not name.endswith("/"):
        return _error(session, m, "Regex format invalid, Channel param should be /regex/")
    try:
        pattern = re.compile(name[1:-1])
    except re.error:
        return _error(session, m, f"Regex compile failed on: {name}")
    out = [response(m, message="Channels hung up will follow", list_start=True)]
    matched = [live for live in state.channels.all() if pattern.search(live.channel.name)]
    for live in matched:
        await _hang_up(session, live, cause)
        out.append(encode([("Event", "ChannelHungup"), ("Channel", live.channel.name),
                           *m.id_lines]))
    out.append(encode([("Event", "ChannelsHungupListComplete"), ("EventList", "Complete"),
                       ("ListItems", str(len(matched))), *m.id_lines]))
    session.send(b"".join(out))
    return True


async def _hang_up(session: Session, live: LiveChannel, cause: int) -> None:
    log.verbose(3, f"Manager '{session.name}' from {session.remote}, hanging up channel: "
                   f"{live.channel.name}")
    await live.channel.hangup(cause or live.channel.hangup_cause or 16)


def _priority(session: Session, context: str, exten: str, text: str) -> int:
    """A priority number or label (``ast_findlabel_extension``); 0 when neither."""
    number = integer(text)
    if number is not None:
        return number
    return session.state.context.engine.plan.find_label(context, exten, text.strip()) or 0


async def _redirect(session: Session, m: Message) -> bool:
    name, context, exten, priority = (m.get("Channel"), m.get("Context"), m.get("Exten"),
                                      m.get("Priority"))
    for value, label in ((name, "Channel"), (context, "Context"), (exten, "Exten"),
                         (priority, "Priority")):
        if not value:
            return _error(session, m, f"{label} not specified")
    number = _priority(session, context, exten, priority)
    if number < 1:
        return _error(session, m, "Priority is invalid")
    extra_name = m.get("ExtraChannel")
    extra: tuple[str, str, int] | None = None
    if extra_name:
        extra_context = m.get("ExtraContext") or context
        extra_exten = m.get("ExtraExten") or exten
        extra_priority = _priority(session, extra_context, extra_exten,
                                   m.get("ExtraPriority") or priority)
        if extra_priority < 1:
            return _error(session, m, "ExtraPriority is invalid")
        extra = (extra_context, extra_exten, extra_priority)
    channels = session.state.channels
    engine = session.state.context.engine
    live = channels.named(name)
    if live is None:
        return _error(session, m, f"Channel does not exist: {name}")
    if live.channel.is_hungup:
        return _error(session, m, "Redirect failed, channel not up.")
    if extra_name and channels.named(extra_name) is None:
        return _error(session, m, f"ExtraChannel does not exist: {extra_name}")
    if not engine.redirect(name, context, exten, number):
        return _error(session, m, "Redirect failed")
    if extra is None:
        return _ack(session, m, "Redirect successful")
    if not engine.redirect(extra_name, *extra):
        return _error(session, m, "Secondary redirect failed")
    return _ack(session, m, "Dual Redirect successful")


def _function_call(name: str) -> tuple[str, str] | None:
    if not name.endswith(")") or "(" not in name:
        return None
    function, _, rest = name.partition("(")
    return function, rest[:-1]


async def _getvar(session: Session, m: Message) -> bool:
    variable = m.get("Variable")
    if not variable:
        return _error(session, m, "No variable specified")
    state = session.state
    engine = state.context.engine
    name = m.get("Channel")
    value: str | None
    if name:
        live = state.channels.named(name)
        if live is None:
            return _error(session, m, "No such channel")
        call = engine.call_for(live.channel)
        function = _function_call(variable)
        value = (call.read_function(*function) if function is not None
                 else call.lookup_variable(variable))
    else:
        # No channel: a global variable (functions need a channel here).
        value = engine.plan.globals.get(variable)
    return _ack(session, m, extra=[("Variable", variable), ("Value", value or "")])


async def _setvar(session: Session, m: Message) -> bool:
    variable = m.get("Variable")
    if not variable:
        return _error(session, m, "No variable specified")
    value = m.get("Value")
    state = session.state
    engine = state.context.engine
    name = m.get("Channel")
    if name:
        live = state.channels.named(name)
        if live is None:
            return _error(session, m, "No such channel")
        engine.call_for(live.channel).set_variable(variable, value)
    else:
        if value:
            engine.plan.globals[variable] = value
        else:
            engine.plan.globals.pop(variable, None)
        state.bus.publish(VarSet(None, variable, value))
    return _ack(session, m, "Variable Set")


# -- astdb, reload, user events ---------------------------------------------------------------


def _family_key(session: Session, m: Message, dot: str) -> tuple[str, str] | None:
    family, key = m.get("Family"), m.get("Key")
    if not family:
        _error(session, m, f"No family specified{dot}")
        return None
    if not key:
        _error(session, m, f"No key specified{dot}")
        return None
    return family, key


async def _db_get(session: Session, m: Message) -> bool:
    found = _family_key(session, m, ".")
    if found is None:
        return True
    store = session.state.context.store
    value = store.db_get(*found) if store is not None else None
    if value is None:
        return _error(session, m, "Database entry not found")
    session.send(response(m, message="Result will follow", list_start=True)
                 + encode([("Event", "DBGetResponse"), ("Family", found[0]), ("Key", found[1]),
                           ("Val", value), *m.id_lines])
                 + list_complete(m, "DBGetComplete", 1))
    return True


async def _db_put(session: Session, m: Message) -> bool:
    found = _family_key(session, m, "")
    if found is None:
        return True
    store = session.state.context.store
    try:
        if store is None:
            raise StoreError("no state database")
        store.db_put(*found, m.get("Val"))
    except StoreError as exc:
        log.warning(f"DBPut {printable(found[0])}/{printable(found[1])}: {exc}")
        return _error(session, m, "Failed to update entry")
    return _ack(session, m, "Updated database successfully")


async def _db_del(session: Session, m: Message) -> bool:
    found = _family_key(session, m, ".")
    if found is None:
        return True
    store = session.state.context.store
    try:
        deleted = store is not None and store.db_del(*found)
    except StoreError as exc:
        log.warning(f"DBDel {printable(found[0])}/{printable(found[1])}: {exc}")
        deleted = False
    if not deleted:
        return _error(session, m, "Database entry could not be deleted")
    return _ack(session, m, "Key deleted successfully")


async def _reload(session: Session, m: Message) -> bool:
    failure = await session.state.context.reload(m.get("Module") or None)
    if failure is not None:
        return _error(session, m, failure)
    return _ack(session, m, "Module Reloaded")


async def _user_event(session: Session, m: Message) -> bool:
    """Every header but ``UserEvent`` becomes the event's body, ``Action`` and ``ActionID``
    included (as Asterisk's action_userevent copies them)."""
    headers = tuple((key, value) for key, value in m.lines
                    if key.lower() != "userevent" and key)
    _ack(session, m, "Event Sent")
    session.state.bus.publish(UserEvent(m.get("UserEvent"), headers))
    return True


CORE_ACTIONS = (
    Action("Login", _login, "Login Manager."),
    Action("Logoff", _logoff, "Logoff Manager."),
    Action("Challenge", _challenge, "Generate Challenge for MD5 Auth."),
    Action("Ping", _ping, "Keepalive command."),
    Action("Events", _events, "Control Event Flow."),
    Action("ListCommands", _list_commands, "List available manager commands."),
    Action("Command", _command, "Execute Asterisk CLI Command.", _COMMAND),
    Action("CoreStatus", _core_status, "Show PBX core status variables.", _SYSTEM | _REPORTING),
    Action("CoreSettings", _core_settings, "Show PBX core settings (version etc).",
           _SYSTEM | _REPORTING),
    Action("CoreShowChannels", _core_show_channels, "List currently active channels.",
           _SYSTEM | _REPORTING),
    Action("Hangup", _hangup, "Hangup channel.", _SYSTEM | _CALL),
    Action("Redirect", _redirect, "Redirect (transfer) a call.", _CALL),
    Action("Getvar", _getvar, "Gets a channel variable or function value.", _CALL | _REPORTING),
    Action("Setvar", _setvar, "Sets a channel variable or function value.", _CALL),
    Action("DBGet", _db_get, "Get DB Entry.", _SYSTEM | _REPORTING),
    Action("DBPut", _db_put, "Put DB entry.", _SYSTEM),
    Action("DBDel", _db_del, "Delete DB entry.", _SYSTEM),
    Action("Reload", _reload, "Send a reload event.", _SYSTEM | _CONFIG),
    Action("UserEvent", _user_event, "Send an arbitrary event.", _USER),
)
