# cython: language_level=3, embedsignature=True
"""The RTMP chunk reader compiled: :class:`wire.rtmp.chunk.PyChunkReader` in C.

RTMP specification 1.0, section 5.3. This is the same algorithm as the pure-Python reference in
``chunk.py``, step for step and check for check, so that it returns the same messages and raises
the same errors with the same text at the same byte, however the input is split into reads (the
differential tests in ``tests/unit/wire/speedups/test_chunk.py`` hold it to that). What it saves is
the interpreter's work per chunk: headers are read from the receive buffer through a C pointer and
a message's payload is copied once into its ``bytes``.

The buffer is a ``bytearray`` as in the reference. Its pointer is fetched again for each chunk and
never held across a ``yield`` or a call into Python code that could resize it (a subclass's
``_apply_control``, a caller feeding more data while :meth:`ChunkReader.messages` is suspended).
A ``bytes`` read that arrives with nothing buffered (the read before it ended on a chunk boundary,
as when a publisher's writes arrive one per read) is parsed where it is, and only its unfinished
end is copied into the buffer: one copy of every byte less.
"""

from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE, PyByteArray_Resize
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport uint32_t, uint64_t
from libc.string cimport memcmp, memcpy

from wire.rtmp.chunk import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_MAX_BUFFERED_BYTES,
    MAX_CHUNK_SIZE,
    RtmpMessage,
    _check_chunk_size,
)
from wire.rtmp.errors import RemoteProtocolError, RtmpError

cdef enum:
    EXTENDED_TIMESTAMP = 0xFFFFFF  # section 5.3.1.3
    FMT_FULL = 0
    FMT_SAME_STREAM = 1
    FMT_SAME_LENGTH_AND_TYPE = 2
    FMT_CONTINUATION = 3
    TYPE_SET_CHUNK_SIZE = 1
    TYPE_ABORT = 2

# Message header sizes of fmt 0-3 (section 5.3.1.2).
cdef Py_ssize_t[4] MESSAGE_HEADER_SIZES = [11, 7, 3, 0]


cdef inline uint32_t read_u24(const unsigned char* p) noexcept:
    return (<uint32_t>p[0] << 16) | (<uint32_t>p[1] << 8) | p[2]


