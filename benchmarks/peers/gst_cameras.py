#!/usr/bin/python3
"""The reference peer: N cameras served by GStreamer's gst-rtsp-server (C), one mount each.

    /usr/bin/python3 gst_cameras.py FILE.mp4 N PORT  ->  rtsp://127.0.0.1:PORT/cam1..camN

Run it with the system Python, which has python3-gi and gir1.2-gst-rtsp-server-1.0 (Debian).
Each mount demuxes the MP4 and payloads H.264 (parameter sets before every keyframe, as cameras
send them) and AAC; media are shared between the clients of a mount, as cameras share an encoder.
Prints "ready" once listening.
"""

import sys

import gi  # type: ignore[import-not-found]

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # type: ignore[import-not-found]  # noqa: E402

LAUNCH = (
    "( filesrc location={path} ! qtdemux name=d "
    "d.video_0 ! queue ! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 "
    "d.audio_0 ! queue ! aacparse ! rtpmp4gpay name=pay1 pt=97 )"
)


def main(argv: list[str]) -> None:
    path, count, port = argv[1], int(argv[2]), argv[3]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    mounts = server.get_mount_points()
    for index in range(1, count + 1):
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(LAUNCH.format(path=path))
        factory.set_shared(True)
        mounts.add_factory(f"/cam{index}", factory)
    server.attach(None)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main(sys.argv)
