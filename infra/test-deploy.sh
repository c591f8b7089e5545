#!/usr/bin/env bash
# Tests of infra/deploy.sh's decisions, with no AWS and no build: the refusal of missing or stale
# function artifacts (check_artifacts), what it does with each stack status (stack_action) and
# what the front door's health answer means (front_door_verdict).
# Run by crates/backroom-cli/tests/template.rs; prints what failed and exits non-zero.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=infra/deploy.sh
source "$here/deploy.sh"

failures=0
fail() {
  printf 'FAIL: %s\n' "$*" >&2
  failures=$((failures + 1))
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

commit_time=1700000000
names=(checkout-api reconciler)
for name in "${names[@]}"; do
  mkdir -p "$work/$name"
  printf 'ELF' >"$work/$name/bootstrap"
  touch -d "@$((commit_time + 60))" "$work/$name/bootstrap"
done

# Built after the last commit: deployed.
check_artifacts "$work" "$commit_time" "${names[@]}" 2>"$work/out" || fail "fresh artifacts were refused: $(cat "$work/out")"

# Built the same second as the commit: still this commit's.
touch -d "@$commit_time" "$work/reconciler/bootstrap"
check_artifacts "$work" "$commit_time" "${names[@]}" 2>"$work/out" || fail "an artifact of the commit's second was refused"

# One artifact older than the last commit: refused, and named.
touch -d "@$((commit_time - 1))" "$work/reconciler/bootstrap"
if check_artifacts "$work" "$commit_time" "${names[@]}" 2>"$work/out"; then
  fail "a stale artifact was accepted"
fi
grep -q "stale artifact $work/reconciler/bootstrap" "$work/out" || fail "the stale artifact is not named: $(cat "$work/out")"
grep -q checkout-api "$work/out" && fail "a fresh artifact was named stale: $(cat "$work/out")"

# A missing or empty artifact: refused.
touch -d "@$((commit_time + 60))" "$work/reconciler/bootstrap"
rm "$work/checkout-api/bootstrap"
if check_artifacts "$work" "$commit_time" "${names[@]}" 2>"$work/out"; then
  fail "a missing artifact was accepted"
fi
grep -q "missing artifact $work/checkout-api/bootstrap" "$work/out" || fail "the missing artifact is not named"
: >"$work/checkout-api/bootstrap"
if check_artifacts "$work" "$commit_time" "${names[@]}" 2>"$work/out"; then
  fail "an empty artifact was accepted"
fi
# A function not built at all: refused.
if check_artifacts "$work" "$commit_time" event-worker 2>"$work/out"; then
  fail "a function with no artifact directory was accepted"
fi

# Stack statuses.
expect_action() {
  local got
  got=$(stack_action "$1")
  [ "$got" = "$2" ] || fail "status '$1': expected $2, got $got"
}
expect_action "" create
expect_action CREATE_COMPLETE update
expect_action UPDATE_COMPLETE update
expect_action UPDATE_ROLLBACK_COMPLETE update
expect_action ROLLBACK_COMPLETE failed-create
expect_action ROLLBACK_FAILED failed-create
expect_action CREATE_IN_PROGRESS busy
expect_action UPDATE_COMPLETE_CLEANUP_IN_PROGRESS busy
expect_action UPDATE_ROLLBACK_FAILED stuck
expect_action DELETE_FAILED stuck
# A first create whose change set was declined: no resources, sam deploy creates over it.
expect_action REVIEW_IN_PROGRESS create

# Which stack made a retained cluster: by creation time against the failed stack's.
[ "$(created_relative 2026-01-01T00:00:00Z 2026-02-01T10:00:00+00:00)" = before ] || fail "an older cluster is not an earlier stack's"
[ "$(created_relative 1769940000.5 2026-02-01T10:00:00Z)" = after ] || fail "a cluster made after the stack (epoch seconds) is not the failed create's"
[ "$(created_relative "?" 2026-02-01T10:00:00Z)" = unknown ] || fail "an unreadable time is not unknown"

# The front door's health answers.
[ "$(front_door_verdict 200)" = ok ] || fail "200 from /health is not ok"
front_door_verdict 403 | grep -q "lambda:InvokeFunction" || fail "a 403 does not point at the function URL's permission"
front_door_verdict 000 | grep -q "resolve" || fail "no answer does not point at the new distribution's name"
front_door_verdict 503 | grep -q "checkout-api" || fail "a 5xx does not point at checkout-api"

# The function list is the crates under lambdas/.
listed=$(printf '%s\n' "${functions[@]}" | sort)
crates=$(cd "$here/../lambdas" && printf '%s\n' */ | tr -d / | sort)
[ "$listed" = "$crates" ] || fail "deploy.sh's functions ($listed) are not the crates under lambdas/ ($crates)"

if [ "$failures" -gt 0 ]; then
  printf '%d failure(s)\n' "$failures" >&2
  exit 1
fi
echo "test-deploy: all passed"
