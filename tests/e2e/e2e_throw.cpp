// SPDX-License-Identifier: MIT
/*
 * e2e target in C++: thrower(x) throws for every x divisible by 3 and
 * returns x otherwise; the exceptions pass through the probed function.
 */
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

extern "C" __attribute__((noinline, noclone, used)) long thrower(long x)
{
	if (x % 3 == 0)
		throw std::runtime_error("multiple of three");
	return x;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 300, caught = 0, sum = 0;

	for (long i = 0; i < n; i++) {
		try {
			sum += thrower(i);
		} catch (const std::runtime_error &) {
			caught++;
		}
	}
	std::printf("caught %ld sum %ld\n", caught, sum);
	return 0;
}
