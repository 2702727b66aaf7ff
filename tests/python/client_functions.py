"""Functions, aliases and pipelines from Python (URL and the histogram source in argv)."""

import json
import sys

import numpy as np

import strata

url, source_path = sys.argv[1], sys.argv[2]
c = strata.connect(url)
N = 64
c.create_dataset("particles", f"""
dataset particles {{
  type Particle struct {{ x, y, z float64; ux, uy, uz, w float32; id int64 }}
  var p [{N}]Particle
}}
fragment ranks(lo, hi) {{ var p = p[lo:hi] }}
""", retention=3)
layout = c.layout("particles", "ranks", {"lo": 0, "hi": N // 2})
for lo in (0, N // 2):
    part = strata.view(layout, np.zeros(layout["byteLength"], np.uint8))
    part["ux"] = 0.5
    c.publish("particles", 1, "ranks", part, params={"lo": lo, "hi": lo + N // 2})

source = open(source_path).read()
v1 = c.deploy("histogram", source, aliases=["prod"])
assert v1["version"] == 1
c.set_alias("histogram", "stable", 1)
aliases = c.describe_function("histogram")["aliases"]
inv = c.invoke("histogram", "particles", each=True, use="stable", args={"bins": 4, "max": 2})
assert inv["calls"] == 2 and inv["value"]["total"] == N, inv
c.delete_alias("histogram", "stable")
try:
    c.invoke("histogram", "particles", use="stable")
except strata.StrataError as e:
    missing = e.code
pipe = c.put_pipeline("energy", "particles", "histogram", use="prod")
got = c.pipeline("energy")
c.delete_pipeline("energy")
print(json.dumps({
    "version": v1["version"], "aliases": aliases, "counts": inv["value"]["counts"],
    "missing": missing, "pipeline": got["name"] if "name" in got else pipe.get("name"),
    "pipelines": [p.get("name") for p in c.pipelines()],
}))
