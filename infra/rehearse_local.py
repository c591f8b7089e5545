"""The checks of infra/rehearse-local.sh (read its header first), on a ministack it started.

    python infra/rehearse_local.py ENDPOINT TRANSLATED.json ZIPS_DIR DEV.json PSQL

ENDPOINT is ministack's, TRANSLATED.json the translated template, ZIPS_DIR holds <function>.zip,
DEV.json is what `backroom dev` wrote (its database and simulators), PSQL a psql binary.
"""

import hashlib
import hmac
import json
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

from local_stack import Checks, check_wiring, clients, create_stack, functions, localize, upload_code, url_host

STACK = "backroom-rehearsal"

# What `backroom dev`'s simulators accept and sign with (crates/backroom-cli/src/dev.rs:
# DEV_STRIPE_KEY, DEV_WEBHOOK_SECRET, DEV_PRINTFUL_TOKEN, DEV_PRINTFUL_WEBHOOK_TOKEN). They go
# into SSM under the template's default parameter names, as the owner's real secrets would.
SECRETS = {
    "/backroom/stripe/secret-key": "sk_test_backroom_dev",
    "/backroom/stripe/webhook-secrets": "whsec_backroom_dev_0123456789abcdef",
    "/backroom/printful/token": "backroom-dev-printful-token",
    "/backroom/printful/webhook-token": "backroom-dev-printful-webhook-token",
}
SKU = "HARBOUR-TEE-M"

endpoint, translated, zips, dev_file, psql = sys.argv[1:6]
dev = json.load(open(dev_file))
cfn, lam, logs, sqs, ssm, scheduler = clients(endpoint, "cloudformation", "lambda", "logs", "sqs", "ssm", "scheduler")
(s3,) = clients(endpoint, "s3")
check = Checks()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


http = urllib.request.build_opener(NoRedirect)


def request(method, url, data=None, headers=None):
    """(status, body text); a redirect is an answer, never followed (it leads off the machine)."""
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with http.open(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def function_log(name, lines=60):
    """The function's latest log lines, from its log group in ministack's CloudWatch Logs."""
    group = f"/aws/lambda/{STACK}-{name}"
    try:
        events = logs.filter_log_events(logGroupName=group)["events"]
    except Exception as e:  # noqa: BLE001 - the log is only an aid to the failure it is printed with
        return f"(no log: {e})"
    text = [e["message"].rstrip() for e in sorted(events, key=lambda e: e["timestamp"])]
    return f"--- {group}, last {lines} lines ---\n" + "\n".join(text[-lines:])


def invoke(name, payload):
    """Invokes a function and returns (ok, parsed payload or text)."""
    answer = lam.invoke(FunctionName=f"{STACK}-{name}", Payload=json.dumps(payload).encode())
    body = answer["Payload"].read().decode()
    try:
        body = json.loads(body)
    except ValueError:
        pass
    return "FunctionError" not in answer, body


def http_event(function, method, path, body, headers):
    """The event a function URL sends its function for a request (payload format 2.0), as the
    distribution forwards it: every viewer header, the URL's own host."""
    host = url_host(lam.get_function_url_config(FunctionName=f"{STACK}-{function}")["FunctionUrl"])
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": host, "x-forwarded-proto": "https", "via": "2.0 rehearsal.cloudfront.net (CloudFront)",
                    **headers},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": host.split(".")[0],
            "domainName": host,
            "domainPrefix": host.split(".")[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "Amazon CloudFront",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": body,
        "isBase64Encoded": False,
    }


