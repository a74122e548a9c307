"""Read TensorFlow's tensor-bundle checkpoints (``ckpt-N.index`` + ``ckpt-N.data-*``) with numpy.

A TF2 checkpoint ``prefix`` is two kinds of files:

- ``prefix.index``: a leveldb-format table (an SSTable): sorted ``key -> value`` entries in
  blocks, an index block of block handles, and a 48-byte footer. The entry with the empty key is
  a ``BundleHeaderProto`` (number of shards, endianness); every other key names a tensor and its
  value is a ``BundleEntryProto`` (dtype, shape, shard, offset, size, masked crc32c).
- ``prefix.data-SSSSS-of-NNNNN``: the shards, holding each tensor's raw little-endian bytes
  (string tensors: varint lengths, a checksum of the lengths, then the bytes).

The protobuf messages are decoded from their wire format here (a few varint fields), so
neither TensorFlow nor protobuf is needed. Every tensor's crc32c is checked.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["BundleEntry", "TensorBundle", "crc32c", "masked_crc32c"]

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_SIZE = 48  # two block handles (<= 20 bytes each) padded to 40, then the 8-byte magic
_BLOCK_TRAILER = 5  # compression type byte + masked crc32c of block and type byte

# TF DataType enum values -> numpy dtypes (little-endian on disk).
_DTYPES = {
    1: np.dtype("<f4"), 2: np.dtype("<f8"), 3: np.dtype("<i4"), 4: np.dtype("u1"),
    5: np.dtype("<i2"), 6: np.dtype("i1"), 8: np.dtype("<c8"), 9: np.dtype("<i8"),
    10: np.dtype("?"), 17: np.dtype("<u2"), 18: np.dtype("<c16"), 19: np.dtype("<f2"),
    22: np.dtype("<u4"), 23: np.dtype("<u8"),
}  # fmt: skip
_DT_STRING = 7
_DTYPE_NAMES = {7: "string", 11: "qint8", 12: "quint8", 13: "qint32", 14: "bfloat16",
                15: "qint16", 16: "quint16", 20: "resource", 21: "variant"}  # fmt: skip


# -- crc32c (Castagnoli), as TF and leveldb use it -----------------------------------------------
def _crc_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):  # reflected polynomial 0x82F63B78, one bit at a time
        table = np.where(table & 1, (table >> 1) ^ np.uint32(0x82F63B78), table >> 1)
    return table.astype(np.uint32)


_TABLE = _crc_table()
_TABLE_LIST = [int(v) for v in _TABLE]


def _crc_update_python(state: int, data: bytes) -> int:
    table = _TABLE_LIST
    for b in data:
        state = table[(state ^ b) & 0xFF] ^ (state >> 8)
    return state


def _zeros_operator(n: int) -> list[np.ndarray]:
    """Four 256-entry tables giving the register after ``n`` zero bytes: linear in the register,
    so ``Z(s) = T0[s & 255] ^ T1[s >> 8 & 255] ^ T2[s >> 16 & 255] ^ T3[s >> 24]``."""
    basis = np.uint32(1) << np.arange(32, dtype=np.uint32)
    for _ in range(n):
        basis = _TABLE[basis & 0xFF] ^ (basis >> 8)
    tables = []
    for byte in range(4):
        idx = np.arange(256, dtype=np.uint32)
        out = np.zeros(256, np.uint32)
        for bit in range(8):
            out ^= np.where((idx >> bit) & 1, basis[8 * byte + bit], np.uint32(0))
        tables.append(out)
    return tables


def crc32c(data: bytes | memoryview | np.ndarray, value: int = 0) -> int:
    """crc32c of ``data`` (extending a previous ``value``, like ``crc32c::Extend``).

    Long inputs are cut into equal chunks whose registers (from zero) are computed together
    with numpy, one byte position per step; the CRC is linear over GF(2), so they are then
    chained by the "append L zero bytes" operator: ``s = Z_L(s) ^ crc_0(chunk)``.
    """
    buf = np.frombuffer(memoryview(data).cast("B"), np.uint8)
    state = (value ^ 0xFFFFFFFF) & 0xFFFFFFFF
    if buf.size < 4096:
        return _crc_update_python(state, buf.tobytes()) ^ 0xFFFFFFFF
    length = max(256, int(np.sqrt(buf.size)))
    n_chunks = buf.size // length
    chunks = buf[: n_chunks * length].reshape(n_chunks, length).astype(np.uint32)
    regs = np.zeros(n_chunks, np.uint32)
    for j in range(length):
        regs = _TABLE[(regs ^ chunks[:, j]) & 0xFF] ^ (regs >> 8)
    t0, t1, t2, t3 = (t.tolist() for t in _zeros_operator(length))
    for reg in regs.tolist():
        state = t0[state & 255] ^ t1[state >> 8 & 255] ^ t2[state >> 16 & 255] ^ t3[state >> 24]
        state ^= reg
    state = _crc_update_python(state, buf[n_chunks * length :].tobytes())
    return state ^ 0xFFFFFFFF


def masked_crc32c(crc: int) -> int:
    """leveldb / TF's mask: rotate right by 15 bits and add 0xa282ead8 (mod 2**32)."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


