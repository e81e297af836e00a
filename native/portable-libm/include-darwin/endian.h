/* macOS has no <endian.h>; musl's libm.h reads these three names. Both darwin
 * targets (x86_64, arm64) are little-endian. Used only for darwin builds. */
#define __LITTLE_ENDIAN 1234
#define __BIG_ENDIAN 4321
#define __BYTE_ORDER __LITTLE_ENDIAN
