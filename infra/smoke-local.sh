#!/usr/bin/env bash
# A deploy rehearsal with no AWS account: translates template.yaml offline with the SAM
# translator (infra/sam-translate.py), lints the result, creates it as a CloudFormation stack on a
# local ministack (127.0.0.1 only), checks the pieces that matter (queue redrive, the worker's
# event source mapping, schedules, alarms, outputs), deletes the stack and stops ministack.
#
#   infra/smoke-local.sh
#
# ministack has no Aurora DSQL or AWS Budgets resources: the rehearsal drops the budget and puts
# a placeholder endpoint and ARN where the template reads the cluster's. Function code is a
# placeholder too: this checks the wiring, not the Rust (the tests do that).
#
# Uses scripts/setup's .venv (ministack, cfn-lint) and its own venv under .run/ for the SAM
# translator (which wants a botocore that ministack's pin does not allow). Not part of the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'smoke-local: %s\n' "$*" >&2; }

scripts/setup
translator_venv=.run/sam-translator-venv
if [ ! -x "$translator_venv/bin/python" ]; then
  say "installing the SAM translator into $translator_venv"
  python3 -m venv "$translator_venv"
  "$translator_venv/bin/pip" install --quiet --disable-pip-version-check 'aws-sam-translator==1.115.0' 'cfn-lint==1.58.0'
fi

work=$(mktemp -d)
ministack_pid=
cleanup() {
  if [ -n "$ministack_pid" ]; then
    kill "$ministack_pid" 2>/dev/null || true
    wait "$ministack_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

say "translating template.yaml"
"$translator_venv/bin/python" infra/sam-translate.py template.yaml >"$work/translated.json"
"$translator_venv/bin/cfn-lint" "$work/translated.json"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
say "starting ministack on 127.0.0.1:$port"
BIND_HOST=127.0.0.1 GATEWAY_PORT=$port .venv/bin/ministack >"$work/ministack.log" 2>&1 &
ministack_pid=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/_ministack/health" >/dev/null && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$port/_ministack/health" >/dev/null || {
  cat "$work/ministack.log" >&2
  say "ministack did not start"
  exit 1
}

.venv/bin/python - "http://127.0.0.1:$port" "$work/translated.json" <<'PY'
import io
import json
import sys
import time
import zipfile

import botocore.session

endpoint, path = sys.argv[1], sys.argv[2]
session = botocore.session.get_session()
options = dict(region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test")
client = lambda name: session.create_client(name, **options)
cfn, s3, sqs, lam, scheduler, cloudwatch = (
    client(n) for n in ("cloudformation", "s3", "sqs", "lambda", "scheduler", "cloudwatch")
)
failures = []

def check(ok, what):
    print(("ok      " if ok else "FAILED  ") + what)
    if not ok:
        failures.append(what)

template = json.load(open(path))
missing = {k for k, r in template["Resources"].items() if r["Type"] in {"AWS::Budgets::Budget", "AWS::DSQL::Cluster"}}
for k in missing:
    del template["Resources"][k]
stand_ins = {
    "Endpoint": "local0000000000000000000000.dsql.us-east-1.on.aws",
    "ResourceArn": "arn:aws:dsql:us-east-1:000000000000:cluster/local0000000000000000000000",
}

def swap(v):
    if isinstance(v, dict):
        if list(v) == ["Fn::GetAtt"] and v["Fn::GetAtt"][0] in missing:
            return stand_ins[v["Fn::GetAtt"][1]]
        return {k: swap(x) for k, x in v.items()}
    if isinstance(v, list):
        return [swap(x) for x in v]
    return v

template = swap(template)
for r in template["Resources"].values():
    if r.get("DependsOn") in missing:
        del r["DependsOn"]

s3.create_bucket(Bucket="backroom-local-artifacts")
placeholder = io.BytesIO()
with zipfile.ZipFile(placeholder, "w") as z:
    z.writestr("bootstrap", "#!/bin/sh\nexit 1\n")
for r in template["Resources"].values():
    if r["Type"] == "AWS::Lambda::Function":
        code = r["Properties"]["Code"]
        s3.put_object(Bucket=code["S3Bucket"], Key=code["S3Key"], Body=placeholder.getvalue())

stack = "backroom-smoke"
cfn.create_stack(
    StackName=stack,
    TemplateBody=json.dumps(template),
    Capabilities=["CAPABILITY_IAM"],
    Parameters=[
        {"ParameterKey": "StorefrontOrigin", "ParameterValue": "https://shop.example.com"},
        {"ParameterKey": "OpsEmail", "ParameterValue": "owner@example.com"},
        {"ParameterKey": "SecurityPhone", "ParameterValue": "+15555550100"},
    ],
)
for _ in range(240):
    status = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    if not status["StackStatus"].endswith("IN_PROGRESS"):
        break
    time.sleep(0.25)
for event in cfn.describe_stack_events(StackName=stack)["StackEvents"]:
    if "FAILED" in event.get("ResourceStatus", ""):
        print("        ", event["LogicalResourceId"], event.get("ResourceStatusReason"))
check(status["StackStatus"] == "CREATE_COMPLETE", f"stack created ({status['StackStatus']})")
outputs = {o["OutputKey"]: o["OutputValue"] for o in status.get("Outputs", [])}
want = {"ApiUrl", "StripeWebhookUrl", "PrintfulWebhookUrl", "EventsQueueUrl", "DeadLetterQueueUrl",
        "DeadLetterQueueArn", "OpsTopicArn", "SecurityTopicArn", "ClusterEndpoint", "DatabaseRoleArns",
        "ReconcilerFunctionName"}
check(want <= set(outputs), "every documented output exists")

if status["StackStatus"] == "CREATE_COMPLETE":
    attributes = sqs.get_queue_attributes(QueueUrl=outputs["EventsQueueUrl"], AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attributes.get("RedrivePolicy", "{}"))
    check(str(redrive.get("maxReceiveCount")) == "5" and redrive.get("deadLetterTargetArn") == outputs["DeadLetterQueueArn"],
          "events queue redrives to the DLQ after 5 receives")
    mappings = lam.list_event_source_mappings(FunctionName=f"{stack}-event-worker")["EventSourceMappings"]
    check(len(mappings) == 1 and mappings[0].get("FunctionResponseTypes") == ["ReportBatchItemFailures"]
          and mappings[0].get("BatchSize") == 10, "the worker consumes the queue, reporting batch item failures")
    names = {s["Name"] for s in scheduler.list_schedules()["Schedules"]}
    check({f"{stack}-stripe-catchup", f"{stack}-printful-catchup", f"{stack}-reconciler"} <= names,
          "the catch-ups and the reconciler are scheduled")
    alarms = [a for a in cloudwatch.describe_alarms()["MetricAlarms"] if a["AlarmName"].startswith(stack + "-")]
    check(0 < len(alarms) <= 10 and all(a["AlarmActions"] for a in alarms), f"{len(alarms)} alarms, each with an action")
    cfn.delete_stack(StackName=stack)

print(f"{len(failures)} failed" if failures else "all checks passed")
sys.exit(1 if failures else 0)
PY