def front_door(method, path, data=None, headers=None):
    """A request through the stack's distribution on ministack, as a viewer over HTTPS sends it:
    (status, headers, body text)."""
    req = urllib.request.Request(f"{endpoint}{path}", data=data, method=method,
                                 headers={"Host": distribution, "X-Forwarded-Proto": "https", **(headers or {})})
    try:
        with http.open(req, timeout=120) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def sql(query):
    """One value from the rehearsal's PostgreSQL (the database the functions use)."""
    out = subprocess.run([psql, dev["database_url"], "-XAtq", "-c", query], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return out.stdout.strip()


def wait_for(what, seconds, step=0.5):
    """what() until it is truthy, for at most `seconds`; returns its last value."""
    deadline = time.time() + seconds
    while True:
        value = what()
        if value or time.time() > deadline:
            return value
        time.sleep(step)


# -------------------------------------------------------------------------------------------
# The stack, with the real code and local settings
# -------------------------------------------------------------------------------------------
template = localize(json.load(open(translated)))
for name, resource in functions(template).items():
    props = resource["Properties"]
    props["Architectures"] = ["x86_64"]
    env = props["Environment"]["Variables"]
    if env.pop("DSQL_ENDPOINT", None) is not None:
        env.pop("DSQL_ROLE", None)
        env["DATABASE_URL"] = dev["database_url"]
    if "STRIPE_SECRET_KEY_PARAM" in env:
        env["STRIPE_API_BASE"] = dev["stripe_api_base"]
    if "PRINTFUL_TOKEN_PARAM" in env:
        env["PRINTFUL_API_BASE"] = dev["printful_api_base"]
    if "WEBHOOK_BASE_URL" in env:
        # Where the simulators' webhook endpoints point, so the reconciler finds them in place.
        env["WEBHOOK_BASE_URL"] = dev["url"]
for param, value in SECRETS.items():
    ssm.put_parameter(Name=param, Value=value, Type="SecureString", Overwrite=True)
upload_code(s3, template, lambda name: open(f"{zips}/{name}.zip", "rb").read())
outputs = create_stack(endpoint, STACK, template, check)
if outputs is None:
    sys.exit(check.exit_code())
check_wiring(endpoint, STACK, outputs, check)
distribution = outputs["ApiUrl"].split("/")[2]

# Only the functions on ministack may process anything: no Printful webhooks to backroom dev.
status, _ = request("POST", f"{dev['printful_api_base']}/control/webhooks", json.dumps({"deliver": False}).encode(),
                    {"content-type": "application/json"})
assert status == 200, f"the Printful simulator refused to stop its webhooks ({status})"

# -------------------------------------------------------------------------------------------
# 1. checkout -> pay -> signed webhook -> queue -> worker -> PostgreSQL and Printful
# -------------------------------------------------------------------------------------------
order_body = json.dumps({"items": [{"sku": SKU, "quantity": 1}], "email": "buyer@example.com"})
ok, answer = invoke("checkout-api", http_event("checkout-api", "POST", "/checkout", order_body, {"content-type": "application/json"}))
created = ok and isinstance(answer, dict) and answer.get("statusCode") in (200, 201)
check(created, "checkout-api takes an order (POST /checkout)", f"{answer}\n{function_log('checkout-api')}")
if not created:
    sys.exit(check.exit_code())
created = json.loads(answer["body"])
order_id, pay_page = created["order_id"], created["checkout_url"]
session_id = pay_page.rstrip("/").rsplit("/", 1)[-1]
check(sql(f"SELECT payment FROM orders WHERE id = '{order_id}'") == "pending",
      "the order is in PostgreSQL, waiting for its payment")

# The buyer pays; the simulator does not deliver the webhook, the rehearsal does it below.
form = urllib.parse.urlencode({"email": "buyer@example.com", "name": "Ada Buyer", "line1": "Hafenstrasse 1",
                               "city": "Hamburg", "postal_code": "20457", "country": "DE"}).encode()
status, text = request("POST", f"{pay_page}/pay?deliver=false", form,
                       {"content-type": "application/x-www-form-urlencoded"})
check(status in (200, 303), f"the buyer pays at the simulated Stripe ({status})", text)
stripe_auth = {"authorization": f"Bearer {SECRETS['/backroom/stripe/secret-key']}"}
status, text = request("GET", f"{dev['stripe_api_base']}/v1/events?limit=100", headers=stripe_auth)
events = [e for e in json.loads(text)["data"] if e["type"] == "checkout.session.completed"
          and e["data"]["object"]["id"] == session_id] if status == 200 else []
check(len(events) == 1, "the simulated Stripe made the session's checkout.session.completed", text[:2000])
if not events:
    sys.exit(check.exit_code())
event_id = events[0]["id"]
_, raw = request("GET", f"{dev['stripe_api_base']}/v1/events/{event_id}", headers=stripe_auth)

# Signed as Stripe signs a delivery: HMAC-SHA256 of "<t>.<body>" with the endpoint's secret.
t = int(time.time())
secret = SECRETS["/backroom/stripe/webhook-secrets"].encode()
signature = hmac.new(secret, f"{t}.{raw}".encode(), hashlib.sha256).hexdigest()
ok, answer = invoke("stripe-webhook", http_event("stripe-webhook", "POST", "/webhooks/stripe", raw, {
    "content-type": "application/json; charset=utf-8",
    "stripe-signature": f"t={t},v1={signature}",
}))
queued = check(ok and isinstance(answer, dict) and answer.get("statusCode") == 200,
               "stripe-webhook verifies the signed event and queues it", f"{answer}\n{function_log('stripe-webhook')}")


def applied():
    """The order's payment, fulfillment and Printful id, once the worker claimed the event."""
    claimed = sql(f"SELECT count(*) FROM inbox_events WHERE source = 'stripe' AND event_id = '{event_id}'")
    if claimed != "1":
        return None
    return sql(f"SELECT payment || ' ' || fulfillment || ' ' || coalesce(printful_order_id::text, '-') "
               f"FROM orders WHERE id = '{order_id}'").split()


state = wait_for(applied, 90 if queued else 0)
check(bool(state) and state[0] == "paid",
      "the event-worker, fed by the queue's event source mapping, marks the order paid in PostgreSQL",
      f"order {order_id}: {state}\n{function_log('event-worker')}\n{function_log('stripe-webhook', 20)}")
check(bool(state) and state[1] != "none" and state[2] != "-",
      "the event-worker submits the paid order to Printful (its id recorded)",
      f"order {order_id}: {state}\n{function_log('event-worker')}")
printful_auth = {"authorization": f"Bearer {SECRETS['/backroom/printful/token']}"}
external_id = uuid.UUID(order_id).hex  # backroom_core::OrderId::external_id
status, text = request("GET", f"{dev['printful_api_base']}/orders/@{external_id}", headers=printful_auth)
check(status == 200 and bool(state) and str(json.loads(text)["result"]["id"]) == state[2],
      "the simulated Printful has the order under our order id, as the database records it", text[:2000])

# -------------------------------------------------------------------------------------------
# 1b. the front door: the distribution's paths reach their functions through their URLs
# -------------------------------------------------------------------------------------------
# (Not /health: ministack answers its own /health on every host.)
status, _, text = front_door("GET", f"/orders/{order_id}")
check(status == 200 and order_id in text, "GET /orders/{id} through the distribution reaches checkout-api",
      f"{status} {text[:500]}\n{function_log('checkout-api', 20)}")
status, _, text = front_door("GET", "/catalog")
check(status == 200 and SKU in text, "GET /catalog through the distribution answers the catalog", f"{status} {text[:500]}")
status, headers, text = front_door("OPTIONS", "/checkout", headers={
    "Origin": "https://shop.example.com", "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type"})
allowed = headers.get_all("access-control-allow-origin") or []
check(status in (200, 204) and allowed == ["https://shop.example.com"],
      "a CORS preflight through the distribution gets the storefront's origin back, once",
      f"{status} {dict(headers)} {text[:300]}")
status, _, text = front_door("POST", "/webhooks/stripe", b'{"id": "evt_forged"}',
                             {"content-type": "application/json", "stripe-signature": "t=1,v1=00"})
check(status == 400 and "signature" in text,
      "a forged Stripe webhook through the distribution is refused by stripe-webhook", f"{status} {text[:500]}")
ping = json.dumps({"type": "rehearsal_ping", "created": int(time.time()), "retries": 0, "store": 1, "data": {}}).encode()
token = SECRETS["/backroom/printful/webhook-token"]
status, _, text = front_door("POST", f"/webhooks/printful/{token}", ping, {"content-type": "application/json"})
check(status == 200 and json.loads(text or "{}").get("received") is True,
      "printful-webhook reads its token from the path it gets through the distribution",
      f"{status} {text[:500]}\n{function_log('printful-webhook', 20)}")
status, _, text = front_door("POST", "/webhooks/printful/not-the-token", ping, {"content-type": "application/json"})
check(status == 404 and "not_found" in text, "a wrong Printful token through the distribution is a 404",
      f"{status} {text[:500]}")

# -------------------------------------------------------------------------------------------
# 2. a message the worker cannot process ends in the dead-letter queue
# -------------------------------------------------------------------------------------------
# 5 receives at the template's 720 s visibility timeout take an hour; 2 s takes seconds.
sqs.set_queue_attributes(QueueUrl=outputs["EventsQueueUrl"], Attributes={"VisibilityTimeout": "2"})
poison = json.dumps({"rehearsal": "a message without backroom's attributes", "nonce": str(uuid.uuid4())})
sqs.send_message(QueueUrl=outputs["EventsQueueUrl"], MessageBody=poison)


def in_dlq():
    got = sqs.receive_message(QueueUrl=outputs["DeadLetterQueueUrl"], MaxNumberOfMessages=10,
                              AttributeNames=["All"], VisibilityTimeout=0)
    return [m for m in got.get("Messages", []) if m["Body"] == poison]


moved = wait_for(in_dlq, 120, step=1)
mapping = lam.list_event_source_mappings(FunctionName=f"{STACK}-event-worker")["EventSourceMappings"][0]
worker_log = function_log("event-worker")
check(bool(moved) and int(moved[0]["Attributes"].get("ApproximateReceiveCount", "0")) >= 5,
      "a message the worker cannot process ends in the dead-letter queue after 5 receives",
      f"{moved}\n{worker_log}")
check("partial failures" in mapping.get("LastProcessingResult", "") and "processing failed" in worker_log,
      "the worker reported it as a batch item failure (not a failed invocation)",
      f"LastProcessingResult: {mapping.get('LastProcessingResult')}\n{worker_log}")

# -------------------------------------------------------------------------------------------
# 3. the catch-up schedules' targets, with the schedules' input
# -------------------------------------------------------------------------------------------
for name, key in (("printful-catchup", "printful"), ("stripe-catchup", "stripe")):
    target = scheduler.get_schedule(Name=f"{STACK}-{name}")["Target"]
    function = target["Arn"].rsplit(":", 1)[-1].removeprefix(f"{STACK}-")
    ok, answer = invoke(function, json.loads(target["Input"]))
    check(function == name and ok and isinstance(answer, dict) and key in answer,
          f"the {name} schedule's target runs with its input {target['Input']} and succeeds",
          f"{json.dumps(answer)[:2000]}\n{function_log(function)}")

# -------------------------------------------------------------------------------------------
# 4. the reconciler, as infra/deploy.sh runs it after a deploy
# -------------------------------------------------------------------------------------------
ok, answer = invoke("reconciler", {"job": "reconcile", "trigger": "deploy"})
check(ok and isinstance(answer, dict) and answer.get("discrepancies") == [],
      "the reconciler runs after a deploy, succeeds, and finds Stripe, PostgreSQL and Printful in agreement",
      f"{json.dumps(answer)[:2000]}\n{function_log('reconciler')}")

cfn.delete_stack(StackName=STACK)
sys.exit(check.exit_code())
