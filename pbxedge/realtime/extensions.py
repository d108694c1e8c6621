"""The ``extensions`` table behind ``switch => Realtime/...`` (pbx_realtime's queries).

The dialplan asks through :class:`dialplan.switches.ExtensionTable`; the family a switch
names (``extensions`` by default) is bound to a table in extconfig.conf. Values come back
with Asterisk's ``^XX`` escapes decoded; a ``;`` in ``appdata`` is kept as it is, where
pbx_realtime would run only the text after the last one (realtime.md §0 trap 6).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dialplan.switches import SwitchRow
from pbxedge.realtime.database import Database, Row
from pbxedge.realtime.friends import unescape

__all__ = ["RealtimeExtensions"]


class UnboundFamily(LookupError):
    """A switch names a family extconfig.conf does not bind."""


class RealtimeExtensions:
    def __init__(self, db: Database, tables: Mapping[str, str]) -> None:
        self._db = db
        self._tables = dict(tables)

    def _table(self, family: str) -> str:
        table = self._tables.get(family)
        if table is None:
            raise UnboundFamily(f"family '{family}' is not bound in extconfig.conf")
        return table

    async def exten_rows(self, family: str, context: str, exten: str) -> Sequence[SwitchRow]:
        rows = await self._db.fetch(
            f'SELECT exten, priority, app, appdata FROM "{self._table(family)}" '
            "WHERE context = %s AND exten = %s ORDER BY priority", (context, exten))
        return _rows(rows)

    async def pattern_rows(self, family: str, context: str) -> Sequence[SwitchRow]:
        rows = await self._db.fetch(
            f'SELECT exten, priority, app, appdata FROM "{self._table(family)}" '
            "WHERE context = %s AND exten LIKE '\\_%%' ESCAPE '\\' ORDER BY exten, priority",
            (context,))
        return _rows(rows)

    async def has_prefixed(self, family: str, context: str, prefix: str, longer: bool) -> bool:
        like = _like_escape(prefix) + ("_%" if longer else "%")
        rows = await self._db.fetch(
            f'SELECT 1 AS found FROM "{self._table(family)}" WHERE context = %s '
            "AND exten LIKE %s ESCAPE '\\' AND exten NOT LIKE '\\_%%' ESCAPE '\\' LIMIT 1",
            (context, like))
        return bool(rows)


def _rows(rows: list[Row]) -> list[SwitchRow]:
    return [SwitchRow(unescape(str(r["exten"])), int(r["priority"]), unescape(str(r["app"])),
                      unescape(str(r["appdata"] or ""))) for r in rows]


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
