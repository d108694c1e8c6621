"""The registry every engine starts with: all built-in applications and functions."""

from __future__ import annotations

from dialplan.agi import register_agi_app
from dialplan.apps_basic import register_basic_apps
from dialplan.apps_flow import register_flow_apps
from dialplan.apps_media import register_media_apps
from dialplan.apps_transfer import register_transfer_app
from dialplan.call import Call
from dialplan.func_channel import register_channel_functions
from dialplan.func_math import register_math_function
from dialplan.functions import register_builtin_functions
from dialplan.registry import Registry

__all__ = ["default_registry"]


def default_registry() -> Registry[Call]:
    registry = Registry[Call]()
    register_basic_apps(registry)
    register_flow_apps(registry)
    register_media_apps(registry)
    register_transfer_app(registry)
    register_agi_app(registry)
    register_builtin_functions(registry)
    register_channel_functions(registry)
    register_math_function(registry)
    return registry
