#!/usr/bin/env bash
# Builds the seven functions for arm64 in one release build and deploys backroom's stack with
# AWS SAM, with the database brought up to date around it (infra/dsql-bootstrap.sh: migrations as
# admin, the application role, its grants and the function roles' mappings):
#
#   1. one `cargo lambda build --release --arm64` of all seven functions into target/lambda/, and
#      a refusal to go on if any artifact is missing or older than the last commit;
#   2. `cargo install` of the backroom command (the CLI of this same commit) onto your PATH;
#   3. when the stack exists: migrations and grants BEFORE the new code goes live;
#   4. `sam deploy` of template.yaml, which uploads target/lambda/<function>/ as it is;
#   5. the bootstrap again: mappings of new function roles, stale ones revoked;
#   6. one reconcile run, now that the database lets the functions in.
# Safe to run again: an unchanged stack is not an error, and the bootstrap only does what is
# missing.
#
#   infra/deploy.sh [--config-env NAME] [--skip-bootstrap] [--allow-dirty]
#                   [--delete-failed-stack] [-- EXTRA SAM DEPLOY ARGUMENTS]
#
# --config-env NAME      the samconfig.toml section to use (default: default), e.g. a "live"
#                        stack next to a "default" test stack
# --skip-bootstrap       deploy only; run infra/dsql-bootstrap.sh yourself, then the reconciler
# --allow-dirty          deploy even with uncommitted changes under crates/, lambdas/,
#                        migrations/ or the Cargo files (what is deployed is then no commit)
# --delete-failed-stack  when a first create failed (stack in ROLLBACK_COMPLETE), delete that
#                        empty stack and create it again (the clusters tagged with its name are
#                        listed, with which one that failed create made)
# -- ...                 passed to `sam deploy` as they are. A --parameter-overrides there
#                        replaces samconfig.toml's parameter_overrides for that one deploy:
#                        change parameters in samconfig.toml instead (docs/deploy.md, step 3)
#
# Without a samconfig.toml (the first run, or a fresh clone of a deployed shop) the deploy is
# guided (`sam deploy --guided`) and writes one; it asks the stack's name first, to know whether
# the stack exists. infra/samconfig.toml.example shows every setting. Run this from your own
# machine with AWS credentials for the shop's account (docs/deploy.md). It refuses to run in CI.
set -euo pipefail

# The function crates under lambdas/, each built to target/lambda/<name>/bootstrap (template.yaml's
# CodeUri). crates/backroom-cli/tests/template.rs checks this list against lambdas/ and the template.
functions=(checkout-api event-worker printful-catchup printful-webhook reconciler stripe-catchup stripe-webhook)
lambda_dir=target/lambda

say() { printf 'deploy: %s\n' "$*" >&2; }
die() {
  say "$*"
  exit 1
}

# Seconds since the epoch of a file's last change (GNU stat, else BSD stat as on macOS).
file_mtime() {
  stat -c %Y "$1" 2>/dev/null || stat -f %m "$1"
}

# check_artifacts DIR NOT_BEFORE NAME...
# Succeeds when every DIR/NAME/bootstrap exists, is not empty and was written at or after
# NOT_BEFORE (seconds since the epoch: the last commit's time). Otherwise names each bad one and
# fails: an artifact older than the last commit may be the code of an earlier commit.
check_artifacts() {
  local dir=$1 not_before=$2 name file mtime bad=0
  shift 2
  for name in "$@"; do
    file=$dir/$name/bootstrap
    if [ ! -s "$file" ]; then
      say "missing artifact $file"
      bad=1
      continue
    fi
    mtime=$(file_mtime "$file")
    if [ "$mtime" -lt "$not_before" ]; then
      say "stale artifact $file: written $(date -u -d "@$mtime" +%FT%TZ 2>/dev/null || echo "at $mtime"), before the last commit"
      bad=1
    fi
  done
  return "$bad"
}

# What to do with a stack in CloudFormation status $1 (empty: no such stack):
#   create | update | failed-create | busy | stuck
# REVIEW_IN_PROGRESS is a first create whose change set was never executed (declined at the
# prompt): the stack has no resources, and `sam deploy` creates it with a new change set.
stack_action() {
  case "$1" in
    "" | REVIEW_IN_PROGRESS) echo create ;;
    ROLLBACK_COMPLETE | ROLLBACK_FAILED | CREATE_FAILED) echo failed-create ;;
    *_IN_PROGRESS) echo busy ;;
    UPDATE_ROLLBACK_FAILED | DELETE_FAILED) echo stuck ;;
    *_COMPLETE) echo update ;;
    *) echo stuck ;;
  esac
}

