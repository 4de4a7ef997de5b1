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
