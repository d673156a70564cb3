#!/usr/bin/python3
"""Cameras served by GStreamer's gst-rtsp-server whose audio HLS cannot carry as it is.

Usage: gst_audio_cameras.py PORT -> rtsp://127.0.0.1:PORT/pcmu, /pcma and /opus, each H.264
video (videotestsrc, openh264) with a 1 kHz tone in G.711 mu-law, G.711 A-law (RFC 3551 static
payload types 0 and 8) or Opus (RFC 7587, dynamic payload type 111). Runs with the system
Python (python3-gi and the gst-rtsp-server bindings from Debian); prints "ready" once serving.
"""

import sys

import gi  # type: ignore[import-not-found]

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # type: ignore[import-not-found]  # noqa: E402

VIDEO = (
    "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=15/1 "
    "! openh264enc gop-size=15 bitrate=300000 ! h264parse config-interval=-1 "
    "! rtph264pay name=pay0 pt=96"
)
TONE = "audiotestsrc is-live=true freq=1000 volume=0.4"
AUDIO = {
    "pcmu": f"{TONE} ! audio/x-raw,rate=8000,channels=1 ! mulawenc ! rtppcmupay name=pay1 pt=0",
    "pcma": f"{TONE} ! audio/x-raw,rate=8000,channels=1 ! alawenc ! rtppcmapay name=pay1 pt=8",
    "opus": f"{TONE} ! audioconvert ! audioresample ! opusenc ! rtpopuspay name=pay1 pt=111",
}


def main() -> None:
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(sys.argv[1])
    mounts = server.get_mount_points()
    for name, audio in AUDIO.items():
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(f"( {VIDEO} {audio} )")
        factory.set_shared(True)
        mounts.add_factory(f"/{name}", factory)
    server.attach(None)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
