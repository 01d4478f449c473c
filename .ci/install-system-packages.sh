#!/usr/bin/env bash
# Install the system packages the tests start for real (OpenSSH sshd, later Chromium),
# only when they are missing, so a warm CI image or a developer machine pays nothing.
# Usage: .ci/install-system-packages.sh [sshd] [chromium]   (no argument: all of them)
set -euo pipefail

want=("$@")
[ ${#want[@]} -eq 0 ] && want=(sshd chromium)

missing=()
for item in "${want[@]}"; do
  case "$item" in
    sshd)
      # sshd lives in /usr/sbin, which is not always on a non-root PATH
      if ! command -v sshd >/dev/null 2>&1 && [ ! -x /usr/sbin/sshd ]; then
        missing+=(openssh-server openssh-client)
      fi
      ;;
    chromium)
      if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
        missing+=(chromium)
      fi
      ;;
    *)
      echo "install-system-packages: unknown item '$item' (known: sshd chromium)" >&2
      exit 2
      ;;
  esac
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-system-packages: nothing to install"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

echo "install-system-packages: installing ${missing[*]}"
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
