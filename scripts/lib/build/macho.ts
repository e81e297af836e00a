// Enough Mach-O reading to check a darwin binary anywhere, from its bytes: its
// CPU type, the platform and minimum macOS it was linked for (LC_BUILD_VERSION),
// the libraries it loads, the symbols it imports (the symbol table's undefined
// externals, which is where both dyld info and chained fixups get their names),
// its sections, and its code signature, whose CodeDirectory page hashes are
// recomputed from the file (Apple's code-signing format, as in xnu's
// osfmk/kern/cs_blobs.h: a SuperBlob of big-endian blobs; the CodeDirectory
// hashes each page of the file up to codeLimit; macOS kills an arm64 process
// whose pages do not match).
import { createHash } from 'node:crypto';

export interface MachOSection {
  segment: string;
  name: string;
  /** file offset and size of the section's bytes */
  offset: number;
  size: number;
  addr: bigint;
}

export interface CodeSignature {
  /** LC_CODE_SIGNATURE: where the SuperBlob lies in the file */
  dataOff: number;
  dataSize: number;
  /** problems with the blob itself (magic, bounds, no CodeDirectory); empty when it could be read */
  problems: string[];
  codeDirectory: {
    version: number;
    flags: number;
    identifier: string;
    hashType: number;
    hashSize: number;
    pageSize: number;
    codeLimit: number;
    nCodeSlots: number;
    /** the pages whose hash does not match the file's bytes (index, recorded, actual) */
    badPages: Array<{ page: number; recorded: string; actual: string }>;
  } | null;
}

export interface MachOInfo {
  cpuType: number;
  /** LC_BUILD_VERSION platform (1 = macOS), or null when there is none */
  platform: number | null;
  /** e.g. "11.0", from LC_BUILD_VERSION or LC_VERSION_MIN_MACOSX */
  minMacos: string | null;
  /** LC_LOAD_DYLIB, LC_LOAD_WEAK_DYLIB, LC_REEXPORT_DYLIB, LC_LAZY_LOAD_DYLIB names */
  dylibs: string[];
  /** undefined external symbols, as the symbol table names them (with the leading underscore) */
  imports: string[];
  sections: MachOSection[];
  codeSignature: CodeSignature | null;
}

const MH_MAGIC_64 = 0xfeedfacf;
const FAT_MAGIC = 0xcafebabe;
const LC_REQ_DYLD = 0x80000000;
const LC_SEGMENT_64 = 0x19;
const LC_SYMTAB = 0x2;
const LC_LOAD_DYLIB = 0xc;
const LC_LOAD_WEAK_DYLIB = 0x18 | LC_REQ_DYLD;
const LC_REEXPORT_DYLIB = 0x1f | LC_REQ_DYLD;
const LC_LAZY_LOAD_DYLIB = 0x20;
const LC_CODE_SIGNATURE = 0x1d;
const LC_VERSION_MIN_MACOSX = 0x24;
const LC_BUILD_VERSION = 0x32;
export const PLATFORM_MACOS = 1;
const DYLIB_COMMANDS = new Set([LC_LOAD_DYLIB, LC_LOAD_WEAK_DYLIB, LC_REEXPORT_DYLIB, LC_LAZY_LOAD_DYLIB]);

// code signing (big-endian)
const CSMAGIC_EMBEDDED_SIGNATURE = 0xfade0cc0;
const CSMAGIC_CODEDIRECTORY = 0xfade0c02;
const CSSLOT_CODEDIRECTORY = 0;
/** CodeDirectory hashType -> node's digest name */
const CS_HASH = new Map<number, { name: string; size: number }>([
  [1, { name: 'sha1', size: 20 }],
  [2, { name: 'sha256', size: 32 }],
  [3, { name: 'sha256', size: 20 }], // sha256 truncated to 20 bytes
  [4, { name: 'sha384', size: 48 }],
]);

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

const cString = (buf: Buffer, start: number, end: number): string => {
  const nul = buf.indexOf(0, start);
  return buf.toString('latin1', start, nul < 0 || nul > end ? end : nul);
};

export function readMachO(buf: Buffer): MachOInfo {
  if (buf.length >= 4 && buf.readUInt32BE(0) === FAT_MAGIC)
    throw new Error('a universal (fat) Mach-O; each package ships one architecture');
  if (buf.length < 32 || buf.readUInt32LE(0) !== MH_MAGIC_64) throw new Error('not a 64-bit Mach-O file (bad magic)');
  const cpuType = buf.readUInt32LE(4);
  const ncmds = buf.readUInt32LE(16);
  let off = 32;
  const info: MachOInfo = {
    cpuType,
    platform: null,
    minMacos: null,
    dylibs: [],
    imports: [],
    sections: [],
    codeSignature: null,
  };
  for (let i = 0; i < ncmds; i++) {
    if (off + 8 > buf.length) throw new Error('truncated Mach-O load commands');
    const cmd = buf.readUInt32LE(off);
    const size = buf.readUInt32LE(off + 4);
    if (size < 8 || off + size > buf.length) throw new Error(`corrupt Mach-O load command ${i} (size ${size})`);
    if (cmd === LC_BUILD_VERSION) {
      info.platform = buf.readUInt32LE(off + 8);
      if (info.platform === PLATFORM_MACOS) info.minMacos = decodeVersion(buf.readUInt32LE(off + 12));
    }
    if (cmd === LC_VERSION_MIN_MACOSX) info.minMacos = decodeVersion(buf.readUInt32LE(off + 8));
    if (DYLIB_COMMANDS.has(cmd)) info.dylibs.push(cString(buf, off + buf.readUInt32LE(off + 8), off + size));
    if (cmd === LC_SEGMENT_64) {
      const nsects = buf.readUInt32LE(off + 64);
      for (let s = 0; s < nsects; s++) {
        const h = off + 72 + s * 80;
        if (h + 80 > off + size) throw new Error(`corrupt Mach-O segment in load command ${i}`);
        info.sections.push({
          name: cString(buf, h, h + 16),
          segment: cString(buf, h + 16, h + 32),
          addr: buf.readBigUInt64LE(h + 32),
          size: Number(buf.readBigUInt64LE(h + 40)),
          offset: buf.readUInt32LE(h + 48),
        });
      }
    }
    if (cmd === LC_SYMTAB) info.imports = readImports(buf, off);
    if (cmd === LC_CODE_SIGNATURE) info.codeSignature = readCodeSignature(buf, off);
    off += size;
  }
  return info;
}

