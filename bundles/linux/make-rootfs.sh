#!/usr/bin/env bash
# Build a busybox rootfs from Debian's busybox-static into DIR (default: bundles/linux/rootfs).
# The rootfs is generated, never committed. Idempotent: an existing complete rootfs is kept.
set -euo pipefail
dest=${1:-$(cd "$(dirname "$0")" && pwd)/rootfs}
bb=/bin/busybox
if [ ! -x "$bb" ] || ! "$bb" --list >/dev/null 2>&1; then
  echo "make-rootfs: $bb missing: apt-get install busybox-static" >&2
  exit 1
fi
if [ -f "$dest/.bvisor-rootfs" ] && cmp -s "$bb" "$dest/bin/busybox"; then
  exit 0
fi
rm -rf "$dest"
mkdir -p "$dest"/{bin,sbin,etc,proc,sys,dev,tmp,root,home,var,run,usr/bin,usr/sbin}
chmod 1777 "$dest/tmp"
cp "$bb" "$dest/bin/busybox"
for applet in $("$bb" --list); do
  [ "$applet" = busybox ] && continue
  ln -sf busybox "$dest/bin/$applet"
done
cat > "$dest/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat > "$dest/etc/group" <<'G'
root:x:0:
nogroup:x:65534:
G
echo "bvisor sample rootfs (busybox-static)" > "$dest/etc/motd"
touch "$dest/.bvisor-rootfs"
