# Sums the bytes of the input memory (r1 = memory, r2 = its length) with a
# plain loop, then mixes in the length: a tiny workload for `bext run`.
mov %r0, 0
mov %r3, 0
loop:
jge %r3, %r2, done
mov %r4, %r1
add %r4, %r3
ldxb %r5, [%r4]
add %r0, %r5
add %r3, 1
ja loop
done:
lsh %r2, 32
or %r0, %r2
exit