/** The undefined external symbols of LC_SYMTAB (nlist_64: strx, type, sect, desc, value). */
function readImports(buf: Buffer, lc: number): string[] {
  const symoff = buf.readUInt32LE(lc + 8);
  const nsyms = buf.readUInt32LE(lc + 12);
  const stroff = buf.readUInt32LE(lc + 16);
  const strsize = buf.readUInt32LE(lc + 20);
  if (symoff + nsyms * 16 > buf.length || stroff + strsize > buf.length)
    throw new Error('Mach-O symbol table lies outside the file');
  const N_STAB = 0xe0;
  const N_TYPE = 0x0e;
  const N_EXT = 0x01;
  const out: string[] = [];
  for (let i = 0; i < nsyms; i++) {
    const e = symoff + i * 16;
    const type = buf[e + 4];
    if (type & N_STAB || (type & N_TYPE) !== 0 || !(type & N_EXT)) continue;
    out.push(cString(buf, stroff + buf.readUInt32LE(e), stroff + strsize));
  }
  return out.sort();
}

function readCodeSignature(buf: Buffer, lc: number): CodeSignature {
  const dataOff = buf.readUInt32LE(lc + 8);
  const dataSize = buf.readUInt32LE(lc + 12);
  const sig: CodeSignature = { dataOff, dataSize, problems: [], codeDirectory: null };
  if (dataOff + dataSize > buf.length || dataSize < 12) {
    sig.problems.push(`the signature (offset ${dataOff}, ${dataSize} bytes) lies outside the file`);
    return sig;
  }
  const blob = buf.subarray(dataOff, dataOff + dataSize);
  if (blob.readUInt32BE(0) !== CSMAGIC_EMBEDDED_SIGNATURE) {
    sig.problems.push(`SuperBlob magic 0x${blob.readUInt32BE(0).toString(16)}, not 0xfade0cc0`);
    return sig;
  }
  const count = blob.readUInt32BE(8);
  let cdOff: number | null = null;
  for (let i = 0; i < count && 12 + i * 8 + 8 <= blob.length; i++) {
    if (blob.readUInt32BE(12 + i * 8) === CSSLOT_CODEDIRECTORY) cdOff = blob.readUInt32BE(12 + i * 8 + 4);
  }
  if (cdOff === null || cdOff + 44 > blob.length) {
    sig.problems.push('no CodeDirectory in the signature');
    return sig;
  }
  const cd = blob.subarray(cdOff);
  if (cd.readUInt32BE(0) !== CSMAGIC_CODEDIRECTORY) {
    sig.problems.push(`CodeDirectory magic 0x${cd.readUInt32BE(0).toString(16)}, not 0xfade0c02`);
    return sig;
  }
  const version = cd.readUInt32BE(8);
  const flags = cd.readUInt32BE(12);
  const hashOffset = cd.readUInt32BE(16);
  const identOffset = cd.readUInt32BE(20);
  const nCodeSlots = cd.readUInt32BE(28);
  const codeLimit = cd.readUInt32BE(32);
  const hashSize = cd[36];
  const hashType = cd[37];
  const pageSize = cd[39] ? 2 ** cd[39] : 0;
  const hash = CS_HASH.get(hashType);
  const identifier = cString(cd, identOffset, cd.length);
  const badPages: Array<{ page: number; recorded: string; actual: string }> = [];
  sig.codeDirectory = { version, flags, identifier, hashType, hashSize, pageSize, codeLimit, nCodeSlots, badPages };
  if (!hash || hash.size !== hashSize) {
    sig.problems.push(`CodeDirectory hash type ${hashType} (size ${hashSize}) is not one macOS knows`);
    return sig;
  }
  if (!pageSize || codeLimit > dataOff || Math.ceil(codeLimit / pageSize) !== nCodeSlots) {
    sig.problems.push(
      `CodeDirectory covers ${nCodeSlots} pages of ${pageSize} bytes up to ${codeLimit}, which does not fit the file's ${dataOff} bytes before the signature`,
    );
    return sig;
  }
  if (hashOffset + nCodeSlots * hashSize > cd.length) {
    sig.problems.push('the CodeDirectory hash slots lie outside the signature');
    return sig;
  }
  for (let p = 0; p < nCodeSlots; p++) {
    const page = buf.subarray(p * pageSize, Math.min((p + 1) * pageSize, codeLimit));
    const actual = createHash(hash.name).update(page).digest().subarray(0, hashSize).toString('hex');
    const recorded = cd.toString('hex', hashOffset + p * hashSize, hashOffset + (p + 1) * hashSize);
    if (actual !== recorded) badPages.push({ page: p, recorded, actual });
  }
  return sig;
}
