"""The Asterisk Manager Interface: ``manager.conf``, the TCP protocol, its actions and the
node's events as manager events (reference ami.md).

- :mod:`~pbxedge.manager.config` reads manager.conf; :mod:`~pbxedge.manager.wire` frames
  messages; :mod:`~pbxedge.manager.permissions` and :mod:`~pbxedge.manager.filters` decide
  who sees what;
- :mod:`~pbxedge.manager.session` serves one connection; :mod:`~pbxedge.manager.service`
  listens and fans the node's events (:mod:`pbxedge.events`) out to the sessions;
- :mod:`~pbxedge.manager.actions`, :mod:`~pbxedge.manager.originate` and
  :mod:`~pbxedge.manager.iax_actions` answer the actions.
"""
