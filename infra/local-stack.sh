# The stack on a local ministack, shared by infra/smoke-local.sh and infra/rehearse-local.sh
# (sourced, from the repository root). Their Python parts share infra/local_stack.py.
#
#   local_stack_tools              scripts/setup's .venv (ministack, cfn-lint) and the SAM
#                                  translator's own venv under .run/ (it wants a botocore that
#                                  ministack's pin does not allow)
#   local_stack_translate OUT      template.yaml translated offline (infra/sam-translate.py) and
#                                  linted, as JSON in OUT
#   local_stack_start DIR          ministack on a free port of 127.0.0.1, its log and temporary
#                                  files (the functions' unpacked code) in DIR; sets
#                                  ministack_endpoint and ministack_pid. The functions it runs
#                                  call back to it (AWS_ENDPOINT_URL).
#   local_stack_stop               stops it (the callers' EXIT trap)

local_stack_tools() {
  scripts/setup
  translator_venv=.run/sam-translator-venv
  if [ ! -x "$translator_venv/bin/python" ]; then
    say "installing the SAM translator into $translator_venv"
    python3 -m venv "$translator_venv"
    "$translator_venv/bin/pip" install --quiet --disable-pip-version-check 'aws-sam-translator==1.115.0' 'cfn-lint==1.58.0'
  fi
}

local_stack_translate() {
  say "translating template.yaml"
  "$translator_venv/bin/python" infra/sam-translate.py template.yaml >"$1"
  "$translator_venv/bin/cfn-lint" "$1"
}

# backroom's own settings, unset for what the scripts start: the caller's environment must not
# point the functions (which inherit ministack's environment) at real services or another database.
backroom_env_unset=(-u DATABASE_URL -u DSQL_ENDPOINT -u DSQL_ROLE -u STRIPE_SECRET_KEY -u STRIPE_API_BASE
  -u STRIPE_WEBHOOK_SECRETS -u PRINTFUL_TOKEN -u PRINTFUL_API_BASE -u PRINTFUL_WEBHOOK_TOKEN
  -u PRINTFUL_WEBHOOK_SECRET -u EVENTS_QUEUE_URL -u DEAD_LETTER_QUEUE_URL -u EVENT_BUS_NAME
  -u AWS_ENDPOINT_URL -u AWS_PROFILE)

ministack_pid=
ministack_endpoint=
local_stack_start() {
  local dir=$1 port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  ministack_endpoint=http://127.0.0.1:$port
  say "starting ministack on 127.0.0.1:$port"
  mkdir -p "$dir/ministack-tmp"
  env "${backroom_env_unset[@]}" BIND_HOST=127.0.0.1 GATEWAY_PORT=$port AWS_ENDPOINT_URL=$ministack_endpoint \
    TMPDIR="$dir/ministack-tmp" .venv/bin/ministack >"$dir/ministack.log" 2>&1 &
  ministack_pid=$!
  for _ in $(seq 100); do
    curl -sf "$ministack_endpoint/_ministack/health" >/dev/null && return 0
    sleep 0.1
  done
  cat "$dir/ministack.log" >&2
  say "ministack did not start"
  return 1
}

local_stack_stop() {
  if [ -n "$ministack_pid" ]; then
    kill "$ministack_pid" 2>/dev/null || true
    wait "$ministack_pid" 2>/dev/null || true
    ministack_pid=
  fi
}
