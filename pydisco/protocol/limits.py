"""Every numeric limit of the worker protocol, defined once.

The framing codec, the session, the worker library, the reference master, the
conformance kit and the spec's vectors all read these names; nothing else in
the code base spells these numbers. Values are those of the Disco 0.5.4 master.
"""

from typing import Final

#: A frame's name ends at the first space found at byte offsets 1..10, so a name
#: is 1 to 10 bytes long.
MAX_NAME_BYTES: Final = 10
#: Disco's framer rejects a 10-byte name when exactly 10 bytes have arrived, so
#: the longest name a sender may rely on is 9 bytes (``INPUT_ERR``).
SAFE_NAME_BYTES: Final = 9
#: The length field follows the same rule: 1 to 10 characters.
MAX_LENGTH_DIGITS: Final = 10
#: The largest payload a frame may carry (100 MiB); larger is ``message_too_big``.
MAX_PAYLOAD_BYTES: Final = 104_857_600
#: The longest frame: name, space, length, space, payload, newline.
MAX_FRAME_BYTES: Final = MAX_NAME_BYTES + 1 + MAX_LENGTH_DIGITS + 1 + MAX_PAYLOAD_BYTES + 1

#: The only worker protocol version a Disco 0.5.4 master accepts.
PROTOCOL_VERSION: Final = "1.1"

#: MSG throttle (master side): the window over which MSG frames are counted.
MSG_WINDOW_SECONDS: Final = 1.0
#: More than this many MSGs in the window delays the OK reply.
MSG_DELAY_ABOVE: Final = 5
#: The delay applied to the OK reply once throttling starts.
MSG_DELAY_SECONDS: Final = 0.2
#: This many MSGs in the window is fatal to the job.
MSG_FATAL_AT: Final = 10
#: Event text is cut at this many characters.
MAX_EVENT_TEXT: Final = 8192

#: Master-side timers (seconds).
PID_TIMEOUT_SECONDS: Final = 30.0
PARTIAL_FRAME_TIMEOUT_SECONDS: Final = 30.0
DRAIN_TIMEOUT_SECONDS: Final = 10.0
#: A misbehaving worker's "last words" are cut to this many bytes in total.
LAST_WORDS_BYTES: Final = 102_400
