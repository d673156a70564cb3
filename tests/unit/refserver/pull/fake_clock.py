"""A sans-IO pull attempt and a scripted camera wired together in memory, on a fake clock.

:class:`Dialog` moves the attempt's bytes to the camera and the camera's answers back at the
current fake time, and :meth:`Dialog.advance` runs the attempt's timers up to a time the way
the pump's one timer would: each deadline is handled at exactly the time the attempt asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from refserver.hls import Frame
from refserver.pull.address import CameraAddress
from refserver.pull.attempt import AttemptEnded, PullAttempt
from refserver.pull.tracks import Presentation, Track
from tests.unit.refserver.pull.scripted_camera import ScriptedCamera
from wire.rtsp.message import InterleavedFrame, Request, Response

URL = "rtsp://127.0.0.1:554/stream1"
_Event = TypeVar("_Event")


class RecordingSink:
    """What a sink is told."""

    def __init__(self) -> None:
        self.presentation: Presentation | None = None
        self.peer: str | None = None
        self.frames: list[tuple[Track, Frame, int]] = []
        self.warnings: list[str] = []

    def started(self, presentation: Presentation, peer: str) -> None:
        self.presentation, self.peer = presentation, peer

    def frame(self, track: Track, frame: Frame, size: int) -> None:
        self.frames.append((track, frame, size))

    def warning(self, message: str) -> None:
        self.warnings.append(message)


@dataclass
class Timed:
    at: float
    request: Request


class RecordingCamera(ScriptedCamera):
    """A scripted camera that notes when each request came, keeps what the client sent on
    interleaved channels, and leaves the methods in ``mute`` unanswered."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.mute: set[str] = set()
        self.timed: list[Timed] = []
        self.interleaved: list[tuple[float, InterleavedFrame]] = []
        self.now = 0.0

    def receive(self, data: bytes) -> bytes:
        self._reader.receive_data(data)
        out = bytearray()
        while (message := self._reader.next_message()) is not None:
            if isinstance(message, InterleavedFrame):
                self.interleaved.append((self.now, message))
            elif isinstance(message, Request):
                self.requests.append(message)
                self.timed.append(Timed(self.now, message))
                if message.method not in self.mute:
                    out += self.answer(message).serialize()
        return bytes(out)

    def answer(self, request: Request) -> Response:
        """The answer to ``request``; subclasses script their own."""
        return self._answer(request)

    def methods(self) -> list[str]:
        return [r.method for r in self.requests]


@dataclass
class Dialog:
    """``attempt`` talking to ``camera`` at fake time ``now``."""

    camera: RecordingCamera
    attempt: PullAttempt
    sink: RecordingSink
    now: float = 0.0
    events: list[object] = field(default_factory=list)

    def pump(self) -> None:
        """Exchange bytes until neither side has more to say."""
        self.camera.now = self.now
        while True:
            self._drain()
            data = self.attempt.data_to_send()
            if not data:
                return
            answer = self.camera.receive(data)
            if answer:
                self.attempt.receive_data(answer, self.now)

    def media(self, seconds: float = float("inf")) -> None:
        """The camera's packets due ``seconds`` after PLAY, in now."""
        data = self.camera.due(seconds)
        if data:
            self.attempt.receive_data(data, self.now)
        self.pump()

    def advance(self, to: float) -> None:
        """Run every deadline up to ``to``, each at its own time, as the pump's timer does."""
        while (deadline := self.attempt.get_timer()) is not None and deadline <= to:
            self.now = max(self.now, deadline)
            self.attempt.handle_timer(self.now)
            self.pump()
        self.now = to
        self.pump()

    @property
    def ended(self) -> AttemptEnded | None:
        return next((e for e in self.events if isinstance(e, AttemptEnded)), None)

    def of(self, kind: type[_Event]) -> list[_Event]:
        return [event for event in self.events if isinstance(event, kind)]

    def _drain(self) -> None:
        while (event := self.attempt.next_event()) is not None:
            self.events.append(event)


def start(
    camera: RecordingCamera,
    *,
    url: str = URL,
    now: float = 0.0,
    **options: Any,
) -> Dialog:
    """An attempt on ``camera`` begun at ``now``, its first exchanges done."""
    sink = RecordingSink()
    attempt = PullAttempt(
        CameraAddress.parse(url),
        sink,
        now=now,
        ssrc=0x5EED,
        base=lambda: 10 * 90_000,
        **options,
    )
    dialog = Dialog(camera, attempt, sink, now)
    dialog.pump()
    return dialog
