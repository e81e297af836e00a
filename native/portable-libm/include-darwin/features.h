/* macOS has no <features.h>; musl's *_data.h include it (musl's own
 * src/include/features.h) for `hidden`, which prelude.h defines. Used only for
 * darwin builds. */
