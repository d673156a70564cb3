"""The RTMP/RTMPS encoder emulator behind ``camsim push``.

:mod:`~camsim.encoder.flv_source` turns a sample into FLV tag bodies once; a
:class:`~camsim.encoder.pacer.Pacer` paces every stream from one timer; a
:class:`~camsim.encoder.session.PublishSession` pumps one connection around
:class:`wire.rtmp.RtmpClientConnection`; a :class:`~camsim.encoder.publisher.Publisher` reconnects
with capped backoff; a :class:`~camsim.encoder.fleet.Fleet` runs N of them on one event loop.
"""