# The status of stack $1, empty when there is no such stack. Any other failure to read it
# (credentials, region, network) stops the deploy rather than pass for "no stack".
stack_status() {
  local out
  if out=$(aws cloudformation describe-stacks --stack-name "$1" --query 'Stacks[0].StackStatus' --output text 2>&1); then
    printf '%s\n' "$out"
  elif [[ $out == *"does not exist"* ]]; then
    echo
  else
    die "cannot read stack $1: $out"
  fi
}

stack_created() {
  aws cloudformation describe-stacks --stack-name "$1" --query 'Stacks[0].CreationTime' --output text 2>/dev/null || true
}

# The DSQL clusters tagged Name=$1, as template.yaml tags the stack's cluster (retained and
# deletion-protected when the stack goes): "identifier creation-time" a line. A cluster kept
# from an earlier, deleted stack of the same name carries the same tag, and may hold its orders.
retained_clusters() {
  local arn id
  for arn in $(aws dsql list-clusters --query 'clusters[].arn' --output text 2>/dev/null); do
    if [ "$(aws dsql list-tags-for-resource --resource-arn "$arn" --query 'tags.Name' --output text 2>/dev/null)" = "$1" ]; then
      id=${arn##*/}
      printf '%s %s\n' "$id" "$(aws dsql get-cluster --identifier "$id" --query creationTime --output text 2>/dev/null || true)"
    fi
  done
}

# Whether a cluster created at $1 was made by the stack created at $2: "after" (created with or
# after the stack), "before" (an earlier stack's), or "unknown" (a time missing or unreadable).
# Times as the AWS CLI prints them: ISO 8601, or seconds since the epoch.
created_relative() {
  python3 - "$1" "$2" <<'PY'
import sys
from datetime import datetime, timezone
def when(s):
    try:
        return datetime.fromtimestamp(float(s), timezone.utc)
    except ValueError:
        t = datetime.fromisoformat(s.replace("Z", "+00:00"))
        return t if t.tzinfo else t.replace(tzinfo=timezone.utc)
try:
    print("before" if when(sys.argv[1]) < when(sys.argv[2]) else "after")
except (ValueError, OverflowError):
    print("unknown")
PY
}

explain_failed_create() {
  local stack=$1
  say "stack $stack is in $(stack_status "$stack"): its first create failed and was rolled back."
  say "Why: aws cloudformation describe-stack-events --stack-name $stack --query 'StackEvents[?contains(ResourceStatus, \`FAILED\`)].[LogicalResourceId,ResourceStatusReason]' --output table"
  say "A stack in this state can only be deleted (its retained cluster stays), so:"
  say "  infra/deploy.sh --delete-failed-stack   (deletes it, then creates it again)"
  say "or by hand: aws cloudformation delete-stack --stack-name $stack && aws cloudformation wait stack-delete-complete --stack-name $stack"
  advise_retained_clusters "$stack" "$(stack_created "$stack")"
}

# Lists the DSQL clusters tagged with stack $1's name, telling the one its failed create (the
# stack created at $2) made from those of an earlier stack of that name, which may hold orders.
advise_retained_clusters() {
  local stack=$1 created=$2 id at clusters
  clusters=$(retained_clusters "$stack")
  [ -n "$clusters" ] || return 0
  say "Aurora DSQL clusters tagged Name=$stack (retained and deletion-protected; the next create makes a new one):"
  while read -r id at; do
    case "$(created_relative "${at:-?}" "${created:-?}")" in
      after) say "  $id, created $at, after the failed stack ($created): made by that failed create." ;;
      before) say "  $id, created $at, before the failed stack ($created): an earlier stack's; it may hold that stack's orders." ;;
      *) say "  $id, created ${at:-at an unknown time}: which stack made it is unknown; it may hold orders." ;;
    esac
  done <<<"$clusters"
  say "Delete only a cluster you know holds nothing you need; keep it if unsure (aws dsql get-cluster --identifier <id>"
  say "shows its creationTime). To delete one: aws dsql update-cluster --identifier <id> --no-deletion-protection-enabled"
  say "&& aws dsql delete-cluster --identifier <id>   (docs/deploy.md, \"When a deploy fails\")"
}

# Reads one setting of samconfig.toml's section for $config_env (deploy first, then global).
samconfig() {
  python3 - "$config_env" "$1" <<'PY'
import sys, tomllib
env, key = sys.argv[1], sys.argv[2]
try:
    with open("samconfig.toml", "rb") as f:
        config = tomllib.load(f)
except FileNotFoundError:
    sys.exit(0)
section = config.get(env, {})
for command in ("deploy", "global"):
    value = section.get(command, {}).get("parameters", {}).get(key)
    if value:
        print(value)
        break
PY
}

# Points the AWS CLI at samconfig.toml's region, when it names one.
use_samconfig_region() {
  region=$(samconfig region)
  if [ -n "$region" ]; then
    export AWS_REGION=$region AWS_DEFAULT_REGION=$region
  fi
}

