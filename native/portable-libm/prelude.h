/* Included before every musl math source of the portable libm (-include).
 * musl's own headers are not used: the host's <math.h> is, so musl's internal
 * helpers that share names with glibc's internal declarations are renamed,
 * and `hidden` (from musl's src/include/features.h) is defined here. */
#include <math.h>
#define hidden __attribute__((__visibility__("hidden")))
#define __sin __xsnap_musl_sin
#define __cos __xsnap_musl_cos
#define __tan __xsnap_musl_tan
#define __sinl __xsnap_musl_sinl
#define __cosl __xsnap_musl_cosl
#define __tanl __xsnap_musl_tanl
