"""A lift or hotline alarm box on a local phone (EN 81-28 practice).

One press of the button starts an alarm (:mod:`~pbxedge.phonebox.alarm`): the box calls its
targets in turn until a person acknowledges it with a DTMF digit, tells the desk where it
is, reassures the passenger, and keeps the pending alarm in the node's store so a restart
resumes it. Every few days it tests itself (:mod:`~pbxedge.phonebox.selftest`): a tone from
its loudspeaker must reach its microphone, and the result is reported to a receiver.
Everything it does is logged and published on the node's event bus
(:mod:`~pbxedge.phonebox.events`: the manager's ``PhoneBoxAlarm`` and ``PhoneBoxTest``).
"""
