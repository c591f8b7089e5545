#!/usr/bin/env bash
# A deploy rehearsal with the real functions and no AWS account: the stack of infra/smoke-local.sh
# (template.yaml translated offline, created on a local ministack on 127.0.0.1), but each of the
# seven functions runs its own Rust build, against a real PostgreSQL with the migrations applied
# and the Stripe and Printful simulators, with its secrets in ministack's SSM. After the wiring
# checks of infra/smoke-local.sh:
#
#   1. a buyer checks out (checkout-api), pays at the simulated Stripe, and the signed
#      checkout.session.completed goes through stripe-webhook into the events queue; the
#      event-worker, fed by the event source mapping, marks the order paid in PostgreSQL and
#      submits it to the simulated Printful; then requests through the CloudFront distribution
#      (ministack serves it and the function URLs behind it) reach each function by its path:
#      /orders/{id} and /catalog, a CORS preflight answered once, a forged Stripe webhook refused,
#      the Printful token read from the path;
#   2. a message the worker cannot process is reported as a batch item failure and, after the
#      queue's 5 receives, ends in the dead-letter queue;
#   3. the catch-up schedules' targets (printful-catchup, stripe-catchup) run with their
#      schedules' input and succeed;
#   4. the reconciler runs with the input infra/deploy.sh sends after a deploy, succeeds, and
#      finds Stripe, PostgreSQL and Printful in agreement.
# Any failure prints the function's log (ministack keeps it in CloudWatch Logs).
#
#   infra/rehearse-local.sh
#
# Needs x86_64 Linux: ministack runs a provided.al2023 bootstrap as a local process (no Docker)
# and ignores Architectures, so the functions are built for the machine (a debug build:
# `cargo build -p <seven functions> -p backroom-cli`, into CARGO_TARGET_DIR or target/), and
# the template's arm64 is rewritten to x86_64. PostgreSQL and the simulators are those of
# `backroom dev` (its own database in a scratch data dir, migrated, the catalog synced); the
# rehearsal pays with `deliver=false`, turns off the Printful simulator's webhooks and sets the
# dev catch-up to once a day, so that only the functions on ministack process anything.
#
# What ministack cannot do, and what stands in:
#   - the checkout and the signed Stripe webhook of step 1 invoke checkout-api and stripe-webhook
#     directly, with the function URL's (2.0) event as the distribution would have it sent; the
#     front-door checks go through ministack's distribution over plain HTTP, marked HTTPS by
#     X-Forwarded-Proto (the distribution is https-only);
#   - no Aurora DSQL: the functions get DATABASE_URL (the local mode of backroom dev and the
#     tests) instead of DSQL_ENDPOINT/DSQL_ROLE; IAM tokens and grants are not rehearsed
#     (infra/test-deploy.sh and infra/dsql-bootstrap.sh are the owner's);
#   - schedules fire on their own clock only (rate(10 minutes), daily): each schedule's target
#     is invoked directly with the schedule's own Input, read back from EventBridge Scheduler;
#   - the post-deploy run of the reconciler is no rule of the stack but a step of
#     infra/deploy.sh: the rehearsal invokes the reconciler with the same input;
#   - IAM is not enforced: the roles' least privilege is checked by
#     crates/backroom-cli/tests/template.rs, not here;
#   - the events queue's 720 s visibility timeout would take an hour for 5 receives: the
#     rehearsal sets it to 2 s before the dead-letter check;
#   - no Budgets, no EventBridge archive (dropped, as in infra/smoke-local.sh); SNS alerts and
#     order events go to ministack's SNS and EventBridge and are not read back.
#
# Non-interactive and idempotent (everything lives in a scratch directory removed at exit);
# works as root and as a normal user. Wired into .ci/run after the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'rehearse-local: %s\n' "$*" >&2; }
die() {
  say "$*"
  exit 1
}

[ "$(uname -s)/$(uname -m)" = Linux/x86_64 ] ||
  die "needs x86_64 Linux: ministack runs the functions' bootstraps as local processes"

. infra/local-stack.sh
local_stack_tools

# The function crates under lambdas/, as in infra/deploy.sh.
functions=(checkout-api event-worker printful-catchup printful-webhook reconciler stripe-catchup stripe-webhook)
packages=()
for name in "${functions[@]}"; do packages+=(-p "$name"); done
say "building the seven functions and the backroom command (debug, $(uname -m))"
cargo build --locked "${packages[@]}" -p backroom-cli
bin=$(cargo metadata --locked --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/debug

psql=$(command -v psql || true)
if [ -z "$psql" ]; then
  for p in /usr/lib/postgresql/*/bin/psql; do [ -x "$p" ] && psql=$p; done
fi
[ -n "$psql" ] || die "psql is not installed (it comes with PostgreSQL: scripts/setup)"

work=$(mktemp -d)
# As root, backroom dev runs PostgreSQL as the postgres user, who must reach the data dir.
chmod 755 "$work"
dev_pid=
cleanup() {
  local_stack_stop
  if [ -n "$dev_pid" ]; then
    kill "$dev_pid" 2>/dev/null || true
    wait "$dev_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

say "starting backroom dev for PostgreSQL and the simulators"
env "${backroom_env_unset[@]}" "$bin/backroom" dev --port 0 --data-dir "$work/dev" --catchup-every 86400 >"$work/dev.log" 2>&1 &
dev_pid=$!
for _ in $(seq 600); do
  [ -s "$work/dev/dev.json" ] && break
  kill -0 "$dev_pid" 2>/dev/null || break
  sleep 0.1
done
[ -s "$work/dev/dev.json" ] || {
  cat "$work/dev.log" >&2
  die "backroom dev did not start"
}

say "zipping the functions (bootstrap)"
mkdir "$work/zips"
.venv/bin/python - "$bin" "$work/zips" "${functions[@]}" <<'PY'
import sys
sys.path.insert(0, "infra")
from local_stack import bootstrap_zip
bin, zips, names = sys.argv[1], sys.argv[2], sys.argv[3:]
for name in names:
    open(f"{zips}/{name}.zip", "wb").write(bootstrap_zip(open(f"{bin}/{name}", "rb").read()))
PY

local_stack_translate "$work/translated.json"
local_stack_start "$work"

started=$(date +%s)
status=0
.venv/bin/python infra/rehearse_local.py "$ministack_endpoint" "$work/translated.json" "$work/zips" \
  "$work/dev/dev.json" "$psql" || status=$?
say "the stack's part took $(($(date +%s) - started)) s, the whole rehearsal $SECONDS s (the build included)"
if [ "$status" != 0 ]; then
  say "backroom dev's log (PostgreSQL and the simulators):"
  tail -n 40 "$work/dev.log" >&2
fi
exit "$status"
