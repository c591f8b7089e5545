#!/usr/bin/env bash
# A deploy rehearsal with no AWS account: translates template.yaml offline with the SAM
# translator (infra/sam-translate.py), lints the result, creates it as a CloudFormation stack on a
# local ministack (127.0.0.1 only), checks the pieces that matter (queue redrive, the worker's
# event source mapping, schedules, alarms, outputs), deletes the stack and stops ministack.
#
#   infra/smoke-local.sh
#
# ministack has no Aurora DSQL, AWS Budgets or EventBridge archive resources: the rehearsal drops
# them and puts a placeholder endpoint and ARN where the template reads the cluster's. Function
# code is a placeholder too: this checks the wiring, not the Rust (infra/rehearse-local.sh runs
# the real functions on the same stack).
#
# The parts shared with infra/rehearse-local.sh are infra/local-stack.sh (tools, translation,
# ministack) and infra/local_stack.py (the template made local, the stack, the wiring checks).
# Not part of the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'smoke-local: %s\n' "$*" >&2; }

. infra/local-stack.sh
local_stack_tools

work=$(mktemp -d)
cleanup() {
  local_stack_stop
  rm -rf "$work"
}
trap cleanup EXIT

local_stack_translate "$work/translated.json"
local_stack_start "$work"

.venv/bin/python - "$ministack_endpoint" "$work/translated.json" <<'PY'
import json
import sys

sys.path.insert(0, "infra")
from local_stack import Checks, bootstrap_zip, check_wiring, clients, create_stack, localize, upload_code

endpoint, path = sys.argv[1], sys.argv[2]
cfn, s3 = clients(endpoint, "cloudformation", "s3")
check = Checks()

template = localize(json.load(open(path)))
placeholder = bootstrap_zip(b"#!/bin/sh\nexit 1\n")
upload_code(s3, template, lambda name: placeholder)

stack = "backroom-smoke"
outputs = create_stack(endpoint, stack, template, check)
if outputs is not None:
    check_wiring(endpoint, stack, outputs, check)
    cfn.delete_stack(StackName=stack)

sys.exit(check.exit_code())
PY
