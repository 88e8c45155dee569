"""Split a byte stream into text lines, for backends that read raw output."""

MAX_LINE_BYTES = 4 * 1024 * 1024


class LineSplitter:
    """Feed bytes in, get complete lines out (decoded as UTF-8, bad bytes replaced).

    A line longer than ``max_line_bytes`` is cut into pieces of that size, on a character
    boundary, so one runaway line cannot exhaust memory; anything shorter comes out intact."""

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._max = max_line_bytes
        self._buffer = bytearray()
        self._searched = 0  # bytes of the buffer already known to hold no newline

    def feed(self, data: bytes) -> list[str]:
        self._buffer += data
        lines: list[str] = []
        start = 0
        while True:
            end = self._buffer.find(b"\n", max(start, self._searched))
            if end < 0:
                break
            lines.append(_decode(self._buffer[start:end]))
            start = end + 1
            self._searched = start
        del self._buffer[:start]
        self._searched = len(self._buffer)
        while len(self._buffer) > self._max:
            cut = _char_boundary(self._buffer, self._max)
            lines.append(_decode(self._buffer[:cut]))
            del self._buffer[:cut]
            self._searched = len(self._buffer)
        return lines

    def flush(self) -> list[str]:
        """The last line, when the output did not end with a newline."""
        if not self._buffer:
            return []
        line = _decode(self._buffer)
        self._buffer.clear()
        self._searched = 0
        return [line]


def _decode(raw: bytes | bytearray) -> str:
    text = raw.decode("utf-8", errors="replace")
    return text[:-1] if text.endswith("\r") else text


def _char_boundary(buffer: bytearray, limit: int) -> int:
    cut = limit
    # UTF-8 continuation bytes look like 0b10xxxxxx; never cut in front of one.
    while cut > limit - 4 and cut > 0 and buffer[cut] & 0xC0 == 0x80:
        cut -= 1
    return cut
