"""The stack on a local ministack, shared by infra/smoke-local.sh and infra/rehearse-local.sh.

Imported by their Python parts (run with scripts/setup's .venv, which has botocore):
`localize` makes the translated template something ministack can create, `upload_code` puts
the functions' zips where the translated template's Code points, `create_stack` creates the
stack and waits, `Checks` counts what failed.
"""

import io
import json
import time
import zipfile

import botocore.config
import botocore.session

REGION = "us-east-1"
STACK_PARAMETERS = {
    "StorefrontOrigin": "https://shop.example.com",
    "OpsEmail": "owner@example.com",
    "SecurityPhone": "+15555550100",
}

# ministack has none of these: they are dropped, and what reads them gets stand-ins (the
# cluster's attributes below; a Ref gets the resource's logical id).
MISSING_TYPES = {"AWS::Budgets::Budget", "AWS::DSQL::Cluster", "AWS::Events::Archive"}
STAND_INS = {
    "Endpoint": "local0000000000000000000000.dsql.us-east-1.on.aws",
    "ResourceArn": "arn:aws:dsql:us-east-1:000000000000:cluster/local0000000000000000000000",
}


def clients(endpoint, *names):
    session = botocore.session.get_session()
    options = dict(
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        # An invocation may take minutes (a cold debug build); one that timed out is never
        # sent again.
        config=botocore.config.Config(read_timeout=900, retries={"total_max_attempts": 1}),
    )
    return tuple(session.create_client(n, **options) for n in names)


def localize(template):
    """The translated template without the resources ministack lacks."""
    missing = {k for k, r in template["Resources"].items() if r["Type"] in MISSING_TYPES}
    for k in missing:
        del template["Resources"][k]

    def swap(v):
        if isinstance(v, dict):
            if list(v) == ["Fn::GetAtt"] and v["Fn::GetAtt"][0] in missing:
                return STAND_INS[v["Fn::GetAtt"][1]]
            if list(v) == ["Ref"] and v["Ref"] in missing:
                return v["Ref"]
            return {k: swap(x) for k, x in v.items()}
        if isinstance(v, list):
            return [swap(x) for x in v]
        return v

    template = swap(template)
    for r in template["Resources"].values():
        if r.get("DependsOn") in missing:
            del r["DependsOn"]
    return template


def functions(template):
    """The template's functions: {code name (the lambdas/ crate): resource}."""
    found = {}
    for r in template["Resources"].values():
        if r["Type"] == "AWS::Lambda::Function":
            key = r["Properties"]["Code"]["S3Key"]
            found[key.removesuffix(".zip")] = r
    return found


def bootstrap_zip(data, mode=0o755):
    """A zip holding one executable file named bootstrap, as Lambda's provided runtimes want.
    Compressed fast (level 1): a debug build is about 100 MB, and this zip never leaves the machine."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = (0o100000 | mode) << 16
        z.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=1)
    return out.getvalue()


def upload_code(s3, template, code_of):
    """Puts each function's zip (code_of(name) -> bytes) where its Code points."""
    buckets = set()
    for name, r in functions(template).items():
        code = r["Properties"]["Code"]
        if code["S3Bucket"] not in buckets:
            s3.create_bucket(Bucket=code["S3Bucket"])
            buckets.add(code["S3Bucket"])
        s3.put_object(Bucket=code["S3Bucket"], Key=code["S3Key"], Body=code_of(name))


def create_stack(endpoint, stack, template, check):
    """Creates the stack and waits; returns its outputs, or None when it was not created.

    The template goes through S3 (TemplateURL), as `sam deploy` sends it: it is larger than
    the 51,200 bytes CreateStack takes inline."""
    cfn, s3 = clients(endpoint, "cloudformation", "s3")
    bucket = "backroom-local-templates"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=f"{stack}.json", Body=json.dumps(template).encode())
    cfn.create_stack(
        StackName=stack,
        TemplateURL=f"{endpoint}/{bucket}/{stack}.json",
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in STACK_PARAMETERS.items()],
    )
    for _ in range(480):
        status = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        if not status["StackStatus"].endswith("IN_PROGRESS"):
            break
        time.sleep(0.25)
    for event in cfn.describe_stack_events(StackName=stack)["StackEvents"]:
        if "FAILED" in event.get("ResourceStatus", ""):
            print("        ", event["LogicalResourceId"], event.get("ResourceStatusReason"))
    created = status["StackStatus"] == "CREATE_COMPLETE"
    check(created, f"stack created ({status['StackStatus']})")
    if not created:
        return None
    return {o["OutputKey"]: o["OutputValue"] for o in status.get("Outputs", [])}


