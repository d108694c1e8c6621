"""The node's sound devices, through ``sounddevice`` (PortAudio): the only code importing it.

:mod:`~pbxedge.audio.devices` lists and finds devices by name or number;
:mod:`~pbxedge.audio.stream` runs one phone's microphone and loudspeaker in two threads of
their own, each paced by the device or, when the device has no clock (an ALSA ``file`` or
``null`` PCM), by its own 20 ms clock (:mod:`~pbxedge.audio.pacing`);
:mod:`~pbxedge.audio.handoff` carries captured frames to trio without ever making a device
thread wait. Nothing here knows about calls.
"""