# -- protobuf wire format and the SSTable -------------------------------------------------------
def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, Any]]:
    """``(field number, value)`` pairs of a protobuf message: ints for varint / fixed fields,
    bytes for length-delimited ones."""
    out, pos = [], 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = struct.unpack_from("<Q", buf, pos)[0], pos + 8
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value, pos = bytes(buf[pos : pos + size]), pos + size
        elif wire == 5:
            value, pos = struct.unpack_from("<I", buf, pos)[0], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.append((number, value))
    return out


def _signed64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


@dataclass(frozen=True)
class BundleEntry:
    """One tensor's ``BundleEntryProto``: TF dtype enum, shape, shard, byte range, masked crc."""

    dtype: int
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c: int
    sliced: bool

    @classmethod
    def parse(cls, buf: bytes) -> BundleEntry:
        f = {"dtype": 0, "shape": (), "shard_id": 0, "offset": 0, "size": 0, "crc32c": 0}
        sliced = False
        for number, value in _fields(buf):
            if number == 1:
                f["dtype"] = value
            elif number == 2:
                f["shape"] = _parse_shape(value)
            elif number in (3, 4, 5):
                f[("shard_id", "offset", "size")[number - 3]] = _signed64(value)
            elif number == 6:
                f["crc32c"] = value
            elif number == 7:
                sliced = True
        return cls(sliced=sliced, **f)


def _parse_shape(buf: bytes) -> tuple[int, ...]:
    dims = []
    for number, value in _fields(buf):
        if number == 2:  # Dim {int64 size = 1; string name = 2}
            sizes = [_signed64(v) for n, v in _fields(value) if n == 1]
            dims.append(sizes[0] if sizes else 0)
        elif number == 3 and value:
            raise ValueError("a tensor of unknown rank")
    return tuple(dims)


def _read_block(data: bytes, offset: int, size: int, where: str) -> bytes:
    end = offset + size + _BLOCK_TRAILER
    if end > len(data):
        raise ValueError(f"{where}: a block ends at byte {end}, past the end of the file")
    block = data[offset : offset + size]
    kind = data[offset + size]
    stored = struct.unpack_from("<I", data, offset + size + 1)[0]
    if masked_crc32c(crc32c(data[offset : offset + size + 1])) != stored:
        raise ValueError(f"{where}: the block at byte {offset} fails its crc32c check (corrupt)")
    if kind != 0:
        raise ValueError(
            f"{where}: block at byte {offset} is compressed (type {kind}, 1 = snappy); only "
            "uncompressed tables (what TensorFlow writes) are supported"
        )
    return block


def _block_entries(block: bytes, where: str) -> list[tuple[bytes, bytes]]:
    """The ``(key, value)`` pairs of a table block (keys are prefix-compressed)."""
    if len(block) < 4:
        raise ValueError(f"{where}: a table block of {len(block)} bytes")
    n_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * n_restarts
    out, pos, key = [], 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        value_len, pos = _varint(block, pos)
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        out.append((key, block[pos : pos + value_len]))
        pos += value_len
    return out


def read_table(path: str | os.PathLike) -> list[tuple[bytes, bytes]]:
    """Every ``(key, value)`` of a leveldb-format table file, in key order."""
    with open(path, "rb") as f:
        data = f.read()
    where = os.fspath(path)
    if len(data) < _FOOTER_SIZE:
        raise ValueError(f"{where}: {len(data)} bytes is too short for a table file")
    footer = data[-_FOOTER_SIZE:]
    if struct.unpack_from("<Q", footer, 40)[0] != _TABLE_MAGIC:
        raise ValueError(f"{where}: not a TensorFlow checkpoint index (bad table magic number)")
    _, pos = _varint(footer, 0)  # metaindex handle (unused)
    _, pos = _varint(footer, pos)
    index_offset, pos = _varint(footer, pos)
    index_size, _ = _varint(footer, pos)
    entries = []
    for _, handle in _block_entries(_read_block(data, index_offset, index_size, where), where):
        offset, p = _varint(handle, 0)
        size, _ = _varint(handle, p)
        entries.extend(_block_entries(_read_block(data, offset, size, where), where))
    return entries


