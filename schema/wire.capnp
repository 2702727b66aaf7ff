# The Strata data plane: fragment transfer between runtimes over raw TCP.
# docs/wire.md specifies the protocol; src/wire/gen/wire.ts is generated from
# this file by `deno task schema` and checked in (CI fails when it is stale).
@0xbf2acb3ea5bb0185;

# One axis of a slot: fragment dimension k walks variable dimension `dim`.
struct Axis {
  dim @0 :UInt32;
  step @1 :UInt64;
  count @2 :UInt64;
}

# Where one leaf field of the element lives in the buffer.
struct FieldSlot {
  path @0 :Text;
  type @1 :Text;
  count @2 :UInt32;
  offset @3 :UInt64;
  strides @4 :List(Int64);
}

# A region of one dataset variable stored in the buffer.
struct VarSlot {
  name @0 :Text;
  variable @1 :Text;
  origin @2 :List(Int64);
  axes @3 :List(Axis);
  fields @4 :List(FieldSlot);
}

# The physical layout of a buffer (src/transform/layout.ts).
struct Layout {
  byteLength @0 :UInt64;
  slots @1 :List(VarSlot);
}

# One region parameter of a fragment.
struct Binding {
  name @0 :Text;
  value @1 :Int64;
}

# A stored fragment copy, as the name server recorded it.
struct Copy {
  dataset @0 :Text;
  version @1 :UInt64;
  fragment @2 :Text;
  region @3 :List(Binding);
  layout @4 :Layout;
  byteLength @5 :UInt64;
  checksum @6 :UInt32;
}

# First frame each way on a connection.
struct Hello {
  protocol @0 :UInt32;
  node @1 :Text;
  token @2 :Text;
}

# Asks for the bytes of `copy` laid out as `want` (a plan from the copy's
# layout to `want` runs at the source; `want` equal to the copy's layout sends
# the stored bytes as they are).
struct Fetch {
  id @0 :UInt32;
  copy @1 :Copy;
  want @2 :Layout;
}

# Precedes exactly `byteLength` payload bytes whose CRC-32 is `checksum`.
struct Header {
  id @0 :UInt32;
  dataset @1 :Text;
  version @2 :UInt64;
  fragment @3 :Text;
  region @4 :List(Binding);
  layout @5 :Layout;
  byteLength @6 :UInt64;
  checksum @7 :UInt32;
}

# A request that could not be answered; no payload follows.
struct Failure {
  id @0 :UInt32;
  code @1 :Text;
  message @2 :Text;
  # The error's fields as a JSON object (`{}` or empty when it has none), so
  # that the receiver rebuilds the same error class with the same data.
  fields @3 :Text;
}

# Every message on the wire is one Frame in Cap'n Proto's stream framing.
struct Frame {
  union {
    hello @0 :Hello;
    fetch @1 :Fetch;
    header @2 :Header;
    failure @3 :Failure;
  }
}