cdef inline uint32_t read_u32_be(const unsigned char* p) noexcept:
    return (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | p[3]


cdef inline uint32_t read_u32_le(const unsigned char* p) noexcept:
    return (<uint32_t>p[3] << 24) | (<uint32_t>p[2] << 16) | (<uint32_t>p[1] << 8) | p[0]


cdef inline void write_u32_be(unsigned char* p, uint32_t value) noexcept:
    p[0] = (value >> 24) & 0xFF
    p[1] = (value >> 16) & 0xFF
    p[2] = (value >> 8) & 0xFF
    p[3] = value & 0xFF


cdef inline const unsigned char* _start(object source):
    if type(source) is bytes:
        return <const unsigned char*>PyBytes_AS_STRING(source)
    return <const unsigned char*>PyByteArray_AS_STRING(source)


cdef inline Py_ssize_t _size(object source):
    if type(source) is bytes:
        return PyBytes_GET_SIZE(source)
    return PyByteArray_GET_SIZE(source)


cdef _append(bytearray buffer, bytes data, Py_ssize_t offset):
    """``buffer += data[offset:]`` without the slice."""
    cdef Py_ssize_t have = PyByteArray_GET_SIZE(buffer)
    cdef Py_ssize_t size = PyBytes_GET_SIZE(data) - offset
    if size <= 0:
        return
    PyByteArray_Resize(buffer, have + size)
    memcpy(PyByteArray_AS_STRING(buffer) + have, PyBytes_AS_STRING(data) + offset, size)


cdef class _ReaderStream:
    """What a chunk stream's next chunk inherits, and the message it is assembling."""

    cdef uint32_t timestamp
    cdef uint32_t timestamp_field
    cdef bint extended
    cdef Py_ssize_t length
    cdef int type_id
    cdef uint32_t stream_id
    cdef bytearray partial
    cdef bint in_progress


cdef class ChunkReader:
    """Reassembles messages from chunks; applies Set Chunk Size and Abort as they arrive.

    Extended timestamps on fmt 3 chunks are read defensively, as SRS does: when the stream's
    header had one, the next 4 bytes are taken as a repeat only if they equal the expected value
    (the header's timestamp field, or the absolute timestamp some writers put there), otherwise
    they are payload. Either writer convention therefore reassembles correctly. When fewer than 4
    bytes have arrived and they could still be the start of a repeat, the reader waits for more.
    """

    cdef long long peer_chunk_size
    cdef public long long max_message_size
    cdef public long long max_chunk_streams
    cdef public long long max_buffered_bytes
    cdef public long long max_chunk_size
    """The largest chunk size the peer may announce; a larger one is a protocol error."""
    cdef dict _streams
    cdef bytearray _buffer
    cdef long long _partial_bytes
    """Payload bytes of unfinished messages, all chunk streams together."""
    cdef object _completed
    """The message the last :meth:`_read_chunk` completed, or None."""
    cdef object _direct
    """The read a :meth:`messages` call is parsing in place, or None. A read that starts on a
    chunk boundary (nothing buffered) is parsed where it is, and only its unfinished end is
    copied into the buffer; meanwhile it counts as buffered, as in the reference."""
    cdef unsigned long long _calls
    cdef unsigned long long _direct_call
    """Which :meth:`messages` call owns ``_direct``."""

    def __init__(
        self,
        *,
        chunk_size=DEFAULT_CHUNK_SIZE,
        max_message_size=8 * 1024 * 1024,
        max_chunk_streams=64,
        max_buffered_bytes=DEFAULT_MAX_BUFFERED_BYTES,
        max_chunk_size=MAX_CHUNK_SIZE,
    ):
        if max_buffered_bytes < max_message_size:
            raise ValueError(
                f"max_buffered_bytes {max_buffered_bytes} cannot hold one message of "
                f"max_message_size {max_message_size}"
            )
        self.peer_chunk_size = _check_chunk_size(chunk_size)
        self.max_message_size = max_message_size
        self.max_chunk_streams = max_chunk_streams
        self.max_buffered_bytes = max_buffered_bytes
        self.max_chunk_size = _check_chunk_size(max_chunk_size)
        self._streams = {}
        self._buffer = bytearray()
        self._partial_bytes = 0
        self._completed = None
        self._direct = None
        self._calls = 0
        self._direct_call = 0

    @property
    def chunk_size(self):
        """The peer's current chunk size."""
        return self.peer_chunk_size

    @property
    def _chunk_size(self):
        return self.peer_chunk_size

    @_chunk_size.setter
    def _chunk_size(self, chunk_size):
        # Settable as in the reference (the conformance suite's mutant server forces it), but
        # checked: a chunk size below 1 would have the reader copy a negative length.
        self.peer_chunk_size = _check_chunk_size(chunk_size)

    def receive_data(self, data):
        """Buffer ``data``; return every message it completes, in order.

        Raises :class:`RtmpError` for a malformed chunk stream, and :class:`RemoteProtocolError`
        when unfinished messages hold more than ``max_buffered_bytes``; the reader is unusable
        after either.
        """
        return list(self.messages(data))

    def messages(self, data):
        """Like :meth:`receive_data`, but yields each message as it completes, so that the
        messages before an error in ``data`` can be handled before the error is raised."""
        cdef Py_ssize_t offset = 0
        cdef Py_ssize_t consumed
        cdef unsigned long long call
        self._take_direct()
        self._calls += 1
        call = self._calls
        if type(data) is bytes and PyByteArray_GET_SIZE(self._buffer) == 0:
            self._direct = data
            self._direct_call = call
        else:
            self._buffer += data
        try:
            while True:
                if self._direct is not None and self._direct_call == call:
                    consumed = self._read_chunk(data, offset)
                else:
                    consumed = self._read_chunk(self._buffer, offset)
                if consumed == 0:
                    break
                offset += consumed
                message = self._completed
                if message is not None:
                    self._completed = None
                    self._apply_control(message)
                    yield message
        finally:
            if self._direct is not None and self._direct_call == call:
                # Parsed in place: only what is left of the read is kept (the buffer is empty).
                self._direct = None
                _append(self._buffer, data, offset)
            else:
                del self._buffer[:offset]
        # Every complete chunk is consumed: what is left is the start of one chunk. It and the
        # unfinished messages are what the peer makes us hold.
        held = self._partial_bytes + PyByteArray_GET_SIZE(self._buffer)
        if held > self.max_buffered_bytes:
            raise RemoteProtocolError(
                f"{held} bytes of unfinished messages exceed the "
                f"{self.max_buffered_bytes}-byte limit"
            )

    @property
    def has_partial(self):
        """True while part of a chunk or of a message is held, waiting for the rest."""
        return self._buffered() > 0 or self._partial_bytes > 0

    cdef Py_ssize_t _buffered(self):
        """The reference's buffer size: what is buffered and the read being parsed in place."""
        cdef Py_ssize_t size = PyByteArray_GET_SIZE(self._buffer)
        if self._direct is not None:
            size += PyBytes_GET_SIZE(self._direct)
        return size

    cdef _take_direct(self):
        """A read parsed in place goes into the buffer, where the reference has it: a call made
        while another :meth:`messages` is suspended reads the buffer, and so does that one."""
        if self._direct is not None:
            self._buffer += self._direct
            self._direct = None

    def bytes_to_complete(self):
        """A lower bound on the bytes still to come before the next message completes, when a
        message's first chunk is in; None otherwise, as nothing says yet what comes next.

        Counts each chunk header still to come at its smallest (one byte), so the bound holds
        whatever headers the peer picks: a reader that waits for this many bytes never waits
        past a message's end. Servers use it to keep a socket's low-water mark below it.
        """
        cdef _ReaderStream stream
        cdef long long payload, chunks, need
        cdef long long wanted = 0
        cdef bint found = False
        for value in self._streams.values():
            stream = <_ReaderStream>value
            if stream.in_progress:
                payload = stream.length - PyByteArray_GET_SIZE(stream.partial)
                chunks = (payload + self.peer_chunk_size - 1) // self.peer_chunk_size
                need = payload + chunks - self._buffered()
                if not found or need < wanted:
                    wanted = need
                found = True
        if not found:
            return None
        return max(1, wanted)

    cdef Py_ssize_t _read_chunk(self, object source, Py_ssize_t start) except -1:
        """Parse one chunk at ``start`` of ``source`` (the buffer, or a read parsed in place):
        the bytes consumed, 0 if the chunk is partial. A message the chunk completes is left in
        ``self._completed``."""
        cdef Py_ssize_t end = _size(source)
        # Valid until Python code runs that could resize the buffer.
        cdef const unsigned char* buffer = _start(source)
        cdef Py_ssize_t pos = start
        cdef int fmt, csid
        cdef Py_ssize_t header_size, peeked, have, size
        cdef const unsigned char* header
        cdef uint32_t field_value, timestamp, stream_id
        cdef bint extended
        cdef Py_ssize_t length
        cdef int type_id
        cdef unsigned char[4] expected_field, expected_timestamp
        cdef _ReaderStream stream
        cdef bytearray partial

        if end - start < 1:
            return 0
        # Basic header (section 5.3.1.1): csid 0 and 1 say a 1- or 2-byte extension follows.
        fmt = buffer[pos] >> 6
        csid = buffer[pos] & 0x3F
        pos += 1
        if csid == 0:
            if end - start < 2:
                return 0
            csid = 64 + buffer[pos]
            pos += 1
        elif csid == 1:
            if end - start < 3:
                return 0
            csid = 64 + buffer[pos] + (buffer[pos + 1] << 8)
            pos += 2
        stream = self._stream_for(csid, fmt)
        # Creating a stream can run a garbage collection, and so finalizers: fetch again.
        buffer = _start(source)

        if fmt != FMT_CONTINUATION and stream.in_progress:
            raise RtmpError(
                f"chunk stream {csid}: fmt {fmt} header while a {stream.length}-byte message "
                f"has only {PyByteArray_GET_SIZE(stream.partial)} bytes"
            )
        header_size = MESSAGE_HEADER_SIZES[fmt]
        if end < pos + header_size:
            return 0
        header = buffer + pos
        pos += header_size

        field_value = stream.timestamp_field
        extended = stream.extended
        if fmt != FMT_CONTINUATION:
            field_value = read_u24(header)
            extended = field_value == EXTENDED_TIMESTAMP
            if extended:
                if end < pos + 4:
                    return 0
                field_value = read_u32_be(buffer + pos)
                pos += 4
        elif extended:
            # Peek and compare (SRS, rust-media-libs): the repeat is optional in practice. Four
            # bytes equal to either expected value are the repeat; fewer that could still become
            # one mean wait; anything else is payload.
            write_u32_be(expected_field, stream.timestamp_field)
            write_u32_be(expected_timestamp, stream.timestamp)
            peeked = min(4, end - pos)
            if peeked == 4 and (
                memcmp(buffer + pos, expected_field, 4) == 0
                or memcmp(buffer + pos, expected_timestamp, 4) == 0
            ):
                pos += 4
            elif peeked < 4 and (
                memcmp(buffer + pos, expected_field, peeked) == 0
                or memcmp(buffer + pos, expected_timestamp, peeked) == 0
            ):
                return 0

        length = stream.length
        type_id = stream.type_id
        stream_id = stream.stream_id
        if fmt == FMT_FULL or fmt == FMT_SAME_STREAM:
            length = read_u24(header + 3)
            type_id = header[6]
            if length > self.max_message_size:
                raise RtmpError(
                    f"chunk stream {csid}: message of {length} bytes exceeds the "
                    f"{self.max_message_size}-byte limit"
                )
        if fmt == FMT_FULL:
            stream_id = read_u32_le(header + 7)

        have = PyByteArray_GET_SIZE(stream.partial) if stream.in_progress else 0
        size = length - have
        if self.peer_chunk_size < size:
            size = <Py_ssize_t>self.peer_chunk_size
        if end < pos + size:
            return 0

        # The whole chunk is here: commit the header to the stream state.
        if not stream.in_progress:
            if fmt == FMT_FULL:
                timestamp = field_value
            else:
                # fmt 1/2 carry a delta; fmt 3 starting a message reuses the previous one, which
                # after a fmt 0 header is that header's absolute timestamp (section 5.3.1.2.4).
                # uint32_t arithmetic wraps modulo 2^32 like the reference's mask.
                timestamp = stream.timestamp + field_value
            stream.timestamp = timestamp
            stream.timestamp_field = field_value
            stream.extended = extended
            stream.length = length
            stream.type_id = type_id
            stream.stream_id = stream_id
            stream.in_progress = True
            if size == length:
                # A message in one chunk: its payload straight from the buffer.
                stream.in_progress = False
                self._completed = RtmpMessage(
                    type_id, PyBytes_FromStringAndSize(<const char*>buffer + pos, size),
                    timestamp, stream_id,
                )
                return pos + size - start

        partial = stream.partial
        PyByteArray_Resize(partial, have + size)
        memcpy(PyByteArray_AS_STRING(partial) + have, buffer + pos, size)
        pos += size
        if have + size < stream.length:
            self._partial_bytes += size
            return pos - start
        self._partial_bytes -= have
        self._completed = RtmpMessage(
            stream.type_id,
            PyBytes_FromStringAndSize(PyByteArray_AS_STRING(partial), have + size),
            stream.timestamp,
            stream.stream_id,
        )
        stream.partial = bytearray()
        stream.in_progress = False
        return pos - start

    cdef _ReaderStream _stream_for(self, int csid, int fmt):
        stream = self._streams.get(csid)
        if stream is not None:
            return <_ReaderStream>stream
        # librtmp starts some chunk streams with fmt 1; SRS accepts that, and so do we.
        if fmt != FMT_FULL and fmt != FMT_SAME_STREAM:
            raise RtmpError(f"chunk stream {csid}: first chunk has fmt {fmt}, nothing to inherit")
        if len(self._streams) >= self.max_chunk_streams:
            raise RtmpError(
                f"chunk stream {csid}: more than {self.max_chunk_streams} chunk streams"
            )
        created = _ReaderStream()
        created.partial = bytearray()
        self._streams[csid] = created
        return created

    cpdef _apply_control(self, message):
        type_id = message.type_id
        if type_id == TYPE_SET_CHUNK_SIZE:
            payload = message.payload
            if len(payload) < 4:
                raise RtmpError(f"Set Chunk Size: truncated, need 4 bytes, have {len(payload)}")
            size = int.from_bytes(payload[:4], "big")
            # Section 5.4.1: the most significant bit must be zero.
            if size & 0x80000000 or size == 0:
                raise RtmpError(f"Set Chunk Size: invalid chunk size {size}")
            if size > self.max_chunk_size:
                # The specification allows up to 2^31 - 1; a receiver may hold a peer to less
                # and ends the connection when the peer announces more.
                raise RemoteProtocolError(
                    f"Set Chunk Size {size} exceeds the {self.max_chunk_size}-byte limit"
                )
            self.peer_chunk_size = size
        elif type_id == TYPE_ABORT:
            payload = message.payload
            if len(payload) < 4:
                raise RtmpError(f"Abort: truncated, need 4 bytes, have {len(payload)}")
            stream = self._streams.get(int.from_bytes(payload[:4], "big"))
            if stream is not None:
                self._partial_bytes -= PyByteArray_GET_SIZE((<_ReaderStream>stream).partial)
                (<_ReaderStream>stream).partial = bytearray()
                (<_ReaderStream>stream).in_progress = False
