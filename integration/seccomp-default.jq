# containers-common's default seccomp profile (/usr/share/containers/seccomp.json, Debian package
# golang-github-containers-common; moby's format) as an OCI `linux.seccomp` for x86_64 and
# `runc spec`'s default capabilities, resolved the way podman resolves it: a rule is kept when
# the capabilities and architectures it includes are ours and those it excludes are not.
# The benchmarks run every runtime with it, as containerd and podman run containers with their
# default profiles: 434 syscall names, default action ERRNO, argument conditions on a few.
def caps: ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
def arches: ["amd64", "x32", "x86"];
def applies:
  ((.includes.caps // []) - caps | length == 0)
  and ((.includes.arches // []) | length == 0 or any(.[]; . as $a | arches | index($a)))
  and ((.excludes.caps // []) | all(.[]; . as $c | caps | index($c) | not))
  and ((.excludes.arches // []) | all(.[]; . as $a | arches | index($a) | not));
{
  defaultAction: .defaultAction,
  defaultErrnoRet: (.defaultErrnoRet // 1),
  architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
  syscalls: [.syscalls[] | select(applies)
    | {names, action}
      + (if .errnoRet then {errnoRet} else {} end)
      + (if (.args // []) | length > 0
         then {args: [.args[] | {index, value, op}
                      + (if .valueTwo and .valueTwo != 0 then {valueTwo} else {} end)]}
         else {} end)]
}
