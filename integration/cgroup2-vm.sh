#!/usr/bin/env bash
# A pure cgroup v2 machine for the knobs this host cannot prove (its cgroup2 hierarchy holds only
# hugetlb; every other controller is bound to v1): Debian 12's own kernel (the linux-image-amd64
# package, fetched with `apt-get download` and unpacked, never installed) booted under qemu
# (emulated) with an initramfs of busybox, bvisor's binaries and
# their libraries, the busybox sample rootfs and one bundle per case. The guest mounts only
# cgroup2, enables every controller and runs integration/cgroup2-vm/guest.sh, which prints
# "BVT PASS|FAIL name" per case from ground truth (cgroup files, /proc, the workload's fate).
# Prints those lines; exits 0 only if the guest finished and nothing failed.
# tests/cgroup2_vm.rs runs it under nextest, so the ledger's v2 rows cite a test of this run.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
root=$(repo_root)
cd "$root"

apt_install qemu-system-x86 cpio busybox-static jq binutils
PROFILE=${BVISOR_PROFILE:-debug}
ensure_built "$PROFILE" bvisor bvisor-launcher

# The guest kernel, once per checkout.
K=$root/target/vm-kernel
if [ ! -f "$K/vmlinuz" ]; then
  mkdir -p "$K"
  pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  (cd "$K" && apt-get download -qq "$pkg" 2>/dev/null)
  dpkg-deb --fsys-tarfile "$K"/linux-image-*.deb | tar -x -C "$K" ./boot
  cp "$K"/boot/vmlinuz-* "$K/vmlinuz"
  rm -rf "$K"/boot "$K"/linux-image-*.deb
fi

W=$(mktemp -d /tmp/bvisor-cgroup2-vm.XXXXXX)
trap 'rm -rf "$W"' EXIT
R=$W/initramfs
mkdir -p "$R"/{bin,bvisor,cases,bundle,proc,sys,dev,tmp,run,etc}
cp /bin/busybox "$R/bin/busybox"
for b in bvisor bvisor-launcher; do strip -o "$R/bvisor/$b" "target/$PROFILE/$b"; done
for lib in $(ldd "target/$PROFILE/bvisor" "target/$PROFILE/bvisor-launcher" |
  awk '/=>/ {print $3} /^\t\/lib/ {print $1}' | sort -u); do
  mkdir -p "$R$(dirname "$lib")"
  cp -L "$lib" "$R$lib"
done
cp -a bundles/linux/rootfs "$R/bundle/rootfs"
cp integration/cgroup2-vm/guest.sh "$R/guest.sh"

# One bundle per case: the config `bvisor spec` writes, rootfs by absolute path, no device
# rules (v2 device rules need an eBPF program bvisor does not load: refused, not this test's).
mkdir -p "$W/spec"
"target/$PROFILE/bvisor" spec --bundle "$W/spec" >/dev/null
bundle() { # NAME JQ-FILTER
  mkdir -p "$R/cases/$1"
  jq '.root.path = "/bundle/rootfs" | .process.terminal = false | del(.linux.resources)
      | .process.args = ["sleep", "100"] | '"$2" "$W/spec/config.json" > "$R/cases/$1/config.json"
}
hog='.process.args = ["sh", "-c", "dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo dd-exit=$?"]'
forks='.process.args = ["sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 5 & done; echo forked-10"]'
bundle mem-hog "$hog | .linux.resources = {memory: {limit: 16777216, swap: 16777216}}"
bundle mem-control "$hog"
bundle mem-live '.linux.resources = {memory: {limit: 16777216, swap: 16777216, reservation: 8388608}}'
bundle pids-limited "$forks | .linux.resources = {pids: {limit: 4}}"
bundle pids-control "$forks"
bundle pids-live '.linux.resources = {pids: {limit: 4}}'
bundle cpu-live '.linux.resources = {cpu: {shares: 512, quota: 50000, period: 100000, burst: 20000, cpus: "1", mems: "0"}, unified: {"memory.high": "33554432"}}'
bundle idle-live '.linux.resources = {cpu: {idle: 1}}'
bundle huge-live '.linux.resources = {hugepageLimits: [{pageSize: "2MB", limit: 0}]}'
# The counter is replaced by rename, so a reader never sees it half-written.
bundle counter '.process.args = ["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /out/c.tmp; mv /out/c.tmp /out/counter; usleep 20000; done"]
  | .mounts += [{destination: "/out", type: "bind", source: "/tmp/cnt", options: ["bind", "rw"]}]'
kmsg='.process.args = ["sh", "-c", "mknod /dev/kmsg2 c 1 11 && ( (: > /dev/kmsg2) 2>/dev/null && echo kmsg-open || echo kmsg-denied); echo x > /dev/null && echo null-ok"]
  | .process.capabilities = {bounding: ["CAP_MKNOD", "CAP_DAC_OVERRIDE"], effective: ["CAP_MKNOD", "CAP_DAC_OVERRIDE"], permitted: ["CAP_MKNOD", "CAP_DAC_OVERRIDE"]}'
bundle dev-deny "$kmsg | .linux.resources = {devices: [{allow: false, access: \"rwm\"}]}"
bundle dev-control "$kmsg"
bundle forker '.process.args = ["sh", "-c", "while :; do (sleep 300 &); sleep 0.01; done"]
  | .linux.resources = {pids: {limit: 64}}'

cat > "$R/init" <<'SH'
#!/bin/busybox sh
# The initramfs cannot be pivot_root'ed away from: copy into a tmpfs and switch_root to it.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t devtmpfs dev /dev
mkdir -p /newroot
mount -t tmpfs -o size=600m root /newroot
cp -a /bin /lib /lib64 /bvisor /cases /bundle /guest.sh /stage2 /newroot/ 2>/dev/null
mkdir -p /newroot/proc /newroot/sys /newroot/dev /newroot/tmp /newroot/run /newroot/etc
umount /proc
mount --move /dev /newroot/dev
exec switch_root /newroot /stage2
SH
cat > "$R/stage2" <<'SH'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
  echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control
done
sh /guest.sh
echo "BVT-EXIT $?"
poweroff -f
SH
chmod +x "$R/init" "$R/stage2" "$R/guest.sh"
(cd "$R" && find . | cpio -o -H newc --quiet | gzip -1) > "$W/initramfs.gz"

# Emulated (TCG), not KVM: under this machine's nested KVM the guest kernel hangs right after
# decompression; TCG boots it in about 1.5 s.
timeout 600 qemu-system-x86_64 -accel tcg,thread=multi -m 1024 -smp 2 -nographic -no-reboot \
  -kernel "$K/vmlinuz" -initrd "$W/initramfs.gz" \
  -append "console=ttyS0 panic=-1 rdinit=/init quiet loglevel=3" < /dev/null |
  tr -d '\r' > "$W/console.log" || true
grep '^BVT' "$W/console.log" || { echo "the guest printed no result:"; tail -30 "$W/console.log"; exit 1; }
grep -q '^BVT-EXIT' "$W/console.log" || { echo "the guest did not finish"; tail -30 "$W/console.log"; exit 1; }
! grep -q '^BVT FAIL' "$W/console.log"
