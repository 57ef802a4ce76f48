;; `cat PATH`: copies the file at absolute guest path argv[1] to stdout; if it cannot be opened,
;; prints `open failed: errno N` on stderr and exits 1. Needs prelude.wat.
  (data (i32.const 64) "open failed: errno \00")
  (func (export "_start")
    (local $fd i32)
    (local.set $fd (call $open (call $arg (i32.const 1))))
    (if (i32.lt_s (local.get $fd) (i32.const 0)) (then
      (call $puts (i32.const 2) (i32.const 64))
      (call $put_i32 (i32.const 2) (i32.sub (i32.const 0) (local.get $fd)))
      (call $proc_exit (i32.const 1))))
    (call $copy_out (local.get $fd)))
