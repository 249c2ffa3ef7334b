"""A minimal protobuf wire-format encoder/decoder, written independently of
protoc-c so the tests check stratad against the wire format itself."""
import struct


def varint(n):
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wt):
    return varint(field << 3 | wt)


def ld(field, payload):
    return key(field, 2) + varint(len(payload)) + payload


def vint(field, n):
    return key(field, 0) + varint(n)


def fixed64(field, raw8):
    return key(field, 1) + raw8


def decode(buf):
    """Decode one message into {field: [values]}; varints as int, fixed64 as
    bytes, length-delimited as bytes."""
    out, i = {}, 0
    while i < len(buf):
        k, i = read_varint(buf, i)
        field, wt = k >> 3, k & 7
        if wt == 0:
            v, i = read_varint(buf, i)
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 2:
            n, i = read_varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("bad wire type %d" % wt)
        out.setdefault(field, []).append(v)
    return out


def read_varint(buf, i):
    shift = n = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def signed(n):
    return n - (1 << 64) if n >= 1 << 63 else n


# strata.v1.Value builders
def v_int64(n):
    return vint(2, n)


def v_double(x):
    return fixed64(3, struct.pack("<d", x))


def v_string(s):
    return ld(4, s.encode())


def v_double_array(xs):
    return ld(7, ld(1, b"".join(struct.pack("<d", x) for x in xs)))


def write_request(rows):
    """rows: [(entity_id, event_time_us, {feature: encoded Value bytes})]"""
    out = b""
    for eid, et, values in rows:
        row = ld(1, eid.encode()) + (vint(2, et) if et else b"")
        for name, val in values.items():
            row += ld(4, ld(1, name.encode()) + ld(2, val))
        out += ld(1, row)
    return out


def read_request(entity, ids, features):
    return (ld(1, entity.encode()) + b"".join(ld(2, i.encode()) for i in ids)
            + b"".join(ld(3, f.encode()) for f in features))