class Checks:
    """Prints each check as it is made and remembers the failed ones."""

    def __init__(self):
        self.failures = []

    def __call__(self, ok, what, detail=None):
        print(("ok      " if ok else "FAILED  ") + what, flush=True)
        if not ok:
            if detail:
                print("\n".join("        " + line for line in str(detail).rstrip().splitlines()), flush=True)
            self.failures.append(what)
        return ok

    def exit_code(self):
        print(f"{len(self.failures)} failed" if self.failures else "all checks passed", flush=True)
        return 1 if self.failures else 0


# The public functions, each behind the distribution's behaviour for a path (None: the default).
PUBLIC_ROUTES = {"checkout-api": None, "stripe-webhook": "/webhooks/stripe", "printful-webhook": "/webhooks/printful/*"}


def url_host(url):
    """The host of a function URL (https://<id>.lambda-url.<region>.on.aws/)."""
    return url.split("/")[2]


def check_front_door(endpoint, stack, outputs, check):
    """Each public function has a public URL, and the distribution sends each path to its URL."""
    lam, cloudfront = clients(endpoint, "lambda", "cloudfront")
    hosts = {}
    for name in PUBLIC_ROUTES:
        try:
            config = lam.get_function_url_config(FunctionName=f"{stack}-{name}")
        except Exception as e:  # noqa: BLE001 - reported as the failed check
            check(False, f"{name} has a function URL", e)
            continue
        hosts[name] = url_host(config["FunctionUrl"])
        check(config["AuthType"] == "NONE" and not config.get("Cors"),
              f"{name} has a public function URL without CORS of its own", config)
    dist = cloudfront.get_distribution(Id=outputs["DistributionId"])["Distribution"]
    check(outputs["ApiUrl"] == f"https://{dist['DomainName']}/", "ApiUrl is the distribution's domain",
          f"{outputs['ApiUrl']} vs {dist['DomainName']}")
    config = dist["DistributionConfig"]
    origins = {o["Id"]: o["DomainName"] for o in config["Origins"]["Items"]}
    routes = {None: config["DefaultCacheBehavior"]["TargetOriginId"]}
    for b in config.get("CacheBehaviors", {}).get("Items", []):
        routes[b["PathPattern"]] = b["TargetOriginId"]
    wrong = {name: origins.get(routes.get(path)) for name, path in PUBLIC_ROUTES.items()
             if origins.get(routes.get(path)) != hosts.get(name)}
    check(not wrong and len(routes) == 3, "the distribution routes each path to its function's URL",
          f"routes {routes}, origins {origins}, URLs {hosts}")
    return dist["DomainName"]


def check_wiring(endpoint, stack, outputs, check):
    """The pieces that matter: outputs, the front door, queue redrive, the worker's mapping,
    schedules, alarms."""
    sqs, lam, scheduler, cloudwatch = clients(endpoint, "sqs", "lambda", "scheduler", "cloudwatch")
    want = {"ApiUrl", "StripeWebhookUrl", "PrintfulWebhookUrl", "DistributionId", "EventsQueueUrl",
            "DeadLetterQueueUrl", "DeadLetterQueueArn", "OpsTopicArn", "SecurityTopicArn", "ClusterEndpoint",
            "DatabaseRoleArns", "ReconcilerFunctionName"}
    check(want <= set(outputs), "every documented output exists", sorted(want - set(outputs)))
    if "DistributionId" in outputs:
        check_front_door(endpoint, stack, outputs, check)
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
