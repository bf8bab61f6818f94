#!/bin/sh
# The namespace and Keeptime's search attributes, retried until both succeed (the server may still be
# starting, and a namespace just created takes a moment to reach every service: registering attributes at
# once can fail). Idempotent: an existing namespace is kept, an existing attribute of the same type is fine.
set -eu
NAMESPACE=${TEMPORAL_NAMESPACE:-default}
ADDRESS=${TEMPORAL_ADDRESS:-temporal:7233}
ATTEMPTS=${SETUP_ATTEMPTS:-60}
: "${KEEPTIME_SEARCH_ATTRIBUTES:?KEEPTIME_SEARCH_ATTRIBUTES is required (Name=Type ...)}"

retry() {  # retry <what> <command...>: every 5 s until it succeeds or ATTEMPTS run out
  what=$1; shift; n=1
  until "$@"; do
    if [ "$n" -ge "$ATTEMPTS" ]; then echo "gave up: $what" >&2; exit 1; fi
    echo "not yet: $what (attempt $n/$ATTEMPTS)"; n=$((n + 1)); sleep 5
  done
}

namespace_ready() {
  temporal operator namespace describe -n "$NAMESPACE" --address "$ADDRESS" >/dev/null 2>&1 ||
    temporal operator namespace create -n "$NAMESPACE" --retention "${NAMESPACE_RETENTION:-30d}" --address "$ADDRESS"
}

attribute_ready() {  # attribute_ready Name Type: created, or listed already
  temporal operator search-attribute create -n "$NAMESPACE" --name "$1" --type "$2" --address "$ADDRESS" ||
    temporal operator search-attribute list -n "$NAMESPACE" --address "$ADDRESS" | grep -qw "$1"
}

retry "Temporal at $ADDRESS is healthy" temporal operator cluster health --address "$ADDRESS"
retry "namespace $NAMESPACE" namespace_ready
for declaration in $KEEPTIME_SEARCH_ATTRIBUTES; do
  retry "search attribute $declaration" attribute_ready "${declaration%%=*}" "${declaration#*=}"
done
echo "namespace $NAMESPACE and its search attributes are ready"
