"""The dialplan: extensions.conf, Asterisk-compatible matching, expressions, the engine
that runs calls, and the hooks (Python applications/functions, AGI).  See README.md.

Entry points for the rest of pbxedge:

* :func:`dialplan.loader.load_dialplan`, :func:`dialplan.loader.check`;
* :class:`dialplan.engine.Engine` and :func:`dialplan.engine.entry_extension`;
  ``Engine.location(channel_name)``/``Engine.locations()`` say where running calls are
  (:class:`dialplan.call.CallLocation`, for ``core show channels``);
* :meth:`dialplan.plan.Dialplan.dp_status`, ``add_extension``, ``remove_extension``;
* :mod:`dialplan.console` for ``dialplan show`` and friends;
* :mod:`dialplan.hooks` for admin-written applications and functions.

This package never imports the IAX2 code: calls reach it through
:class:`dialplan.channel.Channel` and :class:`dialplan.dialer.Dialer`.
"""
