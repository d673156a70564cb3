"""What the rtmp-ingest suite uses to observe an RTMP/RTMPS ingest.

:mod:`~conformance.rtmp.probe` is a raw RTMP client on the chunk writer and reader of
:mod:`wire.rtmp`, for behaviours camsim's encoder does not have (a handshake step held back, a
chunk size changed mid-stream, a window announced, a ping); :mod:`~conformance.rtmp.follower`
follows the HLS the ingest makes of each stream and reads the camsim stamp, decode and
presentation time of every frame in it (:mod:`~conformance.rtmp.frames`);
:mod:`~conformance.rtmp.observe` runs every scenario of the suite at once against a target and
returns an :class:`~conformance.rtmp.observation.IngestObservation` that the cases judge.
"""
