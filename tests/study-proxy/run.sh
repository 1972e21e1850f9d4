#!/usr/bin/env bash
# The human study behind a real reverse proxy (issue 23), on this machine's loopback only:
# installs Debian's nginx (and openssl, chromium) when missing, then runs the tests that make a
# self-signed certificate with openssl, start nginx with TLS on 127.0.0.1 in front of
# `persona study serve` (nginx connects from 127.0.0.2, the only trusted proxy), and
#   - drive the rater flow in Chromium through nginx: consent, questions, explanations, completion;
#   - show the app sees each rater's address, not nginx's: entry limits are per rater, and a forged
#     X-Forwarded-For, through nginx or straight from an untrusted peer, changes nothing;
#   - serve TLS directly with --cert/--key, with HSTS.
# Usage: tests/study-proxy/run.sh   (as root, or with nginx, openssl and chromium already installed)
set -euo pipefail
cd "$(dirname "$0")/../.."
missing=()
[ -x /usr/sbin/nginx ] || missing+=(nginx)
[ -x /usr/bin/openssl ] || missing+=(openssl)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  apt-get update && apt-get install -y "${missing[@]}"
fi
# Debian starts its own nginx on port 80 after installing it; the tests run their own instance on free
# loopback ports and never touch that one.
dotnet test tests/Persona.Web.Tests --filter "FullyQualifiedName~Persona.Web.Tests.ProxyTests|FullyQualifiedName~Persona.Web.Tests.ProlificTests"
