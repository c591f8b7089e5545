#!/usr/bin/env bash
# Builds the seven functions for arm64 and deploys backroom's stack with AWS SAM, then brings the
# database up to date (infra/dsql-bootstrap.sh: migrations as admin, then the application role
# and its grants). Safe to run again: an unchanged stack is not an error, and the bootstrap only
# does what is missing.
#
#   infra/deploy.sh [--config-env NAME] [--skip-bootstrap] [-- EXTRA SAM DEPLOY ARGUMENTS]
#
# --config-env NAME   the samconfig.toml section to use (default: default), e.g. a "live" stack
#                     next to a "default" test stack
# --skip-bootstrap    deploy only; run infra/dsql-bootstrap.sh yourself later
#
# The first run, without a samconfig.toml, is guided (`sam deploy --guided`) and writes one;
# infra/samconfig.toml.example shows every setting. Run this from your own machine with AWS
# credentials for the shop's account (docs/deploy.md). It refuses to run in CI.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'deploy: %s\n' "$*" >&2; }
die() {
  say "$*"
  exit 1
}

if [ -n "${CI:-}" ]; then
  die "refusing to deploy from CI (CI=$CI): a deploy is run by the owner, by hand, with the shop's credentials"
fi

config_env=default
bootstrap=1
extra=()
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
    --)
      shift
      extra=("$@")
      break
      ;;
    -h | --help)
      sed -n '2,17p' "$0"
      exit 0
      ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done

need() { command -v "$1" >/dev/null 2>&1 || die "$1 is not installed: $2"; }
need sam "install the AWS SAM CLI (pip install aws-sam-cli), see docs/deploy.md"
need aws "install the AWS CLI v2, see docs/deploy.md"
need cargo "install Rust (rustup)"
need python3 "install Python 3.11 or newer"
cargo lambda --version >/dev/null 2>&1 || die "cargo-lambda is not installed: pip install cargo-lambda (it brings zig), see docs/deploy.md"
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  say "adding the Rust target aarch64-unknown-linux-gnu (the functions run on arm64)"
  rustup target add aarch64-unknown-linux-gnu
fi
aws sts get-caller-identity --query Account --output text >/dev/null ||
  die "the AWS CLI has no working credentials: run 'aws configure sso' or 'aws configure' first (docs/deploy.md, step 1)"

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

guided=()
if [ ! -f samconfig.toml ]; then
  say "no samconfig.toml yet: this first deploy is guided and writes one"
  say "(infra/samconfig.toml.example explains every setting; you may copy it to samconfig.toml instead)"
  guided=(--guided)
fi

region=$(samconfig region)
if [ -n "$region" ]; then
  export AWS_REGION=$region AWS_DEFAULT_REGION=$region
fi
stack=$(samconfig stack_name)

say "building the functions for arm64 (sam build runs cargo lambda for each crate)"
sam build --config-env "$config_env"

# Schema first: migrations only ever add, so the running code is not disturbed, and the new
# code finds what it needs. On the very first deploy there is no cluster yet; the bootstrap
# after the deploy runs them then.
if [ "$bootstrap" = 1 ] && [ -n "$stack" ] &&
  aws cloudformation describe-stacks --stack-name "$stack" >/dev/null 2>&1; then
  say "applying database migrations before the new code goes live"
  infra/dsql-bootstrap.sh --migrate-only "$stack"
fi

say "deploying"
# (The ${a[@]+"${a[@]}"} form keeps bash 3.2, as on macOS, from calling an empty array unbound.)
sam deploy --config-env "$config_env" --no-fail-on-empty-changeset ${guided[@]+"${guided[@]}"} ${extra[@]+"${extra[@]}"}

# The guided run has just written the stack name.
stack=$(samconfig stack_name)
[ -n "$stack" ] || die "samconfig.toml names no stack_name for [$config_env]"

if [ "$bootstrap" = 1 ]; then
  say "bringing the database up to date (migrations, application role, grants)"
  infra/dsql-bootstrap.sh "$stack"
else
  say "skipped the database bootstrap: run infra/dsql-bootstrap.sh $stack before the shop takes orders"
fi

aws cloudformation describe-stacks --stack-name "$stack" \
  --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output table
say "done. Next steps the first time: docs/deploy.md, from step 5 (webhooks and subscriptions)"
