// Just enough Mach-O reading to check a darwin binary anywhere: its CPU type
// and the minimum macOS version it was linked for.

export interface MachOInfo {
  cpuType: number;
  /** e.g. "11.0", from LC_BUILD_VERSION or LC_VERSION_MIN_MACOSX */
  minMacos: string | null;
}

const MH_MAGIC_64 = 0xfeedfacf;
const FAT_MAGIC = 0xcafebabe;
const LC_VERSION_MIN_MACOSX = 0x24;
const LC_BUILD_VERSION = 0x32;
const PLATFORM_MACOS = 1;

export function isMachO(buf: Buffer): boolean {
  return buf.length >= 4 && (buf.readUInt32LE(0) === MH_MAGIC_64 || buf.readUInt32BE(0) === FAT_MAGIC);
}

/** "X.Y.Z" from Mach-O's nibble-packed xxxx.yy.zz, dropping a zero patch. */
function decodeVersion(v: number): string {
  const major = v >>> 16;
  const minor = (v >>> 8) & 0xff;
  const patch = v & 0xff;
  return patch ? `${major}.${minor}.${patch}` : `${major}.${minor}`;
}

export function readMachO(buf: Buffer): MachOInfo {
  if (buf.length >= 4 && buf.readUInt32BE(0) === FAT_MAGIC)
    throw new Error('a universal (fat) Mach-O; each package ships one architecture');
  if (buf.length < 32 || buf.readUInt32LE(0) !== MH_MAGIC_64) throw new Error('not a 64-bit Mach-O file (bad magic)');
  const cpuType = buf.readUInt32LE(4);
  const ncmds = buf.readUInt32LE(16);
  let off = 32;
  let minMacos: string | null = null;
  for (let i = 0; i < ncmds; i++) {
    if (off + 8 > buf.length) throw new Error('truncated Mach-O load commands');
    const cmd = buf.readUInt32LE(off);
    const size = buf.readUInt32LE(off + 4);
    if (size < 8) throw new Error('corrupt Mach-O load command size');
    if (cmd === LC_BUILD_VERSION && buf.readUInt32LE(off + 8) === PLATFORM_MACOS)
      minMacos = decodeVersion(buf.readUInt32LE(off + 12));
    if (cmd === LC_VERSION_MIN_MACOSX) minMacos = decodeVersion(buf.readUInt32LE(off + 8));
    off += size;
  }
  return { cpuType, minMacos };
}