# What an answer of GET <ApiUrl>health through the distribution says about the front door:
# "ok", or what to look at.
front_door_verdict() {
  case "$1" in
    200) echo ok ;;
    403) echo "403 from the function URL: its resource policy may lack lambda:InvokeFunction (needed since October 2025; CloudFormation's SAM transform adds it): aws lambda get-policy --function-name <stack>-checkout-api" ;;
    000) echo "no answer: the distribution's name may not resolve yet (a new distribution takes minutes); try again later" ;;
    5*) echo "$1 from checkout-api: read its log (docs/operations.md, Api5xx)" ;;
    *) echo "$1: unexpected; read checkout-api's log" ;;
  esac
}

# GET <ApiUrl>health through the distribution, a few times while a new one settles; warns only.
check_front_door() {
  local url=$1 status verdict
  for _ in 1 2 3 4 5 6; do
    status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 "${url}health" || true)
    verdict=$(front_door_verdict "${status:-000}")
    [ "$verdict" = ok ] && { say "front door answers: ${url}health"; return 0; }
    sleep 10
  done
  say "warning: ${url}health did not answer 200 - $verdict"
}

need() { command -v "$1" >/dev/null 2>&1 || die "$1 is not installed: $2"; }

main() {
  cd "$(dirname "$0")/.."
  if [ -n "${CI:-}" ]; then
    die "refusing to deploy from CI (CI=$CI): a deploy is run by the owner, by hand, with the shop's credentials"
  fi

  config_env=default
  local bootstrap=1 allow_dirty=0 delete_failed=0
  local extra=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --config-env)
        [ $# -ge 2 ] || die "--config-env needs a name"
        config_env=$2
        shift 2
        ;;
      --skip-bootstrap)
        bootstrap=0
        shift
        ;;
      --allow-dirty)
        allow_dirty=1
        shift
        ;;
      --delete-failed-stack)
        delete_failed=1
        shift
        ;;
      --)
        shift
        extra=("$@")
        break
        ;;
      -h | --help)
        awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0"
        exit 0
        ;;
      *) die "unknown argument $1 (see --help; SAM's own arguments go after --)" ;;
    esac
  done

  need git "install git"
  need sam "install the AWS SAM CLI (pip install aws-sam-cli), see docs/deploy.md"
  need aws "install the AWS CLI v2, see docs/deploy.md"
  need curl "install curl (the check of the front door after the deploy)"
  aws dsql help >/dev/null 2>&1 || die "this AWS CLI has no 'aws dsql' commands: update the AWS CLI v2 (docs/deploy.md, step 1)"
  need cargo "install Rust (rustup), see docs/deploy.md"
  need python3 "install Python 3.11 or newer"
  cargo lambda --version >/dev/null 2>&1 || die "cargo-lambda is not installed: pip install cargo-lambda (it brings zig), see docs/deploy.md"
  if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    say "adding the Rust target aarch64-unknown-linux-gnu (the functions run on arm64)"
    rustup target add aarch64-unknown-linux-gnu
  fi

  local dirty
  dirty=$(git status --porcelain -- crates lambdas migrations Cargo.toml Cargo.lock)
  if [ -n "$dirty" ] && [ "$allow_dirty" = 0 ]; then
    die "uncommitted changes to the code (commit them, or pass --allow-dirty to deploy them anyway):
