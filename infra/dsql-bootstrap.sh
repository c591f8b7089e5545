#!/usr/bin/env bash
# Brings the Aurora DSQL database of a deployed backroom stack up to date:
#   1. `backroom migrate` as admin (DSQL_ROLE=admin, an IAM admin token made by the CLI itself);
#   2. infra/dsql-bootstrap.sql through psql as admin: the application role backroom_app, the
#      mapping of each function's IAM role to it (stack output DatabaseRoleArns), and its grants.
# Safe to run again. infra/deploy.sh runs it twice: before `sam deploy` (migrations and the
# grants on new tables are in place when the new code goes live) and after it (mappings of new
# function roles; mappings of roles the stack no longer has are revoked).
#
#   infra/dsql-bootstrap.sh [--migrate-only] [STACK_NAME]     (default stack: backroom)
#
# Needs: the AWS CLI v2 with credentials allowed dsql:DbConnectAdmin on the cluster (the account's
# administrator is), psql 14 or newer (DSQL needs TLS SNI), and the backroom CLI: BACKROOM (which
# infra/deploy.sh sets to the one it has just installed from this checkout), else cargo builds
# it from this checkout. The region is AWS_REGION, else the CLI's configured region.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'dsql-bootstrap: %s\n' "$*" >&2; }
die() {
  say "$*"
  exit 1
}

migrate_only=0
stack=backroom
while [ $# -gt 0 ]; do
  case "$1" in
    --migrate-only) migrate_only=1 ;;
    -h | --help)
      sed -n '2,12p' "$0"
      exit 0
      ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) stack=$1 ;;
  esac
  shift
done

command -v aws >/dev/null 2>&1 || die "the AWS CLI v2 is not installed (docs/deploy.md, step 1)"

output() {
  aws cloudformation describe-stacks --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
endpoint=$(output ClusterEndpoint) || die "cannot read the outputs of stack $stack (wrong name, region or credentials?)"
if [ -z "$endpoint" ] || [ "$endpoint" = None ]; then die "stack $stack has no ClusterEndpoint output"; fi
# <cluster-id>.dsql.<region>.on.aws
region=$(printf '%s' "$endpoint" | cut -d. -f3)
[ -n "$region" ] || die "cannot tell the region from the endpoint $endpoint"

# Not merely `backroom` on the PATH: an older install would not know this checkout's migrations.
backroom=${BACKROOM:-}
if [ -z "$backroom" ]; then
  command -v cargo >/dev/null 2>&1 || die "cargo is not installed: install Rust, or set BACKROOM to a backroom binary"
  say "building the backroom CLI"
  cargo build --release --locked --quiet -p backroom-cli
  backroom=target/release/backroom
fi

say "applying migrations to $endpoint as admin"
env -u DATABASE_URL DSQL_ENDPOINT="$endpoint" DSQL_ROLE=admin AWS_REGION="$region" "$backroom" migrate

if [ "$migrate_only" = 1 ]; then
  exit 0
fi

command -v psql >/dev/null 2>&1 || die "psql is not installed (apt-get install postgresql-client, brew install libpq)"
roles=$(output DatabaseRoleArns)
if [ -z "$roles" ] || [ "$roles" = None ]; then die "stack $stack has no DatabaseRoleArns output"; fi

# DSQL's certificate chains to Amazon Root CA 1, which the system trust store has. libpq 16 and
# newer read that store with sslrootcert=system; older ones need the bundle file.
ca=${PGSSLROOTCERT:-}
if [ -z "$ca" ]; then
  libpq=$(psql --version | grep -Eo '[0-9]+' | head -1 || true)
  if [ "${libpq:-0}" -ge 16 ]; then
    ca=system
  else
    for bundle in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/cert.pem; do
      if [ -f "$bundle" ]; then
        ca=$bundle
        break
      fi
    done
  fi
fi
[ -n "$ca" ] || die "no CA bundle found: set PGSSLROOTCERT to a file that holds Amazon Root CA 1"

say "granting the application role to the function roles"
# The token is a password: it is handed over in the environment only, never printed.
PGPASSWORD=$(aws dsql generate-db-connect-admin-auth-token --hostname "$endpoint" --region "$region" --expires-in 900)
export PGPASSWORD
psql "host=$endpoint port=5432 dbname=postgres user=admin sslmode=verify-full sslrootcert=$ca" \
  --no-psqlrc --quiet -v ON_ERROR_STOP=1 -v app_role=backroom_app -v role_arns="$roles" \
  -f infra/dsql-bootstrap.sql
unset PGPASSWORD
say "done"
