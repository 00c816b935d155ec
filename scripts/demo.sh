#!/usr/bin/env bash
# A rollback drill on a throwaway repository: makes a bare repo whose last good deploy is followed
# by a bad one, shows the plan (--dry-run), rolls back, and prints the resulting history.
set -euo pipefail
cd "$(dirname "$0")/.."
cli="node dist/cli/gitops-rollback.js"
demo=$(mktemp -d /tmp/gitops-rollback-demo.XXXXXX)
export GIT_CONFIG_GLOBAL=/dev/null GIT_AUTHOR_NAME=Dev GIT_AUTHOR_EMAIL=dev@example.com GIT_COMMITTER_NAME=Dev GIT_COMMITTER_EMAIL=dev@example.com

git init -q -b main "$demo/work"
mkdir -p "$demo/work/apps/frontend" "$demo/work/apps/backend"
printf 'kind: Deployment\nspec:\n  image: frontend:1.4.0\n' > "$demo/work/apps/frontend/deploy.yaml"
printf 'kind: Deployment\nspec:\n  image: backend:2.0.0\n' > "$demo/work/apps/backend/deploy.yaml"
git -C "$demo/work" add -A && git -C "$demo/work" commit -q -m "Deploy frontend 1.4.0 and backend 2.0.0"
sed -i 's/1.4.0/1.5.0/' "$demo/work/apps/frontend/deploy.yaml"
git -C "$demo/work" commit -q -am "Deploy frontend 1.5.0"
bad=$(git -C "$demo/work" rev-parse --short HEAD)
git clone -q --bare "$demo/work" "$demo/fleet.git"

echo "== Plan (dry run) =="
$cli revert --repo "$demo/fleet.git" --commit "$bad" --reason "500s on /checkout" --incident INC-12345 --dry-run
echo
echo "== Roll back =="
$cli revert --repo "$demo/fleet.git" --commit "$bad" --reason "500s on /checkout" --incident INC-12345 --cache-dir "$demo/cache"
echo
echo "== History of $demo/fleet.git =="
git -C "$demo/fleet.git" log --format='%h %s%n%b' -3
