#!/usr/bin/env bash
# Make sure what the test suite talks to is there: PostgreSQL, MariaDB, Redis, a Java runtime
# (for the Spark tests), Chromium (the export page test) and exiftool (the media tests' oracle).
# Starts a stopped server; installs Java, Chromium and exiftool only when missing.
set -euo pipefail

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! up 5432; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
fi
if ! up 3306; then
  echo "starting MariaDB"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
fi
if ! up 6379; then
  echo "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
fi
for _ in $(seq 1 30); do
  up 5432 && up 3306 && up 6379 && break
  sleep 1
done
up 5432 || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
up 3306 || { echo "MariaDB is not reachable on 127.0.0.1:3306" >&2; exit 1; }
up 6379 || { echo "Redis is not reachable on 127.0.0.1:6379" >&2; exit 1; }

if ! command -v java >/dev/null 2>&1; then
  echo "installing a Java runtime for Spark"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless
fi

if ! command -v chromium >/dev/null 2>&1; then
  echo "installing Chromium (headless) for the rights-request page test"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi

if ! command -v exiftool >/dev/null 2>&1; then
  echo "installing exiftool (the media tests' oracle and bench/media.py's baseline)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libimage-exiftool-perl
fi
