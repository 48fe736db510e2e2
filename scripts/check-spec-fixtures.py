#!/usr/bin/env python3
# The request bodies the Go VK really sends (Tests/ServerTests/Fixtures, captured
# from its encoding/json) are valid under docs/openapi.yaml: the spec does not
# refuse what the real client sends. Run from the repository root.
import json, sys, yaml
from openapi_schema_validator import OAS31Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
spec = yaml.safe_load(open("docs/openapi.yaml"))
registry = Registry().with_resource("urn:spec", Resource.from_contents(spec, default_specification=DRAFT202012))
checks = [("vk-create.json", "PodCreateRequests", False), ("vk-delete.json", "PodWithUID", False),
          ("vk-status.json", "PodWithUID", True), ("vk-getlogs.json", "LogStruct", False)]
bad = 0
for name, schema, array in checks:
    body = json.load(open("Tests/ServerTests/Fixtures/" + name))
    ref = {"$ref": "urn:spec#/components/schemas/" + schema}
    validator = OAS31Validator({"type": "array", "items": ref} if array else ref, registry=registry)
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
    for e in errors[:5]:
        print(f"  {name}: {'/'.join(map(str, e.path))}: {e.message[:200]}")
    bad += len(errors)
    print(f"{name} against {schema}{'[]' if array else ''}: {'ok' if not errors else str(len(errors)) + ' errors'}")
sys.exit(1 if bad else 0)
