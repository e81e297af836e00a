/* nearbyint for the portable libm. musl's nearbyint.c is rint() wrapped in
 * fetestexcept/feclearexcept, which would import the host's fenv functions
 * from libm. XS never reads floating-point exception flags, so rint alone
 * gives the same results (rounding to an integer is exact). */
double rint(double);
double nearbyint(double x) { return rint(x); }
