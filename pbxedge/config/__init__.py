"""Asterisk ``.conf`` reading (:mod:`.loader`) and the typed ``iax.conf`` (:mod:`.iax`).

Nothing is re-exported here on purpose: the dialplan package imports only
:mod:`pbxedge.config.loader`, and must not pull in the IAX2 models (and through them
``pbxedge.iax2``) as a side effect.
"""
