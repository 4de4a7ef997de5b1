"""The MPEG-TS packet layout, defined once for the validation Lambda and the endpoint.

ISO/IEC 13818-1: a transport stream is a run of 188-byte packets, each opening
with the sync byte ``0x47`` and a 4-byte header; an adaptation field may follow
the header before the payload. The Lambda checks the sync bytes of the first
packets; the endpoint indexes frames and keyframes from the packets. Shipped in
both archives, so it stays Python 3.8 compatible.
"""

#: Bytes per transport-stream packet.
PACKET_SIZE = 188
#: First byte of every packet.
SYNC_BYTE = 0x47
#: The fixed packet header: sync byte, flags + PID (2 bytes), scrambling/adaptation/continuity.
HEADER_SIZE = 4
#: adaptation_field_control bit in the header's fourth byte: an adaptation field follows the header.
ADAPTATION_FIELD_PRESENT = 0x20
#: payload_unit_start_indicator bit in the header's second byte.
PAYLOAD_UNIT_START = 0x40
#: random_access_indicator in the adaptation field's flags byte.
RANDOM_ACCESS = 0x40


def payload_offset(packet: bytes) -> int:
    """Where the payload starts: after the header and, when present, the adaptation field."""
    offset = HEADER_SIZE
    if packet[3] & ADAPTATION_FIELD_PRESENT:
        offset += 1 + packet[4]  # adaptation_field_length, then the field
    return offset


def payload(packet: bytes) -> bytes:
    """The packet's payload bytes."""
    return packet[payload_offset(packet):]


#: PES start code prefix (every PES packet's payload opens with it).
PES_START = b"\x00\x00\x01"
#: PES stream ids of video elementary streams (ISO/IEC 13818-1 table 2-22: 1110 xxxx).
VIDEO_STREAM_IDS = range(0xE0, 0xF0)
#: PTS ticks per second, and the 33-bit PTS's wrap (about 26.5 hours).
PTS_HZ = 90000
PTS_WRAP = 1 << 33


def pes_pts(data: bytes):
    """The PTS of a PES packet header at the start of ``data`` (ticks), or None (no PES, no PTS).

    Layout: start code, stream id, PES_packet_length (2), flags '10xxxxxx', PTS_DTS_flags
    (top 2 bits), header length, then the 33-bit PTS in 5 bytes with marker bits.
    """
    if len(data) < 14 or data[:3] != PES_START or data[6] & 0xC0 != 0x80 or not data[7] & 0x80:
        return None
    p = data[9:14]
    return ((p[0] >> 1) & 0x07) << 30 | p[1] << 22 | (p[2] >> 1) << 15 | p[3] << 7 | p[4] >> 1


def first_video_pts(data: bytes):
    """The PTS (ticks) of the first video PES header in the whole packets of ``data``, or None.

    A segment opens with a keyframe in presentation order (HLS segments are cut at
    keyframes, closed GOPs), so this is the segment's first presentation time.
    """
    for start in range(0, len(data) - len(data) % PACKET_SIZE, PACKET_SIZE):
        packet = data[start:start + PACKET_SIZE]
        if packet[0] != SYNC_BYTE or not packet[1] & PAYLOAD_UNIT_START or not packet[3] & 0x10:
            continue  # not a packet, no unit starts here, or no payload
        body = payload(packet)
        if len(body) > 3 and body[:3] == PES_START and body[3] in VIDEO_STREAM_IDS:
            pts = pes_pts(body)
            if pts is not None:
                return pts
    return None
