"""The Python Mobject client against a running server (URL in argv[1]): op lists, RADOS
errnos, omap, and an object the TypeScript client wrote (`from-ts` in pool `p`, bytes
0..99). Prints one 'ok NAME' line per check."""

import sys

import strata
from _checks import raises
from strata import mobject

io = mobject.Client(sys.argv[1]).open_ioctx("p")

io.operate_write_op(mobject.WriteOp().create(True).write_full(b"hello").set_omap(["a", "b"], [b"1", b"2"]), "obj")
e = raises(strata.ConflictError, io.operate_write_op, mobject.WriteOp().append(b"!!").create(True), "obj")
assert e.errno == mobject.EEXIST and e.op == 1, (e.errno, e.op)
assert io.read("obj") == b"hello"
size, mtime = io.stat("obj")
assert size == 5 and mtime > 0
print("ok op-lists")

e = raises(strata.NotFoundError, io.stat, "missing")
assert e.errno == mobject.ENOENT
e = raises(strata.InvalidRequestError, io.operate_write_op, mobject.WriteOp().writesame(b"abc", 4), "obj")
assert e.errno == mobject.EINVAL
print("ok errnos")

io.write("obj", b"XY", 1)
io.append("obj", b"!")
assert io.read("obj", 100) == b"hXYlo!"
io.trunc("obj", 2)
io.operate_write_op(mobject.WriteOp().writesame(b"four", 8, 4), "obj")
assert io.read("obj") == b"hX\0\0fourfour"
stat, data, (vals, more), (keys, _) = io.operate_read_op(
    mobject.ReadOp().stat().read(4, 4).get_omap_vals(prefix="a").get_omap_keys(), "obj")
assert stat["size"] == 12 and data == b"four" and vals == {"a": b"1"} and not more
assert keys == ["a", "b"]
print("ok bytes-omap")

assert io.read("from-ts", 200) == bytes(range(100))
io.remove_object("obj")
raises(strata.NotFoundError, io.read, "obj")
assert io.list_objects() == ["from-ts"]
io.write_full("from-py", bytes(range(50)))
print("ok interop")
