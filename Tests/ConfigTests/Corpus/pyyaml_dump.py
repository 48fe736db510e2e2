#!/usr/bin/env python3
"""Reference for the differential tests of the Swift YAML reader.

Reads a JSON array of YAML texts on stdin and writes a JSON array with one
result per text: {"ok": [doc, ...]} or {"error": "..."}. Each doc is what
PyYAML's safe_load_all gives, normalised the way our reader documents its
output: timestamps are not resolved (they stay strings), null documents are
skipped, mapping keys become JSON key strings, and non-finite floats become
".inf", "-.inf", ".nan".
"""
import json
import math
import sys

try:
    import yaml
except ImportError:
    sys.stderr.write("PyYAML is missing: run scripts/install-deps.sh test\n")
    sys.exit(3)


class Loader(yaml.SafeLoader):
    pass


# Timestamps stay strings (documented deviation of the Swift reader).
Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for (tag, rx) in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def fl(x):
    if math.isnan(x):
        return ".nan"
    if math.isinf(x):
        return ".inf" if x > 0 else "-.inf"
    return x


def key(k):
    if k is None:
        return "null"
    if k is True:
        return "true"
    if k is False:
        return "false"
    if isinstance(k, float):
        v = fl(k)
        return v if isinstance(v, str) else repr(v)
    if isinstance(k, (int, str)):
        return str(k)
    raise TypeError("unsupported key type %s" % type(k).__name__)


def norm(v):
    if isinstance(v, dict):
        return {key(k): norm(x) for k, x in v.items()}
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, float):
        return fl(v)
    if isinstance(v, (str, int, bool)) or v is None:
        return v
    raise TypeError("unsupported value type %s" % type(v).__name__)


def run(text):
    try:
        docs = [norm(d) for d in yaml.load_all(text, Loader=Loader)]
        return {"ok": [d for d in docs if d is not None]}
    except Exception as e:  # every PyYAML failure is just "rejected"
        return {"error": str(e).splitlines()[0] if str(e) else type(e).__name__}


def main():
    if len(sys.argv) > 1:
        texts = [open(p, encoding="utf-8", newline="").read() for p in sys.argv[1:]]
    else:
        texts = json.load(sys.stdin)
    json.dump([run(t) for t in texts], sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
