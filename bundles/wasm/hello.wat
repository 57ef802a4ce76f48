;; hello.wat: bvisor's sample WASI preview 1 command, in the text format.
;;
;; Prints a greeting line, its arguments ("arg: …"), its environment ("env: …"), then the
;; contents of /etc/greeting ("greeting: …"), opened through the preopened directory whose guest
;; path is the longest prefix of it (the way wasi-libc picks one). Exits 0, or 1 with one line on
;; stderr if the file cannot be opened (no preopen holds it: WASI errno 76, ENOTCAPABLE).
;;
;; make-rootfs.sh turns it into rootfs/hello.wasm; bvisor-wasm also runs this file as it is.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $fd_prestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_dir_name" (func $fd_prestat_dir_name (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))

  (memory (export "memory") 1)

  ;; 0..15    scratch: an iovec (base, len) at 0 and a result word at 8
  ;; 16..23   two result words (sizes, prestat)
  ;; 32..63   decimal digits
  ;; 64..1023 NUL-terminated strings
  ;; 1024..   bump heap
  (data (i32.const 64) "hello from wasm\0a\00")
  (data (i32.const 128) "arg: \00")
  (data (i32.const 192) "env: \00")
  (data (i32.const 256) "/etc/greeting\00")
  (data (i32.const 320) "greeting: \00")
  (data (i32.const 384) "hello: cannot open /etc/greeting: wasi errno \00")
  (data (i32.const 448) "\0a\00")
  (global $heap (mut i32) (i32.const 1024))
  (global $rel (mut i32) (i32.const 0))

  ;; n bytes of heap, 8-aligned; grows memory when needed, traps if it cannot.
  (func $alloc (param $n i32) (result i32)
    (local $p i32) (local $end i32)
    (local.set $p (global.get $heap))
    (local.set $end (i32.and (i32.add (i32.add (local.get $p) (local.get $n)) (i32.const 7)) (i32.const -8)))
    (if (i32.gt_u (local.get $end) (i32.mul (memory.size) (i32.const 65536)))
      (then
        (if (i32.eq (i32.const -1)
              (memory.grow (i32.div_u (i32.add (i32.sub (local.get $end) (i32.mul (memory.size) (i32.const 65536)))
                                               (i32.const 65535)) (i32.const 65536))))
          (then unreachable))))
    (global.set $heap (local.get $end))
    (local.get $p))

  (func $write (param $fd i32) (param $p i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $p))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))

  (func $strlen (param $p i32) (result i32)
    (local $q i32)
    (local.set $q (local.get $p))
    (block $done (loop $next
      (br_if $done (i32.eqz (i32.load8_u (local.get $q))))
      (local.set $q (i32.add (local.get $q) (i32.const 1)))
      (br $next)))
    (i32.sub (local.get $q) (local.get $p)))

  (func $puts (param $fd i32) (param $p i32)
    (call $write (local.get $fd) (local.get $p) (call $strlen (local.get $p))))

  (func $put_u32 (param $fd i32) (param $n i32)
    (local $p i32)
    (local.set $p (i32.const 64))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
      (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
      (br_if $digit (local.get $n)))
    (call $write (local.get $fd) (local.get $p) (i32.sub (i32.const 64) (local.get $p))))

  ;; "<prefix><string>\n" for each of the count pointers at $ptrs.
  (func $print_list (param $prefix i32) (param $count i32) (param $ptrs i32)
    (local $i i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
      (call $puts (i32.const 1) (local.get $prefix))
      (call $puts (i32.const 1) (i32.load (i32.add (local.get $ptrs) (i32.shl (local.get $i) (i32.const 2)))))
      (call $puts (i32.const 1) (i32.const 448))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))))

  ;; If preopen name (n, nlen) holds path (p, plen): the length of the name without trailing
  ;; slashes (the part of the path it consumes); else -1.
  (func $holds (param $n i32) (param $nlen i32) (param $p i32) (param $plen i32) (result i32)
    (local $i i32)
    (block $trimmed (loop $trim
      (br_if $trimmed (i32.eqz (local.get $nlen)))
      (br_if $trimmed (i32.ne (i32.load8_u (i32.sub (i32.add (local.get $n) (local.get $nlen)) (i32.const 1)))
                              (i32.const 47)))
      (local.set $nlen (i32.sub (local.get $nlen) (i32.const 1)))
      (br $trim)))
    (if (i32.gt_u (local.get $nlen) (local.get $plen)) (then (return (i32.const -1))))
    (block $same (loop $cmp
      (br_if $same (i32.ge_u (local.get $i) (local.get $nlen)))
      (if (i32.ne (i32.load8_u (i32.add (local.get $n) (local.get $i)))
                  (i32.load8_u (i32.add (local.get $p) (local.get $i))))
        (then (return (i32.const -1))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $cmp)))
    (if (i32.eq (local.get $nlen) (local.get $plen)) (then (return (local.get $nlen))))
    (if (i32.eq (i32.load8_u (i32.add (local.get $p) (local.get $nlen))) (i32.const 47))
      (then (return (local.get $nlen))))
    (i32.const -1))

  ;; The preopen fd whose name is the longest prefix of the absolute path (p, plen), or -1;
  ;; sets $rel to the length of the path that prefix consumes.
  (func $find_preopen (param $p i32) (param $plen i32) (result i32)
    (local $fd i32) (local $err i32) (local $nlen i32) (local $name i32) (local $len i32)
    (local $best i32) (local $best_len i32)
    (local.set $fd (i32.const 3))
    (local.set $best (i32.const -1))
    (local.set $best_len (i32.const -1))
    (block $end (loop $next
      (local.set $err (call $fd_prestat_get (local.get $fd) (i32.const 16)))
      (br_if $end (i32.eq (local.get $err) (i32.const 8)))  ;; EBADF: no more preopens
      (if (i32.and (i32.eqz (local.get $err)) (i32.eqz (i32.load8_u (i32.const 16))))
        (then
          (local.set $nlen (i32.load (i32.const 20)))
          (local.set $name (call $alloc (local.get $nlen)))
          (if (i32.eqz (call $fd_prestat_dir_name (local.get $fd) (local.get $name) (local.get $nlen)))
            (then
              (local.set $len (call $holds (local.get $name) (local.get $nlen) (local.get $p) (local.get $plen)))
              (if (i32.gt_s (local.get $len) (local.get $best_len))
                (then (local.set $best (local.get $fd)) (local.set $best_len (local.get $len))))))))
      (local.set $fd (i32.add (local.get $fd) (i32.const 1)))
      (br $next)))
    (global.set $rel (local.get $best_len))
    (local.get $best))

  ;; Opens absolute path (p, plen) for reading; returns the fd, or -errno.
  (func $open (param $p i32) (param $plen i32) (result i32)
    (local $dir i32) (local $err i32)
    (local.set $dir (call $find_preopen (local.get $p) (local.get $plen)))
    (if (i32.lt_s (local.get $dir) (i32.const 0)) (then (return (i32.const -76))))
    (local.set $p (i32.add (local.get $p) (global.get $rel)))
    (local.set $plen (i32.sub (local.get $plen) (global.get $rel)))
    (block $stripped (loop $strip
      (br_if $stripped (i32.eqz (local.get $plen)))
      (br_if $stripped (i32.ne (i32.load8_u (local.get $p)) (i32.const 47)))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (local.set $plen (i32.sub (local.get $plen) (i32.const 1)))
      (br $strip)))
    ;; the preopen itself: "."
    (if (i32.eqz (local.get $plen))
      (then (i32.store8 (i32.const 24) (i32.const 46)) (local.set $p (i32.const 24)) (local.set $plen (i32.const 1))))
    ;; dirflags = symlink-follow, oflags = 0, rights = fd_read | fd_seek | fd_filestat_get
    (local.set $err (call $path_open (local.get $dir) (i32.const 1) (local.get $p) (local.get $plen)
                          (i32.const 0) (i64.const 0x200006) (i64.const 0) (i32.const 0) (i32.const 8)))
    (if (local.get $err) (then (return (i32.sub (i32.const 0) (local.get $err)))))
    (i32.load (i32.const 8)))

  ;; Copies fd to stdout until end of file.
  (func $copy_out (param $fd i32)
    (local $buf i32) (local $n i32)
    (local.set $buf (call $alloc (i32.const 4096)))
    (block $eof (loop $next
      (i32.store (i32.const 0) (local.get $buf))
      (i32.store (i32.const 4) (i32.const 4096))
      (br_if $eof (call $fd_read (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)))
      (local.set $n (i32.load (i32.const 8)))
      (br_if $eof (i32.eqz (local.get $n)))
      (call $write (i32.const 1) (local.get $buf) (local.get $n))
      (br $next))))

  (func (export "_start")
    (local $count i32) (local $ptrs i32) (local $fd i32)
    (call $puts (i32.const 1) (i32.const 64))
    ;; arguments
    (drop (call $args_sizes_get (i32.const 16) (i32.const 20)))
    (local.set $count (i32.load (i32.const 16)))
    (local.set $ptrs (call $alloc (i32.shl (local.get $count) (i32.const 2))))
    (drop (call $args_get (local.get $ptrs) (call $alloc (i32.load (i32.const 20)))))
    (call $print_list (i32.const 128) (local.get $count) (local.get $ptrs))
    ;; environment
    (drop (call $environ_sizes_get (i32.const 16) (i32.const 20)))
    (local.set $count (i32.load (i32.const 16)))
    (local.set $ptrs (call $alloc (i32.shl (local.get $count) (i32.const 2))))
    (drop (call $environ_get (local.get $ptrs) (call $alloc (i32.load (i32.const 20)))))
    (call $print_list (i32.const 192) (local.get $count) (local.get $ptrs))
    ;; the greeting from the rootfs
    (local.set $fd (call $open (i32.const 256) (call $strlen (i32.const 256))))
    (if (i32.lt_s (local.get $fd) (i32.const 0))
      (then
        (call $puts (i32.const 2) (i32.const 384))
        (call $put_u32 (i32.const 2) (i32.sub (i32.const 0) (local.get $fd)))
        (call $puts (i32.const 2) (i32.const 448))
        (call $proc_exit (i32.const 1))))
    (call $puts (i32.const 1) (i32.const 320))
    (call $copy_out (local.get $fd))
    (drop (call $fd_close (local.get $fd)))))
