"""Simulated RTSP IP cameras behind ``camsim run``: an asyncio adapter around :mod:`wire.rtsp`.

:mod:`~camsim.camera.plan` packetizes each sample once; :mod:`~camsim.camera.device` plays a plan
as a live camera; :mod:`~camsim.camera.scheduler` paces the whole fleet from one timer;
:mod:`~camsim.camera.control` answers RTSP on one connection; :mod:`~camsim.camera.server`
accepts connections (plain, TLS, HTTP-tunnelled); :mod:`~camsim.camera.quirks` reproduces field
quirks; :mod:`~camsim.camera.fleet` puts it together.
"""
