#!/usr/bin/env bash
# s3proxy, an S3-compatible server, for the archive tests (tests/kafka/test_archive.py): its jars are fetched
# once through Maven into .cache/s3proxy (make test runs `scripts/s3proxy.sh fetch` before the tests, so no
# test downloads anything); the tests start their own server on a free loopback port with `run`.
#   scripts/s3proxy.sh fetch
#   scripts/s3proxy.sh run PORT DATA_DIR IDENTITY CREDENTIAL     (foreground)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
VERSION=2.6.0
libs="$root/.cache/s3proxy/libs-$VERSION"

fetch() {
  [ -f "$libs/.complete" ] && return 0
  command -v mvn >/dev/null || { echo "s3proxy: mvn not found: install Maven (and Java 17) first" >&2; exit 1; }
  echo "s3proxy: fetching s3proxy $VERSION through Maven into $libs" >&2
  rm -rf "$libs"; mkdir -p "$libs"
  if ! mvn -B -q -Dstyle.color=never -f "$here/s3proxy/pom.xml" -Ds3proxy.version="$VERSION" \
      dependency:copy-dependencies -DoutputDirectory="$libs" -DincludeScope=runtime 2>&1 | sed 's/\x1b\[[0-9;]*m//g'; then
    echo "s3proxy: Maven could not fetch s3proxy (see above)" >&2; exit 1
  fi
  touch "$libs/.complete"
}

case "${1:-}" in
  fetch) fetch ;;
  run)
    [ $# -eq 5 ] || { echo "usage: $0 run PORT DATA_DIR IDENTITY CREDENTIAL" >&2; exit 2; }
    fetch
    conf="$3/s3proxy.conf"
    mkdir -p "$3/blobs"
    cat >"$conf" <<CONF
s3proxy.endpoint=http://127.0.0.1:$2
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=$4
s3proxy.credential=$5
jclouds.provider=filesystem
jclouds.filesystem.basedir=$3/blobs
CONF
    exec java -DLOG_LEVEL=warn -cp "$libs/*" org.gaul.s3proxy.Main --properties "$conf" ;;
  *) echo "usage: $0 fetch | run PORT DATA_DIR IDENTITY CREDENTIAL" >&2; exit 2 ;;
esac
