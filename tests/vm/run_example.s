# bext run test: sums the 4-byte little-endian words of the memory (r1, r2 bytes)
# and adds 1000 from a local call.  With run_example.mem (1, 2, 3, 4) r0 = 1010.
	mov %r0, 0
	mov %r3, %r1
	add %r3, %r2
loop:
	jge %r1, %r3, done
	ldxw %r4, [%r1]
	add %r0, %r4
	add %r1, 4
	ja loop
done:
	mov %r6, %r0
	call local thousand
	add %r0, %r6
	exit
thousand:
	mov %r0, 1000
	exit
