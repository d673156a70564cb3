"""The RTMP/RTMPS encoder emulator behind ``camsim push``.

:mod:`~camsim.encoder.flv_source` turns a sample into FLV tag bodies once; a
:class:`~camsim.encoder.connection.PublishConnection` is one publishing connection as a sans-IO
session around :class:`wire.rtmp.RtmpClientConnection` (phases, deadlines, media, termination);
a :class:`~camsim.encoder.reconnect.ReconnectPolicy` decides whether and when to try again; a
:class:`~camsim.encoder.publisher.StreamPublisher` is their asyncio owner for one stream, driving
the connection through :class:`wire.asyncio.pump.StreamPump`; a
:class:`~camsim.encoder.pacer.Pacer` paces every stream from one timer; an
:class:`~camsim.encoder.fleet.EncoderFleet` runs N streams on one event loop.
"""
