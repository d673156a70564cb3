"""Whether this camsim's camera can play ``tcp-drop-mid-frame``.

The quirk says when (``QuirkProfile.connection_drop``); the camera's RTSP side
(:mod:`camsim.camera.control`) must call it, arm a timer and cut the frame. Until it does, no
connection is dropped and the scenario fails every puller for want of its break, saying so.
"""

from __future__ import annotations

import inspect

from camsim.camera import control

CAMERA_DROPS = "connection_drop" in inspect.getsource(control)
NOT_DROPPED = "it did not happen, so the run proves nothing"
