"""A real call button: a key of a Linux input device (evdev), e.g. a GPIO key in a lift box.

``button = /dev/input/by-path/platform-gpio-keys-event:KEY_PROG1`` in a phone's section
names the device and the key. A thread reads the device's events (PyPI ``evdev``); each
press of the key (value 1, not the repeats) calls the same ``press`` the console command
``console press`` calls, in trio. A device that is missing or unreadable is reported once
and looked for again every 30 s, quietly; the node runs without it meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

import trio

__all__ = ["KEY_PRESSED", "ButtonReader", "parse_button"]

logger = logging.getLogger("pbxedge.phones")

EV_KEY = 1  # linux/input-event-codes.h
KEY_PRESSED = 1  # value of a key event: 0 up, 1 down, 2 autorepeat
_RETRY_SECONDS = 30.0


def parse_button(spec: str) -> tuple[str, str]:
    """``/dev/input/…:KEY_NAME`` -> (device path, key name)."""
    path, _, key = spec.rpartition(":")
    return path, key


def _key_code(name: str) -> int | None:
    # evdev is loaded only by a node that has a button (it is Linux-only).
    try:
        from evdev import ecodes
    except ImportError:
        return None
    code = ecodes.ecodes.get(name)
    return int(code) if code is not None else None


class ButtonReader:
    def __init__(self, phone: str, spec: str, press: Callable[[], object]) -> None:
        self.phone = phone
        self.path, self.key = parse_button(spec)
        self._press = press
        self.code = _key_code(self.key)
        self.presses = 0
        self.problem: str | None = None

    def handle_event(self, ev_type: int, code: int, value: int) -> bool:
        """One input event (in trio); True when it pressed the button."""
        if ev_type != EV_KEY or code != self.code or value != KEY_PRESSED:
            return False
        self.presses += 1
        logger.info("Console/%s: button %s pressed", self.phone, self.key)
        self._press()
        return True

    async def run(self) -> None:
        while True:
            try:
                device = await trio.to_thread.run_sync(self._open)
            except (OSError, ImportError, KeyError) as exc:
                self._report(f"{exc}")
                await trio.sleep(_RETRY_SECONDS)
                continue
            self.problem = None
            logger.info("Console/%s: call button %s on %s", self.phone, self.key, self.path)
            try:
                await self._read(device)
            except OSError as exc:
                self._report(f"read failed: {exc}")
            finally:
                with contextlib.suppress(OSError):
                    device.close()
            await trio.sleep(_RETRY_SECONDS)

    def _report(self, problem: str) -> None:
        if self.problem is None:
            logger.warning("Console/%s: no call button (%s: %s); running without it",
                           self.phone, self.path, problem)
        self.problem = problem

    def _open(self) -> Any:
        import evdev

        if self.code is None:
            raise KeyError(f"no key called {self.key}")
        return evdev.InputDevice(self.path)

    async def _read(self, device: Any) -> None:
        """Events from a reader thread; the thread ends when the device goes away."""
        token = trio.lowlevel.current_trio_token()
        done = trio.Event()
        failure: list[OSError] = []

        def loop() -> None:
            try:
                for event in device.read_loop():
                    token.run_sync_soon(self.handle_event, event.type, event.code, event.value)
            except OSError as exc:
                failure.append(exc)
            finally:
                with contextlib.suppress(trio.RunFinishedError):
                    token.run_sync_soon(done.set)

        threading.Thread(target=loop, name=f"pbxedge-button-{self.phone}", daemon=True).start()
        await done.wait()
        if failure:
            raise failure[0]
