"""TFRecord files without TensorFlow: record framing with masked CRC-32C, ``tf.train.Example``.

A record is ``uint64 length | uint32 masked_crc(length) | data | uint32 masked_crc(data)``
(little-endian); ``masked_crc(x) = ((c >> 15 | c << 17) + 0xa282ead8) mod 2^32`` with ``c`` the
CRC-32C (Castagnoli) of ``x``. An Example is the protobuf ``Example{features: Features{feature:
map<string, Feature>}}``, a Feature one of ``bytes_list`` (1), ``float_list`` (2), ``int64_list``
(3), each a repeated field 1 (packed or not).
"""

from __future__ import annotations

import functools
import struct

import numpy as np

__all__ = [
    "crc32c",
    "masked_crc",
    "index_records",
    "read_record",
    "parse_example",
    "write_record",
    "float_example",
]

_POLY = 0x82F63B78  # CRC-32C, reflected


def _table() -> np.ndarray:
    table = np.zeros(256, np.uint32)
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table[n] = c
    return table


@functools.lru_cache(maxsize=1)
def _kernel():
    import numba  # only when a TFRecord is read: `import ddsp_ref` never loads numba

    table = _table()

    @numba.njit(cache=True, nogil=True)
    def crc(data, table=table):
        c = np.uint32(0xFFFFFFFF)
        for byte in data:
            c = table[(c ^ byte) & 0xFF] ^ (c >> np.uint32(8))
        return c ^ np.uint32(0xFFFFFFFF)

    return crc


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of ``data``; crc32c(b'123456789') == 0xE3069283."""
    return int(_kernel()(np.frombuffer(data, np.uint8)))


def masked_crc(data: bytes) -> int:
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def index_records(path: str) -> list[tuple[int, int]]:
    """(offset of the data, length) of every record, checking each length's CRC.

    Raises:
        ValueError: a truncated record or a length whose CRC does not match.
    """
    out = []
    with open(path, "rb") as f:
        while True:
            header = f.read(12)
            if not header:
                return out
            if len(header) < 12:
                raise ValueError(
                    f"{path}: truncated record header at byte {f.tell() - len(header)}"
                )
            (length,) = struct.unpack("<Q", header[:8])
            if struct.unpack("<I", header[8:])[0] != masked_crc(header[:8]):
                raise ValueError(f"{path}: corrupt record length at byte {f.tell() - 12}")
            offset = f.tell()
            f.seek(length + 4, 1)
            if f.tell() > _size(f):
                raise ValueError(f"{path}: truncated record at byte {offset - 12}")
            out.append((offset, length))


def _size(f) -> int:
    here = f.tell()
    end = f.seek(0, 2)
    f.seek(here)
    return end


def read_record(path: str, offset: int, length: int) -> bytes:
    """The data of one record, its CRC checked (ValueError if it does not match)."""
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read(length + 4)
    if len(data) != length + 4 or struct.unpack("<I", data[length:])[0] != masked_crc(
        data[:length]
    ):
        raise ValueError(f"{path}: corrupt record at byte {offset - 12} (data CRC mismatch)")
    return data[:length]


def write_record(f, data: bytes) -> None:
    """Append one record to an open binary file (for tests and conversions)."""
    header = struct.pack("<Q", len(data))
    f.write(header + struct.pack("<I", masked_crc(header)))
    f.write(data + struct.pack("<I", masked_crc(data)))


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes):
    """(field number, wire type, value) of a protobuf message; value is bytes for wire type 2."""
    pos, end = 0, len(buf)
    while pos < end:
        tag, pos = _varint(buf, pos)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + n], pos + n
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"tf.train.Example: unsupported protobuf wire type {wire}")
        yield field, wire, value


def _feature_value(buf: bytes):
    """A Feature message to a numpy array (float32 / int64) or a list of bytes."""
    for kind, _, payload in _fields(buf):
        if kind == 2:  # FloatList: packed little-endian float32, or one fixed32 per value
            parts = [v if w == 2 else v for _, w, v in _fields(payload)]
            return np.frombuffer(b"".join(parts), "<f4").copy()
        if kind == 3:  # Int64List: packed varints, or one varint per value
            values = []
            for _, w, v in _fields(payload):
                if w == 0:
                    values.append(v)
                else:
                    pos = 0
                    while pos < len(v):
                        x, pos = _varint(v, pos)
                        values.append(x)
            return np.array([x - (1 << 64) if x >> 63 else x for x in values], np.int64)
        if kind == 1:
            return [bytes(v) for _, _, v in _fields(payload)]
    return np.zeros(0, np.float32)  # a Feature with no list set


def parse_example(buf: bytes) -> dict:
    """A serialized ``tf.train.Example`` to ``{name: array or [bytes]}``."""
    out = {}
    for field, _, features in _fields(buf):
        if field != 1:
            continue
        for entry_field, _, entry in _fields(features):
            if entry_field != 1:
                continue
            key, value = None, b""
            for f, _, v in _fields(entry):
                if f == 1:
                    key = bytes(v).decode()
                elif f == 2:
                    value = v
            out[key] = _feature_value(value)
    return out


def _encode_varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _length_delimited(field: int, payload: bytes) -> bytes:
    return _encode_varint(field << 3 | 2) + _encode_varint(len(payload)) + payload


def float_example(features: dict) -> bytes:
    """A serialized ``tf.train.Example`` of float lists (each array flattened to float32, packed),
    as ddsp's ``_float_dict_to_tfexample`` writes; :func:`parse_example` reads it back."""
    entries = b""
    for key, value in features.items():
        floats = np.ascontiguousarray(np.asarray(value, "<f4").reshape(-1)).tobytes()
        feature = _length_delimited(2, _length_delimited(1, floats))  # Feature.float_list
        entries += _length_delimited(
            1, _length_delimited(1, key.encode()) + _length_delimited(2, feature)
        )
    return _length_delimited(1, entries)
