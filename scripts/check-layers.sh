#!/usr/bin/env bash
# Fails when the layers of the source tree lean the wrong way (docs/architecture.md draws them):
#  - bridge/ is the protocol-blind core: no file there names a service a family serves, and none includes
#    from connectors/ or app/;
#  - inside bridge/, each layer includes only the layers below it: text, base, net, then xmpp/http/pg, store, core;
#  - a family (connectors/<family>/) includes bridge/, connectors/formats/ and its own folder, never another
#    family; only connectors/families.cpp lists them all;
#  - nothing but app/ includes app/.
set -euo pipefail
cd "$(dirname "$0")/.."

status=0
fail() { echo "layers: $*" >&2; status=1; }

services='alertmanager|grafana|slack|mattermost|rocket\.?chat|discord|matrix|telegram'
if found=$(grep -rniE "$services" bridge); then
  fail "bridge/ is protocol-blind, but names a service:"
  echo "$found" >&2
fi

# The includes of the files under $1 that start with one of the prefixes $2 (a regular expression).
includes_of() { grep -rnE "^#include \"($2)" "$1" || true; }

found=$(includes_of bridge 'connectors/|app/')
[ -z "$found" ] || { fail "bridge/ includes from connectors/ or app/:"; echo "$found" >&2; }
found=$(includes_of connectors 'app/')
[ -z "$found" ] || { fail "connectors/ includes from app/:"; echo "$found" >&2; }

# Each layer of bridge/ and what it may include besides itself.
declare -A below=(
  [text]=''
  [base]='text'
  [net]='text|base'
  [xmpp]='text|base|net'
  [http]='text|base|net'
  [pg]='text|base'
  [store]='text|base|xmpp|pg'
  [core]='text|base|net|xmpp|http|pg|store'
)
for layer in "${!below[@]}"; do
  [ -d "bridge/$layer" ] || { fail "bridge/$layer is listed here but does not exist"; continue; }
  allowed="bridge/$layer/${below[$layer]:+|bridge/(${below[$layer]})/}"
  found=$(grep -rnE '^#include "bridge/' "bridge/$layer" | grep -vE "#include \"($allowed)" || true)
  [ -z "$found" ] || { fail "bridge/$layer includes a layer above it:"; echo "$found" >&2; }
done
for folder in bridge/*/; do
  layer=$(basename "$folder")
  [ -n "${below[$layer]+set}" ] || fail "bridge/$layer is not placed among the layers of scripts/check-layers.sh"
done

for family in connectors/*/; do
  family=${family%/}
  found=$(grep -rnE '^#include "connectors/' "$family" |
    grep -vE "#include \"($family/|connectors/formats/)" || true)
  [ -z "$found" ] || { fail "$family includes another family:"; echo "$found" >&2; }
done
found=$(grep -rnE '^#include "connectors/[a-z_]+/' connectors/formats | grep -v '#include "connectors/formats/' || true)
[ -z "$found" ] || { fail "connectors/formats is shared by the families and includes none:"; echo "$found" >&2; }

[ $status = 0 ] && echo "layers: bridge/ is protocol-blind and every include points down"
exit $status
