#!/usr/bin/env bash
# The project's CI deploy (docs/deploy.md, "In CI"):
#   validate --strict → build → deploy --plan → deploy --canary → verify → summary.
# Environment: CLOUDFLARE_API_TOKEN, CLOUDFLARE_ACCOUNT_ID and the values of
# cloudflare.secrets (required); EDGECONF_ENV (default production); CANARY
# (percent, default 10; 0 deploys without a canary); CANARY_WINDOW (default
# 5m); PROBE_INTERVAL (default 5s); DEPLOY_URL (the Worker's URL; required
# for a canary); PROBE_HOST (optional Host header for the probes); EDGECONF
# (the edgeconf command; default: go run ./cmd/edgeconf); DEPLOY_MESSAGE
# (optional; the git commit is recorded either way).
# Exit status: that of the first step that failed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

ENV_NAME=${EDGECONF_ENV:-production}
CANARY=${CANARY:-10}
CANARY_WINDOW=${CANARY_WINDOW:-5m}
if [[ -n "${EDGECONF:-}" ]]; then
	read -r -a ec <<<"$EDGECONF"
else
	ec=(go run ./cmd/edgeconf)
fi
summary=${GITHUB_STEP_SUMMARY:-/dev/stdout}

step() { echo "== $*" >&2; }

step "validate --strict (env $ENV_NAME)"
"${ec[@]}" validate --strict --env "$ENV_NAME" -q

step "build"
"${ec[@]}" build --env "$ENV_NAME" --outdir "dist/$ENV_NAME"

step "plan"
plan_status=0
"${ec[@]}" deploy --plan --env "$ENV_NAME" --detailed-exitcode -q || plan_status=$?
case $plan_status in
0) echo "nothing to deploy" >&2 ;;
2) ;;
*) exit "$plan_status" ;;
esac

args=(deploy --env "$ENV_NAME" --migrate -o json -q)
if [[ -n "${DEPLOY_URL:-}" ]]; then
	args+=(--url "$DEPLOY_URL" --probe-interval "${PROBE_INTERVAL:-5s}")
	[[ -n "${PROBE_HOST:-}" ]] && args+=(--probe-host "$PROBE_HOST")
	if [[ "$CANARY" != 0 ]]; then
		args+=(--canary "$CANARY" --canary-window "$CANARY_WINDOW")
	fi
elif [[ "$CANARY" != 0 ]]; then
	echo "deploy.sh: CANARY=$CANARY needs DEPLOY_URL (the Worker's URL to probe); set CANARY=0 to deploy without one" >&2
	exit 2
fi
if [[ -n "${DEPLOY_MESSAGE:-}" ]]; then
	args+=(--message "$DEPLOY_MESSAGE") # edgeconf adds the git commit itself
fi

step "deploy"
result=$(mktemp)
trap 'rm -f "$result"' EXIT
deploy_status=0
"${ec[@]}" "${args[@]}" >"$result" || deploy_status=$?

step "verify"
"${ec[@]}" deployments status --env "$ENV_NAME" -q >&2 || true

{
	echo "### edgeconf deploy ($ENV_NAME)"
	echo
	echo '```json'
	cat "$result"
	echo '```'
} >>"$summary"
exit "$deploy_status"