# -- the bundle ---------------------------------------------------------------------------------
class TensorBundle:
    """A TF checkpoint ``prefix`` (``prefix.index`` and its ``prefix.data-*`` shards).

    ``bundle.keys()`` lists the tensor names, ``bundle.entries[name]`` their
    :class:`BundleEntry`, ``bundle.read(name)`` returns one tensor as a numpy array (strings as
    a numpy object array of ``bytes``) after checking its crc32c.

    Raises (at construction): FileNotFoundError for a missing ``.index`` or shard, ValueError
    for a corrupt index or a big-endian bundle. (:meth:`read`): ValueError for a crc32c
    mismatch or a truncated shard, TypeError for a dtype numpy cannot hold (bfloat16,
    quantized, resource, variant) or a partitioned (sliced) variable.
    """

    def __init__(self, prefix: str | os.PathLike):
        self.prefix = os.fspath(prefix)
        index = self.prefix + ".index"
        if not os.path.isfile(index):
            raise FileNotFoundError(f"TensorBundle: no checkpoint index {index!r}")
        self.num_shards = 1
        self.entries: dict[str, BundleEntry] = {}
        for key, value in read_table(index):
            if key == b"":
                self._parse_header(value, index)
            else:
                self.entries[key.decode("utf-8")] = BundleEntry.parse(value)
        missing = [p for p in self.shard_paths() if not os.path.isfile(p)]
        if missing:
            raise FileNotFoundError(
                f"TensorBundle: checkpoint {self.prefix!r} lacks data shard(s) {missing}"
            )

    def _parse_header(self, value: bytes, where: str) -> None:
        for number, v in _fields(value):
            if number == 1:
                self.num_shards = v
            elif number == 2 and v != 0:
                raise ValueError(f"{where}: a big-endian checkpoint is not supported")

    def shard_paths(self) -> list[str]:
        n = self.num_shards
        return [f"{self.prefix}.data-{i:05d}-of-{n:05d}" for i in range(n)]

    def keys(self) -> list[str]:
        return list(self.entries)

    def _raw(self, name: str, entry: BundleEntry) -> bytes:
        path = self.shard_paths()[entry.shard_id]
        with open(path, "rb") as f:
            f.seek(entry.offset)
            raw = f.read(entry.size)
        if len(raw) != entry.size:
            raise ValueError(
                f"TensorBundle: {name!r} needs bytes {entry.offset}..{entry.offset + entry.size}"
                f" of {path!r}, which has only {os.path.getsize(path)} (truncated shard)"
            )
        return raw

    def read(self, name: str) -> Any:
        """The tensor ``name`` as a numpy array of its shape (crc32c checked)."""
        if name not in self.entries:
            raise KeyError(f"TensorBundle: no tensor {name!r} in {self.prefix!r}")
        entry = self.entries[name]
        if entry.sliced:
            raise TypeError(f"TensorBundle: {name!r} is a partitioned (sliced) variable")
        if entry.dtype != _DT_STRING and entry.dtype not in _DTYPES:
            kind = _DTYPE_NAMES.get(entry.dtype, f"enum {entry.dtype}")
            raise TypeError(f"TensorBundle: {name!r} has the unsupported dtype {kind}")
        raw = self._raw(name, entry)
        if masked_crc32c(_tensor_crc(raw, entry)) != entry.crc32c:
            raise ValueError(
                f"TensorBundle: {name!r} fails its crc32c check in {self.prefix!r} (corrupt data)"
            )
        if entry.dtype == _DT_STRING:
            return _parse_strings(raw, entry.shape)
        dtype = _DTYPES[entry.dtype]
        return np.frombuffer(raw, dtype).reshape(entry.shape).astype(dtype.newbyteorder("="))

    def read_all(self) -> dict[str, Any]:
        return {name: self.read(name) for name in self.entries}


def _string_lengths(raw: bytes, count: int) -> tuple[list[int], int]:
    lengths, pos = [], 0
    for _ in range(count):
        n, pos = _varint(raw, pos)
        lengths.append(n)
    return lengths, pos


def _tensor_crc(raw: bytes, entry: BundleEntry) -> int:
    """crc32c as TF computes it: of the bytes, except for strings, where each length enters as
    a little-endian uint32 (uint64 above 2**32 - 1), then the 4 checksum bytes and the strings."""
    if entry.dtype != _DT_STRING:
        return crc32c(raw)
    lengths, pos = _string_lengths(raw, int(np.prod(entry.shape, dtype=np.int64)))
    packed = b"".join(struct.pack("<I" if n <= 0xFFFFFFFF else "<Q", n) for n in lengths)
    return crc32c(raw[pos:], crc32c(packed))


def _parse_strings(raw: bytes, shape: tuple[int, ...]) -> np.ndarray:
    lengths, pos = _string_lengths(raw, int(np.prod(shape, dtype=np.int64)))
    pos += 4  # masked checksum of the lengths (covered by the tensor's crc)
    out = np.empty(len(lengths), object)
    for i, n in enumerate(lengths):
        out[i] = raw[pos : pos + n]
        pos += n
    return out.reshape(shape)
