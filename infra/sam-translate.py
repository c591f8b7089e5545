#!/usr/bin/env python3
"""Translates template.yaml offline into the plain CloudFormation that the SAM transform makes.

    python infra/sam-translate.py [TEMPLATE] > translated.json

Needs the Python packages aws-sam-translator and cfn-lint (cfn-lint's YAML loader reads the
!Ref/!Sub/!GetAtt tags). No AWS credentials and no network: CodeUri values are replaced by a
placeholder S3 location, as `sam package` would replace them by real ones. Used by
infra/smoke-local.sh, and useful to see what SAM makes of the template (roles, permissions,
event source mappings, schedules, routes) without deploying it.
"""

import json
import os
import sys

from cfnlint.decode import decode_str
from samtranslator.translator.transform import transform


class NoManagedPolicies:
    """The template names no AWS managed policies, so nothing needs looking up."""

    def load(self):
        return {}


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else "template.yaml"
    with open(path, encoding="utf-8") as f:
        template, errors = decode_str(f.read())
    if errors:
        for e in errors:
            print(e, file=sys.stderr)
        return 1
    # Plain dicts and strings, without the loader's position-tracking node types.
    template = json.loads(json.dumps(template))
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            props = resource.setdefault("Properties", {})
            name = os.path.basename(str(props.get("CodeUri", "function")).rstrip("/"))
            props["CodeUri"] = f"s3://backroom-local-artifacts/{name}.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    parameters = {
        "StorefrontOrigin": "https://shop.example.com",
        "OpsEmail": "owner@example.com",
    }
    translated = transform(template, parameters, NoManagedPolicies())
    json.dump(translated, sys.stdout, indent=1, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