$dirty"
  fi

  # Whether the stack exists decides whether the database is brought up to date before the new
  # code goes live; samconfig.toml (not in version control) may be missing for a deployed stack.
  local guided=() stack status action created
  if [ -f samconfig.toml ]; then
    use_samconfig_region
    stack=$(samconfig stack_name)
    [ -n "$stack" ] || die "samconfig.toml names no stack_name for [$config_env] (infra/samconfig.toml.example shows the sections)"
  else
    say "no samconfig.toml: this deploy is guided (sam deploy --guided asks for every setting and writes one)"
    say "(infra/samconfig.toml.example explains every setting; you may copy it to samconfig.toml instead)"
    read -r -p "deploy: the stack's name [backroom]: " stack || true
    stack=${stack:-backroom}
    guided=(--guided --stack-name "$stack")
  fi
  aws sts get-caller-identity --query Account --output text >/dev/null ||
    die "the AWS CLI has no working credentials: run 'aws configure sso' or 'aws configure' first (docs/deploy.md, step 1)"

  status=$(stack_status "$stack")
  [ "$status" != None ] || status=
  action=$(stack_action "$status")
  if [ "$status" = REVIEW_IN_PROGRESS ]; then
    say "stack $stack is REVIEW_IN_PROGRESS: a first create whose change set was not executed; it has no resources, and this deploy creates it"
  fi
  if [ ! -f samconfig.toml ] && [ "$action" = update ]; then
    say "stack $stack exists ($status): the guided deploy proposes the template's defaults, not the stack's values."
    say "Answer each parameter as the stack has it (StripeMode above all):"
    say "  aws cloudformation describe-stacks --stack-name $stack --query 'Stacks[0].Parameters' --output table"
    say "or stop now (Ctrl-C) and write samconfig.toml from infra/samconfig.toml.example."
  fi
  case "$action" in
    failed-create)
      if [ "$delete_failed" = 1 ]; then
        created=$(stack_created "$stack")
        say "deleting the failed stack $stack (the retained cluster stays: see below)"
        aws cloudformation delete-stack --stack-name "$stack"
        aws cloudformation wait stack-delete-complete --stack-name "$stack"
        advise_retained_clusters "$stack" "$created"
        action=create
      else
        explain_failed_create "$stack"
        exit 1
      fi
      ;;
    busy) die "stack $stack is $status: wait until it settles, then run this again" ;;
    stuck) die "stack $stack is $status: see docs/deploy.md \"When a deploy fails\"" ;;
  esac

  say "building the seven functions for arm64: one release build, one target directory"
  local name packages=()
  for name in "${functions[@]}"; do
    rm -rf "${lambda_dir:?}/$name"
    packages+=(-p "$name")
  done
  cargo lambda build --release --arm64 --locked --lambda-dir "$lambda_dir" "${packages[@]}"
  check_artifacts "$lambda_dir" "$(git log -1 --format=%ct)" "${functions[@]}" ||
    die "refusing to deploy: the artifacts above are not the build of this commit"

  say "installing the backroom command of this commit (cargo install --locked --path crates/backroom-cli)"
  cargo install --locked --quiet --path crates/backroom-cli --target-dir target
  local bin backroom
  bin=${CARGO_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}/bin
  backroom=$bin/backroom
  [ -x "$backroom" ] || die "cargo install did not leave $backroom"
  export BACKROOM=$backroom
  if [ "$(command -v backroom || true)" != "$backroom" ]; then
    say "note: add $bin to your PATH to run 'backroom' (docs/operations.md uses it)"
  fi

  # Schema and grants first: migrations only ever add, so the running code is not disturbed,
  # and the new code (and its tables) find their grants in place when it goes live.
  if [ "$bootstrap" = 1 ] && [ "$action" = update ]; then
    say "migrations and grants before the new code goes live"
    infra/dsql-bootstrap.sh "$stack"
  fi

  say "deploying"
  # (The ${a[@]+"${a[@]}"} form keeps bash 3.2, as on macOS, from calling an empty array unbound.)
  if ! sam deploy --template-file template.yaml --config-env "$config_env" --no-fail-on-empty-changeset \
    ${guided[@]+"${guided[@]}"} ${extra[@]+"${extra[@]}"}; then
    stack=$(samconfig stack_name)
    if [ -n "$stack" ] && [ "$(stack_action "$(stack_status "$stack")")" = failed-create ]; then
      explain_failed_create "$stack"
    fi
    die "sam deploy failed"
  fi

  # The guided run has just written the stack name and the region.
  use_samconfig_region
  stack=$(samconfig stack_name)
  [ -n "$stack" ] || die "samconfig.toml names no stack_name for [$config_env]"
  # A change set declined at sam deploy's prompt is not a failure to SAM.
  if [ "$(stack_status "$stack")" = REVIEW_IN_PROGRESS ]; then
    die "the change set was not executed: nothing was created. Run this again to create stack $stack (docs/deploy.md, \"When a deploy fails\")"
  fi

  output() {
    aws cloudformation describe-stacks --stack-name "$stack" \
      --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
  }
  if [ "$bootstrap" = 1 ]; then
    say "bringing the database up to date (migrations, application role, grants, role mappings; stale mappings revoked)"
    infra/dsql-bootstrap.sh "$stack"
    say "reconciling once, now that the functions can reach the database"
    aws lambda invoke --function-name "$(output ReconcilerFunctionName)" --invocation-type Event \
      --cli-binary-format raw-in-base64-out --payload '{"job":"reconcile","trigger":"deploy"}' /dev/null >/dev/null
  else
    say "skipped the database bootstrap: run infra/dsql-bootstrap.sh $stack before the shop takes orders,"
    say "then: aws lambda invoke --function-name $stack-reconciler --invocation-type Event /dev/null"
  fi

  aws cloudformation describe-stacks --stack-name "$stack" \
    --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output table
  check_front_door "$(output ApiUrl)"
  say "dashboard: $(output DashboardUrl)"
  say "done. Next steps the first time: docs/deploy.md, from step 5 (webhooks and subscriptions)"
}

# Sourced (infra/test-deploy.sh), it only defines the functions above.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  main "$@"
fi
