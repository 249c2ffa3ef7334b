"""An independent TFRecord and tf.train.Example reader, written from the
formats' public descriptions (not from stratad's code), so the export tests
check stratad's bytes against the formats themselves.

TFRecord framing, per record:
    uint64 length (little-endian)
    uint32 masked_crc32c(length bytes)
    bytes  data[length]
    uint32 masked_crc32c(data)
with masked(crc) = ((crc >> 15 | crc << 17) + 0xa282ead8) mod 2^32 and CRC-32C
(Castagnoli, reflected polynomial 0x82F63B78).

tf.train.Example (tensorflow/core/example/example.proto, feature.proto):
    Example  { Features features = 1; }
    Features { map<string, Feature> feature = 1; }   // entries {key = 1, value = 2}
    Feature  { oneof kind { BytesList bytes_list = 1; FloatList float_list = 2;
                            Int64List int64_list = 3; } }
    BytesList { repeated bytes value = 1; }
    FloatList { repeated float value = 1 [packed = true]; }
    Int64List { repeated int64 value = 1 [packed = true]; }
A parser must accept packed and unpacked encodings of the numeric lists.
"""
import struct

_POLY = 0x82F63B78
_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ _POLY if _c & 1 else _c >> 1
    _TABLE.append(_c)


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = (crc >> 8) ^ _TABLE[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFFFFFF


def masked_crc(data):
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283
assert crc32c(bytes(32)) == 0x8A9136AA


class FormatError(ValueError):
    pass


def read_records(data):
    """Split a TFRecord file into record payloads, checking both CRCs."""
    out, i = [], 0
    while i < len(data):
        if len(data) - i < 12:
            raise FormatError("truncated length header at offset %d" % i)
        head = data[i:i + 8]
        (n,) = struct.unpack("<Q", head)
        (lcrc,) = struct.unpack("<I", data[i + 8:i + 12])
        if lcrc != masked_crc(head):
            raise FormatError("bad length CRC at offset %d" % i)
        if len(data) - i - 12 < n + 4:
            raise FormatError("truncated record at offset %d" % i)
        body = data[i + 12:i + 12 + n]
        (dcrc,) = struct.unpack("<I", data[i + 12 + n:i + 16 + n])
        if dcrc != masked_crc(body):
            raise FormatError("bad data CRC at offset %d" % i)
        out.append(body)
        i += 16 + n
    return out


def _varint(buf, i):
    shift = n = 0
    while True:
        if i >= len(buf):
            raise FormatError("truncated varint")
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        if not b & 0x80:
            return n, i
        shift += 7
        if shift > 63:
            raise FormatError("varint too long")


def _fields(buf):
    """Yield (field, wire_type, value) of one message."""
    i = 0
    while i < len(buf):
        k, i = _varint(buf, i)
        f, wt = k >> 3, k & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 2:
            n, i = _varint(buf, i)
            if i + n > len(buf):
                raise FormatError("truncated field")
            v, i = buf[i:i + n], i + n
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise FormatError("unsupported wire type %d" % wt)
        yield f, wt, v


def _signed64(n):
    return n - (1 << 64) if n >= 1 << 63 else n


def _feature(buf):
    kinds = {1: "bytes", 2: "float", 3: "int64"}
    result = None
    for f, wt, v in _fields(buf):
        if f not in kinds or wt != 2:
            raise FormatError("unexpected Feature field %d" % f)
        kind, values = kinds[f], []
        for lf, lwt, lv in _fields(v):
            if lf != 1:
                raise FormatError("unexpected list field %d" % lf)
            if kind == "bytes":
                values.append(bytes(lv))
            elif kind == "float":
                if lwt == 2:
                    values += [x for (x,) in struct.iter_unpack("<f", lv)]
                else:
                    values.append(struct.unpack("<f", lv)[0])
            else:
                if lwt == 2:
                    j = 0
                    while j < len(lv):
                        x, j = _varint(lv, j)
                        values.append(_signed64(x))
                else:
                    values.append(_signed64(lv))
        result = (kind, values)  # last one wins, as in protobuf
    if result is None:
        raise FormatError("empty Feature")
    return result


def parse_example(buf):
    """Example bytes → {name: (kind, [values])} with kind bytes|float|int64."""
    out = {}
    for f, wt, features in _fields(buf):
        if f != 1 or wt != 2:
            continue
        for ef, ewt, entry in _fields(features):
            if ef != 1 or ewt != 2:
                continue
            key, value = None, None
            for kf, kwt, kv in _fields(entry):
                if kf == 1:
                    key = bytes(kv).decode("utf-8")
                elif kf == 2:
                    value = _feature(kv)
            if key is None or value is None:
                raise FormatError("map entry without key or value")
            out[key] = value
    return out


def read_examples(data):
    return [parse_example(r) for r in read_records(data)]
