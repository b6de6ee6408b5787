#!/bin/sh
# Plugins may include only the public SDK headers (<pipelet/...>), jansson, OpenSSL and
# system headers, their own local headers and plugins/ocpp_common: never the core's internals or
# libevent/libpq.
cd "$(dirname "$0")/.." || exit 1
bad=$(grep -rnE '^\s*#\s*include\s*[<"](core/|event2/|libpq|\.\./|[a-z_]+-internal\.h)' plugins sdk/example 2>/dev/null)
for f in $(grep -rlE '^\s*#\s*include\s*"' plugins sdk/example 2>/dev/null); do
  d=$(dirname "$f")
  for h in $(sed -nE 's/^\s*#\s*include\s*"([^"]+)".*/\1/p' "$f"); do
    [ -f "$d/$h" ] || [ -f "plugins/ocpp_common/$h" ] || bad="$bad
$f: includes \"$h\" which is not beside it"
  done
done
if [ -n "$bad" ]; then
  echo "layering violations:$bad"
  exit 1
fi
echo "layering OK"
